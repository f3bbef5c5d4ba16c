package sys

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// sockState is what a socket HostFile remembers beyond the host fd.
type sockState struct {
	mu sync.Mutex
	// connecting: a nonblocking connect returned EINPROGRESS and its outcome
	// has not been collected yet (sock_status, LAST_ERROR, a later connect).
	connecting bool
	// lastErr is the outcome of a failed nonblocking connect, kept until
	// read through LAST_ERROR; failed stays set (sock_status FAILED).
	lastErr Errno
	failed  bool
	// fakeLocal is the address of wasix-libc's port-order probe when the
	// network policy refused the real bind (see BindProbe).
	fakeLocal unix.Sockaddr
	// Timeouts in ns (0: none) of the WASIX time options.
	recvTimeout, sendTimeout, connectTimeout, acceptTimeout int64
}

// OpenSocket creates a host socket (family AF_INET or AF_INET6, typ
// SOCK_STREAM or SOCK_DGRAM, proto 0 or the IANA number), nonblocking on the
// host and watched by reg.
func OpenSocket(reg *polling.Registry, family, typ, proto int) (*HostFile, Errno) {
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, ErrnoOf(err)
	}
	f, err := NewHostFile(reg, fd, true)
	if err != nil {
		unix.Close(fd)
		return nil, ErrnoOf(err)
	}
	f.Resync()
	return f, ESUCCESS
}

// SocketPair creates a connected pair of Unix-domain sockets of type typ.
func SocketPair(reg *polling.Registry, typ int) (*HostFile, *HostFile, Errno) {
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, ErrnoOf(err)
	}
	a, err := NewHostFile(reg, fds[0], true)
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, ErrnoOf(err)
	}
	b, err := NewHostFile(reg, fds[1], true)
	if err != nil {
		a.Close()
		unix.Close(fds[1])
		return nil, nil, ErrnoOf(err)
	}
	return a, b, ESUCCESS
}

// IsSocket reports whether f is a socket.
func (f *HostFile) IsSocket() bool { return f.isSocket() }

// IsPipe reports whether f is a pipe (a host FIFO).
func (f *HostFile) IsPipe() bool { return f.kind == kindStream && !f.isSocket() }

// Resync replaces the cached readiness bits with the socket's current state.
// Edge-triggered epoll reports nothing when a socket changes state by our own
// call (a fresh socket is HUP and writable until it connects or listens), so
// the bits are refreshed after socket, bind, listen and connect. An event that
// races with the refresh is kept: the clear is skipped when one arrived, and
// later events are posted as usual.
func (f *HostFile) Resync() {
	if f.rec.IsAlways() {
		return
	}
	_, gen := f.rec.Bits()
	f.rec.Clear(polling.In|polling.Out|polling.Hup|polling.Err|polling.RdHup|polling.Pri, gen)
	pfd := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLIN | unix.POLLOUT | unix.POLLRDHUP | unix.POLLPRI}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err == nil && n > 0 {
			var b uint32
			re := pfd[0].Revents
			for _, m := range [][2]uint32{{unix.POLLIN, polling.In}, {unix.POLLOUT, polling.Out},
				{unix.POLLRDHUP, polling.RdHup}, {unix.POLLPRI, polling.Pri}, {unix.POLLHUP, polling.Hup},
				{unix.POLLERR, polling.Err}} {
				if uint32(uint16(re))&m[0] != 0 {
					b |= m[1]
				}
			}
			f.rec.Post(b)
		}
		return
	}
}

// Bind binds the socket to sa.
func (f *HostFile) Bind(sa unix.Sockaddr) Errno {
	if !f.isSocket() {
		return ENOTSOCK
	}
	err := unix.Bind(f.fd, sa)
	f.Resync()
	return ErrnoOf(err)
}

