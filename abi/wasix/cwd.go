package wasix

import (
	"context"
	"path"
	"strings"

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
// current directory; the target must be a directory reachable through a
// preopen, or ENOENT/ENOTDIR.
func chdir(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	p, errno := guestmem.String(m.Memory(), uint32(stack[0]), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	if p == "" {
		return sys.ENOENT
	}
	h.proc.mu.Lock()
	defer h.proc.mu.Unlock()
	target := p
	if !strings.HasPrefix(p, "/") {
		target = path.Join(h.proc.cwd, p)
	}
	target = path.Clean(target)
	st, errno := h.statGuestPath(target)
	if errno != sys.ESUCCESS {
		return errno
	}
	if st.Filetype != sys.FiletypeDirectory {
		return sys.ENOTDIR
	}
	h.proc.cwd = target
	return sys.ESUCCESS
}

// statGuestPath stats an absolute guest path through the preopen whose
// guest path is its longest prefix. "/" itself exists even without a preopen.
func (h *host) statGuestPath(p string) (sys.Filestat, sys.Errno) {
	var best *sys.HostFile
	bestLen := -1
	rel := ""
	for fd := 0; fd < h.sys.Table.Len(); fd++ {
		e, errno := h.sys.Table.Get(uint32(fd))
		if errno != sys.ESUCCESS || e.Preopen == "" {
			continue
		}
		pre := path.Clean("/" + strings.TrimPrefix(e.Preopen, "./"))
		if e.Preopen == "." {
			pre = "/"
		}
		var r string
		switch {
		case p == pre:
			r = "."
		case pre == "/":
			r = strings.TrimPrefix(p, "/")
		case strings.HasPrefix(p, pre+"/"):
			r = strings.TrimPrefix(p, pre+"/")
		default:
			continue
		}
		if hf, ok := e.File.(*sys.HostFile); ok && len(pre) > bestLen {
			best, bestLen, rel = hf, len(pre), r
		}
	}
	if best == nil {
		if p == "/" {
			return sys.Filestat{Filetype: sys.FiletypeDirectory}, sys.ESUCCESS
		}
		return sys.Filestat{}, sys.ENOENT
	}
	return best.StatAt(rel, true)
}
