package wasix

import (
	"context"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/abi/wasi_p1"
	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// fdflagsext bits.
const fdflagCloexec = 1

// dup inserts a copy of fd's entry at the lowest free number >= min.
func (h *host) dup(fd, min uint32, cloexec bool) (uint32, sys.Errno) {
	e, errno := h.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return 0, errno
	}
	dup := *e
	dup.Preopen = ""
	dup.CloseOnExec = cloexec
	return h.sys.Table.Insert(&dup, min)
}

// fdDup is fd_dup(fd, ret_fd: *fd) -> errno: dup(2), the lowest free fd.
func fdDup(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	resPtr := uint32(stack[1])
	if !guestmem.Writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	nfd, errno := h.dup(uint32(stack[0]), 0, false)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(m.Memory(), resPtr, nfd)
}

// fdDup2 is fd_dup2(fd, min_result_fd, cloexec: bool, ret_fd: *fd) -> errno.
// Despite its name it is fcntl(F_DUPFD[_CLOEXEC]): the lowest free fd >= min.
func fdDup2(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	resPtr := uint32(stack[3])
	if !guestmem.Writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	nfd, errno := h.dup(uint32(stack[0]), uint32(stack[1]), uint32(stack[2]) != 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(m.Memory(), resPtr, nfd)
}

// fdFdflagsGet is fd_fdflags_get(fd, ret_flags: *fdflagsext) -> errno.
func fdFdflagsGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	e, errno := h.sys.Table.Get(uint32(stack[0]))
	if errno != sys.ESUCCESS {
		return errno
	}
	var flags uint16
	if e.CloseOnExec {
		flags |= fdflagCloexec
	}
	return guestmem.PutU16(m.Memory(), uint32(stack[1]), flags)
}

// fdFdflagsSet is fd_fdflags_set(fd, flags: fdflagsext) -> errno.
func fdFdflagsSet(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	flags := uint16(stack[1])
	if flags&^fdflagCloexec != 0 {
		return sys.EINVAL
	}
	return h.sys.Table.Update(uint32(stack[0]), func(e *sys.Entry) sys.Errno {
		e.CloseOnExec = flags&fdflagCloexec != 0
		return sys.ESUCCESS
	})
}

// pathOpen2 is path_open2(fd, dirflags, path, path_len, oflags, rights_base,
// rights_inheriting, fdflags, fdflagsext, ret_fd: *fd) -> errno: path_open
// with per-fd flags (CLOEXEC). wasix-libc's openat always uses it.
func pathOpen2(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	ext := uint16(stack[8])
	if ext&^fdflagCloexec != 0 {
		return sys.EINVAL
	}
	return wasi_p1.OpenPath(h.sys, m.Memory(), stack, ext&fdflagCloexec != 0, uint32(stack[9]))
}

// Rights of pipe ends and event fds.
const (
	rightsPipeRead  = sys.RightFdRead | sys.RightPollFdReadwrite | sys.RightFdFdstatSetFlags | sys.RightFdFilestatGet
	rightsPipeWrite = sys.RightFdWrite | sys.RightPollFdReadwrite | sys.RightFdFdstatSetFlags | sys.RightFdFilestatGet
	rightsEvent     = sys.RightFdRead | sys.RightFdWrite | sys.RightPollFdReadwrite | sys.RightFdFdstatSetFlags | sys.RightFdFilestatGet
)

// insertHost wraps host fd as a new guest fd with rights.
func (h *host) insertHost(fd int, rights sys.Rights, flags sys.Fdflags) (uint32, sys.Errno) {
	f, err := sys.NewHostFile(h.sys.Registry, fd, true)
	if err != nil {
		unix.Close(fd)
		return 0, sys.ErrnoOf(err)
	}
	gfd, errno := h.sys.Table.Insert(&sys.Entry{File: f, RightsBase: rights, Flags: flags}, 0)
	if errno != sys.ESUCCESS {
		f.Close()
	}
	return gfd, errno
}

// fdPipe is fd_pipe(ret_fd1: *fd, ret_fd2: *fd) -> errno: a host pipe, the
// first fd the read end and the second the write end. The kernel's buffer
// bounds it: a full pipe blocks a writer, or gives EAGAIN when nonblocking.
func fdPipe(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	rPtr, wPtr := uint32(stack[0]), uint32(stack[1])
	if !guestmem.Writable(mem, rPtr, 4) || !guestmem.Writable(mem, wPtr, 4) {
		return sys.EFAULT
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return sys.ErrnoOf(err)
	}
	rfd, errno := h.insertHost(p[0], rightsPipeRead, 0)
	if errno != sys.ESUCCESS {
		unix.Close(p[1])
		return errno
	}
	wfd, errno := h.insertHost(p[1], rightsPipeWrite, 0)
	if errno != sys.ESUCCESS {
		h.sys.Table.Close(rfd)
		return errno
	}
	guestmem.PutU32(mem, rPtr, rfd)
	return guestmem.PutU32(mem, wPtr, wfd)
}

// eventfdflags.
const eventSemaphore = 1

// fdEvent is fd_event(initial_val: u64, flags: eventfdflags, ret_fd: *fd) -> errno:
// a host eventfd, so the semantics are Linux's: reads and writes of 8 bytes,
// readable iff the counter is above zero, SEMAPHORE reads return 1.
// wasix-libc passes Linux's EFD_NONBLOCK (bit 2) in flags; it is honoured.
func fdEvent(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	initial, flags, resPtr := stack[0], uint16(stack[1]), uint32(stack[2])
	if !guestmem.Writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	if initial > 0xffffffff {
		// eventfd(2) takes an unsigned int; write the rest after creation.
		return sys.EINVAL
	}
	hostFlags := unix.EFD_CLOEXEC | unix.EFD_NONBLOCK
	if flags&eventSemaphore != 0 {
		hostFlags |= unix.EFD_SEMAPHORE
	}
	fd, err := unix.Eventfd(uint(initial), hostFlags)
	if err != nil {
		return sys.ErrnoOf(err)
	}
	var guestFlags sys.Fdflags
	if flags&uint16(sys.FdflagNonblock) != 0 {
		guestFlags = sys.FdflagNonblock
	}
	gfd, errno := h.insertHost(fd, rightsEvent, guestFlags)
	if errno != sys.ESUCCESS {
		return errno
	}
	if e, errno := h.sys.Table.Get(gfd); errno == sys.ESUCCESS {
		if hf, ok := e.File.(*sys.HostFile); ok {
			hf.MarkEventfd(flags&eventSemaphore != 0)
		}
	}
	return guestmem.PutU32(m.Memory(), resPtr, gfd)
}
