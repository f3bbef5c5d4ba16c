package wasix

import (
	"context"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// sockAcceptV2 is wasix_32v1.sock_accept and sock_accept_v2(fd, flags: fdflags,
// ret_fd: *fd, ret_addr: *addr_port) -> errno: accept with the peer address.
// The new fd is nonblocking when flags say so or the listener is.
func sockAcceptV2(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	flags := sys.Fdflags(stack[1])
	if flags&^sys.FdflagNonblock != 0 {
		return sys.EINVAL
	}
	mem := m.Memory()
	fdPtr, addrPtr := uint32(stack[2]), uint32(stack[3])
	addr, ok := mem.Read(addrPtr, addrPortSize)
	if !ok || !guestmem.Writable(mem, fdPtr, 4) {
		return sys.EFAULT
	}
	e, errno := h.sys.Table.Get(uint32(stack[0]))
	if errno != sys.ESUCCESS {
		return errno
	}
	if !e.Can(sys.RightSockAccept) {
		return sys.ENOTCAPABLE
	}
	l, ok := e.File.(*sys.HostFile)
	if !ok {
		return sys.ENOTSOCK
	}
	conn, errno := l.AcceptTimeout(ctx, e.Nonblock() || flags&sys.FdflagNonblock != 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	if e.Nonblock() {
		flags |= sys.FdflagNonblock
	}
	sa, _ := unix.Getpeername(conn.Fd())
	fd, errno := h.sys.Table.Insert(&sys.Entry{File: conn, Flags: flags, RightsBase: sys.RightsSocket &^ sys.RightSockAccept}, 0)
	if errno != sys.ESUCCESS {
		conn.Close()
		return errno
	}
	encodeAddrPort(addr, sa)
	return guestmem.PutU32(mem, fdPtr, fd)
}
