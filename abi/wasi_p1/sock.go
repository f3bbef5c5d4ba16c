package wasi_p1

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// WASIX riflags and siflags beyond preview1's.
const (
	wasixRecvDataTruncated = 4
	wasixRecvDontwait      = 8
	wasixSendDontwait      = 1
)

// socket returns the host socket behind fd. A fd that is not a socket gets
// ENOTSOCK before its rights are looked at: stdio and files lack the socket
// rights, and shutdown(2) on them must still say ENOTSOCK (wasi-testsuite's
// sock_shutdown-not_sock).
func (h *host) socket(fd uint32, rights sys.Rights) (*sys.HostFile, *sys.Entry, sys.Errno) {
	e, errno := h.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return nil, nil, errno
	}
	f, ok := e.File.(*sys.HostFile)
	if !ok {
		return nil, nil, sys.ENOTSOCK
	}
	if t := f.Filetype(); t != sys.FiletypeSocketStream && t != sys.FiletypeSocketDgram {
		return nil, nil, sys.ENOTSOCK
	}
	if !e.Can(rights) {
		return nil, nil, lacking(e, rights)
	}
	return f, e, sys.ESUCCESS
}

// sockAccept is sock_accept(fd, flags: fdflags, ro_fd: *fd) -> errno.
// Only NONBLOCK is meaningful in flags.
func sockAccept(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	flags := sys.Fdflags(stack[1])
	if flags&^sys.FdflagNonblock != 0 {
		return sys.EINVAL
	}
	f, e, errno := h.socket(u32(stack[0]), sys.RightSockAccept)
	if errno != sys.ESUCCESS {
		return errno
	}
	resPtr := u32(stack[2])
	if !writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	conn, errno := f.AcceptTimeout(ctx, e.Nonblock())
	if errno != sys.ESUCCESS {
		return errno
	}
	fd, errno := h.sys.Table.Insert(&sys.Entry{
		File:       conn,
		Flags:      flags,
		RightsBase: sys.RightsSocket &^ sys.RightSockAccept,
	}, 0)
	if errno != sys.ESUCCESS {
		conn.Close()
		return errno
	}
	return putU32(m.Memory(), resPtr, fd)
}

// pipeOf returns fd's entry when a WASIX guest names a pipe: Wasmer lets
// sock_send and sock_recv act as write and read there, and programs that
// route wake-ups through pipes rely on it.
func (h *host) pipeOf(fd uint32) (*sys.Entry, bool) {
	if !h.sys.WASIX {
		return nil, false
	}
	e, errno := h.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return nil, false
	}
	f, ok := e.File.(*sys.HostFile)
	return e, ok && f.IsPipe()
}

// pipeIO is sock_send/sock_recv on a pipe: fd_write/fd_read, honouring
// DONTWAIT. PEEK cannot be done on a pipe without consuming: ENOTSUP.
func (h *host) pipeIO(ctx context.Context, m api.Module, e *sys.Entry, iovPtr, iovLen, lenPtr uint32, write, dontwait bool) sys.Errno {
	right := sys.RightFdRead
	if write {
		right = sys.RightFdWrite
	}
	if !e.Can(right) {
		return lacking(e, right)
	}
	mem := m.Memory()
	iovs, errno := iovecs(mem, iovPtr, iovLen)
	if errno != sys.ESUCCESS {
		return errno
	}
	if !writable(mem, lenPtr, 4) {
		return sys.EFAULT
	}
	f := e.File.(*sys.HostFile)
	var n int
	if write {
		n, errno = f.Writev(ctx, iovs, e.Nonblock() || dontwait)
	} else {
		n, errno = f.Readv(ctx, iovs, e.Nonblock() || dontwait)
	}
	if errno != sys.ESUCCESS {
		return errno
	}
	return putU32(mem, lenPtr, uint32(n))
}