// BindProbe records sa as the socket's local address without binding on the
// host: what a guest gets for wasix-libc's port-order probe (bind to port
// 10275 of the unspecified address, then sock_addr_local) when the network
// policy refuses the bind. Anything else done with the socket that needs the
// network is refused as before.
func (f *HostFile) BindProbe(sa unix.Sockaddr) {
	f.sock.mu.Lock()
	f.sock.fakeLocal = sa
	f.sock.mu.Unlock()
}

// Probe reports whether the socket only pretends to be bound (BindProbe).
func (f *HostFile) Probe() bool {
	f.sock.mu.Lock()
	defer f.sock.mu.Unlock()
	return f.sock.fakeLocal != nil
}

// ListenBacklog makes the socket listen.
func (f *HostFile) ListenBacklog(backlog int) Errno {
	if !f.isSocket() {
		return ENOTSOCK
	}
	if backlog <= 0 || backlog > unix.SOMAXCONN {
		backlog = unix.SOMAXCONN
	}
	err := unix.Listen(f.fd, backlog)
	f.Resync()
	return ErrnoOf(err)
}

// Connect connects the socket to sa. A nonblocking guest gets EINPROGRESS
// for a TCP connect that does not complete at once; the outcome is then
// collected by Status or LastError (or a repeated Connect: EALREADY while
// pending, EISCONN once done, the error if it failed). A blocking guest
// waits for the outcome, interruptibly, up to the CONNECT_TIMEOUT option.
func (f *HostFile) Connect(ctx context.Context, sa unix.Sockaddr, nonblock bool) Errno {
	if !f.isSocket() {
		return ENOTSOCK
	}
	f.sock.mu.Lock()
	if f.sock.connecting {
		f.sock.mu.Unlock()
		switch st := f.Status(); st {
		case SockStatusOpening:
			if nonblock {
				return EALREADY
			}
			return f.waitConnect(ctx)
		case SockStatusFailed:
			return f.LastError(true)
		}
		return EISCONN
	}
	f.sock.mu.Unlock()
	err := unix.Connect(f.fd, sa)
	for err == unix.EINTR {
		// The connect goes on in the kernel; collect its outcome below.
		err = unix.EINPROGRESS
	}
	if err != unix.EINPROGRESS {
		f.Resync()
		return ErrnoOf(err)
	}
	f.sock.mu.Lock()
	f.sock.connecting = true
	f.sock.mu.Unlock()
	f.Resync()
	if nonblock {
		return EINPROGRESS
	}
	return f.waitConnect(ctx)
}

// waitConnect waits for a pending connect to finish and returns its outcome.
func (f *HostFile) waitConnect(ctx context.Context) Errno {
	f.sock.mu.Lock()
	timeout := f.sock.connectTimeout
	f.sock.mu.Unlock()
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, time.Duration(timeout))
		defer cancel()
	}
	for {
		switch f.Status() {
		case SockStatusOpened:
			return ESUCCESS
		case SockStatusFailed:
			return f.LastError(true)
		}
		if err := polling.WaitFor(wctx, f.reg, f.rec, polling.Out); err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				return ETIMEDOUT
			}
			return EINTR
		}
		if f.Status() == SockStatusOpening {
			// A stale bit: clear it and wait for the real edge.
			_, gen := f.rec.Bits()
			if f.Status() == SockStatusOpening {
				f.rec.Clear(polling.Out|polling.Hup|polling.Err, gen)
			}
		}
	}
}

// Socket status values (WASIX sock_status).
const (
	SockStatusOpening = 0
	SockStatusOpened  = 1
	SockStatusClosed  = 2
	SockStatusFailed  = 3
)

// Status reports the socket's state, collecting the outcome of a pending
// nonblocking connect.
func (f *HostFile) Status() uint8 {
	f.sock.mu.Lock()
	defer f.sock.mu.Unlock()
	if f.sock.connecting {
		pfd := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, 0)
		if err != nil || n == 0 {
			return SockStatusOpening
		}
		f.sock.connecting = false
		if soErr, err := unix.GetsockoptInt(f.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soErr != 0 {
			f.sock.failed = true
			if err == nil {
				err = unix.Errno(soErr)
			}
			f.sock.lastErr = ErrnoOf(err)
		}
	}
	if f.sock.failed {
		return SockStatusFailed
	}
	return SockStatusOpened
}

