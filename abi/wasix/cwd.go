package wasix

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// getcwd is getcwd(buf: *u8, buf_len: *u32) -> errno. *buf_len holds the
// capacity on entry and the length of the cwd (no NUL) on return, always;
// a short buffer is ERANGE (what wasix-libc checks for), and the rest of the
// buffer is zeroed, so the result is NUL-terminated when there is room.
func getcwd(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	bufPtr, lenPtr := uint32(stack[0]), uint32(stack[1])
	capacity, ok := mem.ReadUint32Le(lenPtr)
	if !ok {
		return sys.EFAULT
	}
	h.proc.mu.Lock()
	cwd := h.proc.cwd
	h.proc.mu.Unlock()
	guestmem.PutU32(mem, lenPtr, uint32(len(cwd)))
	if capacity < uint32(len(cwd)) {
		return sys.ERANGE
	}
	if bufPtr == 0 {
		return sys.EINVAL
	}
	b, ok := mem.Read(bufPtr, capacity)
	if !ok {
		return sys.EFAULT
	}
	clear(b[copy(b, cwd):])
	return sys.ESUCCESS
}

// chdir is chdir(path: string) -> errno. A relative path is taken from the
// current directory; the target must be a directory of the guest's tree
// (docs/filesystem.md), and the cwd becomes its path with symlinks
// resolved, as getcwd(3) reports it on Linux.
func chdir(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	p, errno := guestmem.String(m.Memory(), uint32(stack[0]), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	h.proc.mu.Lock()
	defer h.proc.mu.Unlock()
	target, errno := h.sys.FS.Chdir(h.proc.cwd, p)
	if errno != sys.ESUCCESS {
		return errno
	}
	h.proc.cwd = target
	return sys.ESUCCESS
}
