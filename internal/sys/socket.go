package sys

import (
	"context"
	"net"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// Listen creates a listening TCP socket on addr ("host:port"), for the
// preopened sockets of --listen. It is owned, nonblocking on the host and
// watched by reg.
func Listen(reg *polling.Registry, addr string) (*HostFile, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		a := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(a.Addr[:], ip4)
		}
		sa = a
	} else {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: ta.Port}
		copy(a.Addr[:], ta.IP.To16())
		sa = a
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: ta, Err: err}
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f, err := NewHostFile(reg, fd, true)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return f, nil
}

// LocalAddr returns the bound address of a socket as "host:port".
func (f *HostFile) LocalAddr() string {
	sa, err := unix.Getsockname(f.fd)
	if err != nil {
		return ""
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), itoa(a.Port))
	}
	return ""
}

func (f *HostFile) isSocket() bool {
	return f.typ == FiletypeSocketStream || f.typ == FiletypeSocketDgram
}

// Accept takes one connection from a listening socket.
func (f *HostFile) Accept(ctx context.Context, nonblock bool) (*HostFile, Errno) {
	if !f.isSocket() {
		return nil, ENOTSOCK
	}
	var nfd int
	_, e := f.io(ctx, polling.In, nonblock, func() (int, error) {
		fd, _, err := unix.Accept4(f.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		nfd = fd
		return 0, err
	})
	if e != ESUCCESS {
		if e == EINVAL {
			// Not listening.
			return nil, EINVAL
		}
		return nil, e
	}
	nf, err := NewHostFile(f.reg, nfd, true)
	if err != nil {
		unix.Close(nfd)
		return nil, ErrnoOf(err)
	}
	return nf, ESUCCESS
}

// Recv flags (preview1 riflags / roflags).
const (
	RecvPeek          = 1
	RecvWaitall       = 2
	RecvDataTruncated = 1 // roflags
)

// Recv reads from a socket. waitall keeps reading until the buffers are full,
// the peer closes or an error occurs.
func (f *HostFile) Recv(ctx context.Context, iovs [][]byte, riflags uint16, nonblock bool) (int, uint16, Errno) {
	if !f.isSocket() {
		return 0, 0, ENOTSOCK
	}
	flags := 0
	if riflags&RecvPeek != 0 {
		flags |= unix.MSG_PEEK
	}
	var roflags uint16
	recv := func(bufs [][]byte) (int, Errno) {
		return f.io(ctx, polling.In, nonblock, func() (int, error) {
			n, rf, err := sockRecv(f.fd, bufs, flags, f.nonblockingOwned())
			if rf&unix.MSG_TRUNC != 0 {
				roflags |= RecvDataTruncated
			}
			return n, err
		})
	}
	n, e := recv(iovs)
	if e != ESUCCESS || riflags&RecvWaitall == 0 || riflags&RecvPeek != 0 || f.typ != FiletypeSocketStream {
		return n, roflags, e
	}
	total := 0
	for _, b := range iovs {
		total += len(b)
	}
	got := n
	for got < total && n > 0 {
		n, e = recv(advance(iovs, got))
		if e != ESUCCESS {
			if e == EAGAIN || got > 0 {
				return got, roflags, ESUCCESS
			}
			return got, roflags, e
		}
		got += n
	}
	return got, roflags, ESUCCESS
}

// advance returns iovs without their first n bytes.
func advance(iovs [][]byte, n int) [][]byte {
	for len(iovs) > 0 && n >= len(iovs[0]) {
		n -= len(iovs[0])
		iovs = iovs[1:]
	}
	if len(iovs) == 0 {
		return nil
	}
	out := append([][]byte{iovs[0][n:]}, iovs[1:]...)
	return out
}

// Send writes to a socket; a closed peer gives EPIPE, never SIGPIPE.
func (f *HostFile) Send(ctx context.Context, iovs [][]byte, nonblock bool) (int, Errno) {
	if !f.isSocket() {
		return 0, ENOTSOCK
	}
	return f.io(ctx, polling.Out, nonblock, func() (int, error) {
		return sockSend(f.fd, iovs, f.nonblockingOwned())
	})
}

// Shutdown shuts down the read (1), write (2) or both (3) halves.
func (f *HostFile) Shutdown(sdflags uint8) Errno {
	if !f.isSocket() {
		return ENOTSOCK
	}
	var how int
	switch sdflags {
	case 1:
		how = unix.SHUT_RD
	case 2:
		how = unix.SHUT_WR
	case 3:
		how = unix.SHUT_RDWR
	default:
		return EINVAL
	}
	return ErrnoOf(unix.Shutdown(f.fd, how))
}