// LastError returns the socket's pending error (SO_ERROR, or the outcome of
// a failed nonblocking connect), clearing it when clear is set.
func (f *HostFile) LastError(clear bool) Errno {
	f.Status()
	f.sock.mu.Lock()
	defer f.sock.mu.Unlock()
	if e := f.sock.lastErr; e != ESUCCESS {
		if clear {
			f.sock.lastErr = ESUCCESS
		}
		return e
	}
	if !clear {
		return ESUCCESS
	}
	soErr, err := unix.GetsockoptInt(f.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return ErrnoOf(err)
	}
	if soErr != 0 {
		return ErrnoOf(unix.Errno(soErr))
	}
	return ESUCCESS
}

// SetTimeout sets one of the WASIX timeouts (ns, 0 = none): which is
// "recv", "send", "connect" or "accept".
func (f *HostFile) SetTimeout(which string, ns int64) {
	f.sock.mu.Lock()
	defer f.sock.mu.Unlock()
	switch which {
	case "recv":
		f.sock.recvTimeout = ns
	case "send":
		f.sock.sendTimeout = ns
	case "connect":
		f.sock.connectTimeout = ns
	case "accept":
		f.sock.acceptTimeout = ns
	}
}

// Timeout returns a timeout set by SetTimeout.
func (f *HostFile) Timeout(which string) int64 {
	f.sock.mu.Lock()
	defer f.sock.mu.Unlock()
	switch which {
	case "recv":
		return f.sock.recvTimeout
	case "send":
		return f.sock.sendTimeout
	case "connect":
		return f.sock.connectTimeout
	case "accept":
		return f.sock.acceptTimeout
	}
	return 0
}