// sockRecv is sock_recv(fd, ri_data: *iovec, ri_data_len, ri_flags: riflags,
// ro_datalen: *size, ro_flags: *roflags) -> errno.
func sockRecv(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	if e, ok := h.pipeOf(u32(stack[0])); ok {
		ri := uint16(stack[3])
		if ri&sys.RecvPeek != 0 {
			return sys.ENOTSUP
		}
		if ri&^(sys.RecvPeek|sys.RecvWaitall|wasixRecvDataTruncated|wasixRecvDontwait) != 0 {
			return sys.EINVAL
		}
		flagsPtr := u32(stack[5])
		if !writable(m.Memory(), flagsPtr, 2) {
			return sys.EFAULT
		}
		errno := h.pipeIO(ctx, m, e, u32(stack[1]), u32(stack[2]), u32(stack[4]), false, ri&wasixRecvDontwait != 0)
		if errno == sys.ESUCCESS {
			m.Memory().WriteUint16Le(flagsPtr, 0)
		}
		return errno
	}
	f, e, errno := h.socket(u32(stack[0]), sys.RightFdRead)
	if errno != sys.ESUCCESS {
		return errno
	}
	riflags := uint16(stack[3])
	nonblock := e.Nonblock()
	if h.sys.WASIX {
		// WASIX adds DATA_TRUNCATED (ignored on input) and DONTWAIT.
		nonblock = nonblock || riflags&wasixRecvDontwait != 0
		riflags &^= wasixRecvDontwait | wasixRecvDataTruncated
	}
	if riflags&^(sys.RecvPeek|sys.RecvWaitall) != 0 {
		return sys.EINVAL
	}
	mem := m.Memory()
	iovs, errno := iovecs(mem, u32(stack[1]), u32(stack[2]))
	if errno != sys.ESUCCESS {
		return errno
	}
	lenPtr, flagsPtr := u32(stack[4]), u32(stack[5])
	if !writable(mem, lenPtr, 4) || !writable(mem, flagsPtr, 2) {
		return sys.EFAULT
	}
	var (
		n       int
		roflags uint16
	)
	errno = f.WithTimeout(ctx, "recv", func(c context.Context) sys.Errno {
		var e sys.Errno
		n, roflags, e = f.Recv(c, iovs, riflags, nonblock)
		return e
	})
	if errno != sys.ESUCCESS {
		return errno
	}
	putU32(mem, lenPtr, uint32(n))
	mem.WriteUint16Le(flagsPtr, roflags)
	return sys.ESUCCESS
}

// sockSend is sock_send(fd, si_data: *ciovec, si_data_len, si_flags, so_datalen: *size) -> errno.
func sockSend(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	if e, ok := h.pipeOf(u32(stack[0])); ok {
		si := u32(stack[3])
		if si&^wasixSendDontwait != 0 {
			return sys.EINVAL
		}
		return h.pipeIO(ctx, m, e, u32(stack[1]), u32(stack[2]), u32(stack[4]), true, si != 0)
	}
	f, e, errno := h.socket(u32(stack[0]), sys.RightFdWrite)
	if errno != sys.ESUCCESS {
		return errno
	}
	siflags := u32(stack[3])
	nonblock := e.Nonblock()
	if h.sys.WASIX && siflags == wasixSendDontwait {
		nonblock, siflags = true, 0
	}
	if siflags != 0 {
		return sys.EINVAL
	}
	mem := m.Memory()
	iovs, errno := iovecs(mem, u32(stack[1]), u32(stack[2]))
	if errno != sys.ESUCCESS {
		return errno
	}
	lenPtr := u32(stack[4])
	if !writable(mem, lenPtr, 4) {
		return sys.EFAULT
	}
	var n int
	errno = f.WithTimeout(ctx, "send", func(c context.Context) sys.Errno {
		var e sys.Errno
		n, e = f.Send(c, iovs, nonblock)
		return e
	})
	if errno != sys.ESUCCESS {
		return errno
	}
	return putU32(mem, lenPtr, uint32(n))
}

// sockShutdown is sock_shutdown(fd, how: sdflags) -> errno.
func sockShutdown(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socket(u32(stack[0]), sys.RightSockShutdown)
	if errno != sys.ESUCCESS {
		return errno
	}
	return f.Shutdown(uint8(stack[1]))
}