// WithTimeout runs op with ctx limited by the named timeout; when the
// timeout (not ctx) ends a wait, the result is EAGAIN, as SO_RCVTIMEO gives.
func (f *HostFile) WithTimeout(ctx context.Context, which string, op func(context.Context) Errno) Errno {
	ns := f.Timeout(which)
	if ns <= 0 {
		return op(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Duration(ns))
	defer cancel()
	e := op(tctx)
	if e == EINTR && ctx.Err() == nil && tctx.Err() != nil {
		return EAGAIN
	}
	return e
}

// LocalSockaddr returns the socket's bound address (the probe's address for
// a socket bound by BindProbe).
func (f *HostFile) LocalSockaddr() (unix.Sockaddr, Errno) {
	f.sock.mu.Lock()
	fake := f.sock.fakeLocal
	f.sock.mu.Unlock()
	if fake != nil {
		return fake, ESUCCESS
	}
	sa, err := unix.Getsockname(f.fd)
	return sa, ErrnoOf(err)
}

// PeerSockaddr returns the connected peer's address.
func (f *HostFile) PeerSockaddr() (unix.Sockaddr, Errno) {
	sa, err := unix.Getpeername(f.fd)
	return sa, ErrnoOf(err)
}

// RecvFrom reads one message (or stream data) and the sender's address.
// flags are host MSG_* flags (MSG_PEEK).
func (f *HostFile) RecvFrom(ctx context.Context, iovs [][]byte, flags int, nonblock bool) (int, bool, unix.Sockaddr, Errno) {
	if !f.isSocket() {
		return 0, false, nil, ENOTSOCK
	}
	var (
		from  unix.Sockaddr
		trunc bool
	)
	n, e := f.io(ctx, polling.In, nonblock, func() (int, error) {
		n, _, rf, sa, err := unix.RecvmsgBuffers(f.fd, iovs, nil, flags)
		from = sa
		trunc = rf&unix.MSG_TRUNC != 0
		return n, err
	})
	return n, trunc, from, e
}

// SendTo sends to sa (nil: the connected peer); a closed peer gives EPIPE,
// never SIGPIPE.
func (f *HostFile) SendTo(ctx context.Context, iovs [][]byte, sa unix.Sockaddr, nonblock bool) (int, Errno) {
	if !f.isSocket() {
		return 0, ENOTSOCK
	}
	return f.io(ctx, polling.Out, nonblock, func() (int, error) {
		return unix.SendmsgBuffers(f.fd, iovs, nil, sa, unix.MSG_NOSIGNAL)
	})
}

// SendFile sends up to count bytes of in, from offset off, to the socket
// with sendfile(2); in's position does not move. It returns the bytes sent.
func (f *HostFile) SendFile(ctx context.Context, in *HostFile, off int64, count uint64, nonblock bool) (uint64, Errno) {
	if !f.isSocket() {
		return 0, ENOTSOCK
	}
	var sent uint64
	for sent < count {
		chunk := count - sent
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		n, e := f.io(ctx, polling.Out, nonblock && sent == 0, func() (int, error) {
			o := off + int64(sent)
			return unix.Sendfile(f.fd, in.fd, &o, int(chunk))
		})
		if e != ESUCCESS {
			if sent > 0 && (e == EAGAIN || e == EINTR) {
				return sent, ESUCCESS
			}
			if sent > 0 {
				return sent, ESUCCESS
			}
			return 0, e
		}
		if n == 0 {
			break // end of the file
		}
		sent += uint64(n)
		if nonblock {
			break
		}
	}
	return sent, ESUCCESS
}

// AcceptTimeout is Accept limited by the ACCEPT_TIMEOUT option.
func (f *HostFile) AcceptTimeout(ctx context.Context, nonblock bool) (*HostFile, Errno) {
	var conn *HostFile
	e := f.WithTimeout(ctx, "accept", func(c context.Context) Errno {
		var e Errno
		conn, e = f.Accept(c, nonblock)
		return e
	})
	return conn, e
}

// Domain returns the socket's address family (unix.AF_*).
func (f *HostFile) Domain() int {
	d, err := unix.GetsockoptInt(f.fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return -1
	}
	return d
}

// SendMsg is SendTo with ancillary data (oob, in the host's cmsg format).
func (f *HostFile) SendMsg(ctx context.Context, iovs [][]byte, oob []byte, sa unix.Sockaddr, nonblock bool) (int, Errno) {
	if !f.isSocket() {
		return 0, ENOTSOCK
	}
	return f.io(ctx, polling.Out, nonblock, func() (int, error) {
		return unix.SendmsgBuffers(f.fd, iovs, oob, sa, unix.MSG_NOSIGNAL)
	})
}

// RecvMsg reads one message (or stream data) with its ancillary data into
// oob; it returns the bytes read, the ancillary bytes, the host MSG_* flags
// of the result and the sender. flags are host MSG_* flags (MSG_PEEK).
func (f *HostFile) RecvMsg(ctx context.Context, iovs [][]byte, oob []byte, flags int, nonblock bool) (n, oobn, rflags int, from unix.Sockaddr, e Errno) {
	if !f.isSocket() {
		return 0, 0, 0, nil, ENOTSOCK
	}
	var gen uint64
	n, e = f.io(ctx, polling.In, nonblock, func() (int, error) {
		_, gen = f.rec.Bits()
		m, on, rf, sa, err := unix.RecvmsgBuffers(f.fd, iovs, oob, flags|unix.MSG_CMSG_CLOEXEC)
		oobn, rflags, from = on, rf, sa
		return m, err
	})
	if e == ESUCCESS && n > 0 && flags&unix.MSG_PEEK == 0 {
		f.afterRead(n, iovs, gen)
	}
	return n, oobn, rflags, from, e
}
