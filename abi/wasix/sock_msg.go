package wasix

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// WASIX control messages (sock_cmsg, as wasix-libc's sendmsg.c/recvmsg.c
// write and read them): a header of cmsg_len u32 @0 (header + payload),
// cmsg_level u16 @4, cmsg_type u16 @6, then the payload at 8; the next
// message starts at the next 4-byte boundary. SOCKET/RIGHTS is the only
// kind: its payload is guest fds (u32 each).
const (
	cmsgHeader      = 8
	cmsgLevelSocket = 0
	cmsgTypeRights  = 0
	// maxRightsFds is Linux's SCM_MAX_FD: at most this many fds per message.
	maxRightsFds = 253
)

func cmsgAlign(n uint32) uint32 { return (n + 3) &^ 3 }

// fdPassing keeps the guest objects that travel in SCM_RIGHTS messages
// between the send and the receive. The host socket pair carries, for each
// passed guest fd, the read end of a fresh host pipe (a token) in a real
// SCM_RIGHTS message, so the kernel keeps the rights with the right bytes
// of the stream or the right datagram; the receiver maps each token it gets
// back to the guest object and installs a new guest fd for it. The object
// is held (it stays open, as a fd in flight does on Linux) until then. A
// token the kernel dropped (the message was read without a control buffer,
// or its socket closed) leaves our write end without a reader: sweep
// notices it and lets the object go.
//
// The tokens are kept for the whole Go process (inFlight), not per guest
// process: a forked child shares its parent's socket pairs and may receive
// what the parent sent. Each token remembers the table that holds its
// object (forked tables share their reference counts).
type fdPassing struct {
	sys *sys.System
}

// inFlight maps a token pipe (device, inode) to what it stands for.
var inFlight = struct {
	mu sync.Mutex
	m  map[[2]uint64]*passedFd
}{m: map[[2]uint64]*passedFd{}}

// passedFd is one guest fd in flight: a copy of the sender's entry (the
// object, its flags and rights), the table holding it, and the write end
// of its token pipe.
type passedFd struct {
	entry sys.Entry
	table *sys.Table
	wfd   int
}

func newFdPassing(s *sys.System) *fdPassing {
	p := &fdPassing{sys: s}
	s.OnClose(p.closeAll)
	return p
}

// closeAll lets go of what this process sent and nobody received.
func (p *fdPassing) closeAll() {
	inFlight.mu.Lock()
	var gone []*passedFd
	for key, pf := range inFlight.m {
		if pf.table == p.sys.Table {
			delete(inFlight.m, key)
			gone = append(gone, pf)
		}
	}
	inFlight.mu.Unlock()
	for _, pf := range gone {
		unix.Close(pf.wfd)
		pf.table.Release(pf.entry.File)
	}
}

func tokenKey(fd int) ([2]uint64, bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return [2]uint64{}, false
	}
	return [2]uint64{st.Dev, st.Ino}, true
}

// add holds e's object and returns the token (the read end, to send) for it.
func (p *fdPassing) add(e *sys.Entry) (int, sys.Errno) {
	if p.sys.Closed() {
		return -1, sys.EBADF
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1, sys.ErrnoOf(err)
	}
	key, _ := tokenKey(fds[0])
	pf := &passedFd{entry: *e, table: p.sys.Table, wfd: fds[1]}
	pf.entry.Preopen, pf.entry.CloseOnExec = "", false
	p.sys.Table.Hold(e.File)
	inFlight.mu.Lock()
	inFlight.m[key] = pf
	inFlight.mu.Unlock()
	return fds[0], sys.ESUCCESS
}

// take returns what a received token stands for and forgets it; the
// caller owns its hold (release it with pf.table.Release).
func (p *fdPassing) take(token int) (*passedFd, bool) {
	key, ok := tokenKey(token)
	if !ok {
		return nil, false
	}
	inFlight.mu.Lock()
	pf, ok := inFlight.m[key]
	delete(inFlight.m, key)
	inFlight.mu.Unlock()
	if ok {
		unix.Close(pf.wfd)
	}
	return pf, ok
}

// peek returns what a token stands for, which stays in flight (MSG_PEEK:
// the kernel hands out copies of the fds and keeps them in the message),
// with one more hold for the caller.
func (p *fdPassing) peek(token int) (*passedFd, bool) {
	key, ok := tokenKey(token)
	if !ok {
		return nil, false
	}
	inFlight.mu.Lock()
	defer inFlight.mu.Unlock()
	pf, ok := inFlight.m[key]
	if ok {
		pf.table.Hold(pf.entry.File)
		cp := *pf
		cp.wfd = -1
		return &cp, true
	}
	return nil, false
}

// drop forgets a token that will never arrive and lets its object go.
func (p *fdPassing) drop(token int) {
	if pf, ok := p.take(token); ok {
		pf.table.Release(pf.entry.File)
	}
}

// sweep lets go of the objects whose token the kernel discarded: the read
// end is gone, so our write end polls ERR.
func (p *fdPassing) sweep() {
	inFlight.mu.Lock()
	var gone []*passedFd
	for key, pf := range inFlight.m {
		pfd := []unix.PollFd{{Fd: int32(pf.wfd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(pfd, 0); err == nil && n > 0 && pfd[0].Revents&unix.POLLERR != 0 {
			delete(inFlight.m, key)
			gone = append(gone, pf)
		}
	}
	inFlight.mu.Unlock()
	for _, pf := range gone {
		unix.Close(pf.wfd)
		pf.table.Release(pf.entry.File)
	}
}

// parseRights reads a WASIX control buffer and returns the guest fds of its
// SOCKET/RIGHTS messages. Other kinds are ENOTSUP (wasix-libc refuses them
// the same way), malformed lengths EINVAL.
func parseRights(b []byte) ([]uint32, sys.Errno) {
	var fds []uint32
	for off := uint32(0); off < uint32(len(b)); {
		if uint32(len(b))-off < cmsgHeader {
			return nil, sys.EINVAL
		}
		h := b[off:]
		clen := guestmem.LE32(h[0:4])
		level, typ := guestmem.LE16(h[4:6]), guestmem.LE16(h[6:8])
		if clen < cmsgHeader || clen > uint32(len(b))-off {
			return nil, sys.EINVAL
		}
		if level != cmsgLevelSocket || typ != cmsgTypeRights {
			return nil, sys.ENOTSUP
		}
		payload := h[cmsgHeader:clen]
		if len(payload)%4 != 0 {
			return nil, sys.EINVAL
		}
		for i := 0; i < len(payload); i += 4 {
			fds = append(fds, guestmem.LE32(payload[i:i+4]))
		}
		if len(fds) > maxRightsFds {
			return nil, sys.EINVAL
		}
		next := uint64(off) + uint64(cmsgAlign(clen))
		if next > uint64(len(b)) {
			break // the last message's padding may be left out
		}
		off = uint32(next)
	}
	return fds, sys.ESUCCESS
}

// sockSendMsg is sock_send_msg(fd, si_data: *ciovec, si_data_len, si_flags,
// addr: *addr_port (0: the connected peer), si_control: *u8 (0: none),
// si_control_len, ret_data_len: *size) -> errno: sendmsg(2). The control
// buffer may pass guest fds (SCM_RIGHTS) over a socket of sock_pair; the
// receiver gets new fds for the same open objects. Wasmer sends the data and
// answers ENOTSUP for any control data.
func sockSendMsg(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	if uint32(stack[4]) == 0 && (uint32(stack[5]) == 0 || uint32(stack[6]) == 0) {
		if errno, ok := h.pipeMsg(ctx, m, stack, true); ok {
			return errno
		}
	}
	f, e, errno := h.socketOf(uint32(stack[0]), sys.RightFdWrite)
	if errno != sys.ESUCCESS {
		return errno
	}
	si := uint16(stack[3])
	if si&^siDontwait != 0 {
		return sys.EINVAL
	}
	mem := m.Memory()
	iovs, errno := guestmem.Iovecs(mem, uint32(stack[1]), uint32(stack[2]))
	if errno != sys.ESUCCESS {
		return errno
	}
	addrPtr, ctlPtr, ctlLen, lenPtr := uint32(stack[4]), uint32(stack[5]), uint32(stack[6]), uint32(stack[7])
	if !guestmem.Writable(mem, lenPtr, 4) {
		return sys.EFAULT
	}
	var sa unix.Sockaddr
	if addrPtr != 0 {
		if sa, errno = readAddrPort(mem, addrPtr); errno != sys.ESUCCESS {
			return errno
		}
		if f.Filetype() == sys.FiletypeSocketStream {
			sa = nil // ignored on a connected stream, as sendmsg(2) does
		} else if errno := h.sys.CheckNet("sendto", sa); errno != sys.ESUCCESS {
			return errno
		}
	}
	var gfds []uint32
	if ctlPtr != 0 && ctlLen != 0 {
		ctl, ok := mem.Read(ctlPtr, ctlLen)
		if !ok {
			return sys.EFAULT
		}
		if gfds, errno = parseRights(ctl); errno != sys.ESUCCESS {
			return errno
		}
	}
	var oob []byte
	var tokens []int
	if len(gfds) > 0 {
		if f.Domain() != unix.AF_UNIX {
			return sys.ENOTSUP // rights travel only between our own socket pairs
		}
		entries := make([]*sys.Entry, len(gfds))
		for i, gfd := range gfds {
			if entries[i], errno = h.sys.Table.Get(gfd); errno != sys.ESUCCESS {
				return errno
			}
		}
		h.fdPass.sweep()
		for _, pe := range entries {
			tok, errno := h.fdPass.add(pe)
			if errno != sys.ESUCCESS {
				for _, t := range tokens {
					h.fdPass.drop(t)
					unix.Close(t)
				}
				return errno
			}
			tokens = append(tokens, tok)
		}
		oob = unix.UnixRights(tokens...)
	}
	var n int
	errno = f.WithTimeout(ctx, "send", func(c context.Context) sys.Errno {
		var e2 sys.Errno
		n, e2 = f.SendMsg(c, iovs, oob, sa, e.Nonblock() || si&siDontwait != 0)
		return e2
	})
	for _, t := range tokens {
		if errno != sys.ESUCCESS {
			h.fdPass.drop(t)
		}
		// The message holds its own reference to a token that was sent.
		unix.Close(t)
	}
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(mem, lenPtr, uint32(n))
}

// sockRecvMsg is sock_recv_msg(fd, ri_data: *iovec, ri_data_len, ri_flags,
// addr: *addr_port (0: not wanted), ro_control: *u8, ro_control_len,
// ro_data_len: *size, ro_flags: *roflags, ro_control_len_out: *size) ->
// errno: recvmsg(2). fds passed with SCM_RIGHTS become new guest fds, listed
// in one SOCKET/RIGHTS control message. When they do not all fit in
// ro_control_len, the ones that do not are closed (as Linux does) and
// ro_control_len_out says how much was needed, which wasix-libc reports as
// MSG_CTRUNC.
func sockRecvMsg(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	if uint32(stack[4]) == 0 {
		if errno, ok := h.pipeMsg(ctx, m, stack, false); ok {
			return errno
		}
	}
	f, e, errno := h.socketOf(uint32(stack[0]), sys.RightFdRead)
	if errno != sys.ESUCCESS {
		return errno
	}
	ri := uint16(stack[3])
	flags, errno := recvFlags(ri)
	if errno != sys.ESUCCESS {
		return errno
	}
	flags &^= unix.MSG_WAITALL // one message at most: the rights belong to it
	mem := m.Memory()
	iovs, errno := guestmem.Iovecs(mem, uint32(stack[1]), uint32(stack[2]))
	if errno != sys.ESUCCESS {
		return errno
	}
	addrPtr, ctlPtr, ctlCap := uint32(stack[4]), uint32(stack[5]), uint32(stack[6])
	lenPtr, roPtr, ctlOutPtr := uint32(stack[7]), uint32(stack[8]), uint32(stack[9])
	var addr, ctl []byte
	var ok bool
	if addrPtr != 0 {
		if addr, ok = mem.Read(addrPtr, addrPortSize); !ok {
			return sys.EFAULT
		}
	}
	if ctlPtr != 0 && ctlCap != 0 {
		if ctl, ok = mem.Read(ctlPtr, ctlCap); !ok {
			return sys.EFAULT
		}
	}
	if !guestmem.Writable(mem, lenPtr, 4) || !guestmem.Writable(mem, roPtr, 2) || !guestmem.Writable(mem, ctlOutPtr, 4) {
		return sys.EFAULT
	}
	var oob []byte
	unixSock := f.Domain() == unix.AF_UNIX
	if unixSock {
		h.fdPass.sweep()
		// Room for every fd a message can carry, whatever the guest's
		// buffer: the tokens that do not fit must still be accounted for.
		oob = make([]byte, unix.CmsgSpace(maxRightsFds*4))
	}
	var (
		n, oobn, rflags int
		from            unix.Sockaddr
	)
	errno = f.WithTimeout(ctx, "recv", func(c context.Context) sys.Errno {
		var e2 sys.Errno
		n, oobn, rflags, from, e2 = f.RecvMsg(c, iovs, oob, flags, e.Nonblock() || ri&riDontwait != 0)
		return e2
	})
	if errno != sys.ESUCCESS {
		return errno
	}
	var passed []*passedFd
	if oobn > 0 {
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, cm := range msgs {
			tokens, err := unix.ParseUnixRights(&cm)
			if err != nil {
				continue
			}
			for _, t := range tokens {
				take := h.fdPass.take
				if flags&unix.MSG_PEEK != 0 {
					take = h.fdPass.peek
				}
				if pf, ok := take(t); ok {
					passed = append(passed, pf)
				}
				unix.Close(t)
			}
		}
	}
	// Install what fits in the guest's control buffer; the rest is closed.
	fit := 0
	if len(ctl) >= cmsgHeader {
		fit = (len(ctl) - cmsgHeader) / 4
	}
	var gfds []uint32
	for i, pf := range passed {
		if i < fit && pf.table.SharesRefs(h.sys.Table) {
			ent := pf.entry
			if gfd, errno := h.sys.Table.Insert(&ent, 0); errno == sys.ESUCCESS {
				gfds = append(gfds, gfd)
			}
		}
		pf.table.Release(pf.entry.File) // the fd (if any) holds it now
	}
	ctlOut := uint32(0)
	if len(gfds) > 0 {
		clen := uint32(cmsgHeader + 4*len(gfds))
		guestmem.Put32(ctl[0:4], clen)
		guestmem.Put16(ctl[4:6], cmsgLevelSocket)
		guestmem.Put16(ctl[6:8], cmsgTypeRights)
		for i, gfd := range gfds {
			guestmem.Put32(ctl[cmsgHeader+4*i:], gfd)
		}
		ctlOut = clen
	}
	if len(gfds) < len(passed) {
		// More than the buffer holds: say how much was needed.
		ctlOut = cmsgHeader + 4*uint32(len(passed))
	}
	if addr != nil {
		if from == nil {
			from, _ = f.PeerSockaddr()
		}
		encodeAddrPort(addr, from)
	}
	var ro uint16
	if rflags&unix.MSG_TRUNC != 0 {
		ro = roDataTruncated
	}
	guestmem.PutU32(mem, ctlOutPtr, ctlOut)
	guestmem.PutU16(mem, roPtr, ro)
	return guestmem.PutU32(mem, lenPtr, uint32(n))
}

// pipeMsg is sock_send_msg/sock_recv_msg without an address or control
// data on a pipe: write and read, as Wasmer's (which hands them to
// sock_send and sock_recv) and wazix's sock_send/sock_recv do there. ok is
// false when fd is not a pipe.
func (h *host) pipeMsg(ctx context.Context, m api.Module, stack []uint64, write bool) (sys.Errno, bool) {
	e, errno := h.sys.Table.Get(uint32(stack[0]))
	if errno != sys.ESUCCESS {
		return 0, false
	}
	f, isHost := e.File.(*sys.HostFile)
	if !isHost || !f.IsPipe() {
		return 0, false
	}
	flags := uint16(stack[3])
	right, dontwait := sys.RightFdRead, flags&riDontwait != 0
	if write {
		right, dontwait = sys.RightFdWrite, flags&siDontwait != 0
		if flags&^siDontwait != 0 {
			return sys.EINVAL, true
		}
	} else if flags&riPeek != 0 {
		return sys.ENOTSUP, true // a pipe cannot be read without consuming
	}
	if !e.Can(right) {
		return sys.EBADF, true
	}
	mem := m.Memory()
	iovs, errno := guestmem.Iovecs(mem, uint32(stack[1]), uint32(stack[2]))
	if errno != sys.ESUCCESS {
		return errno, true
	}
	lenPtr := uint32(stack[7])
	if !guestmem.Writable(mem, lenPtr, 4) ||
		!write && (!guestmem.Writable(mem, uint32(stack[8]), 2) || !guestmem.Writable(mem, uint32(stack[9]), 4)) {
		return sys.EFAULT, true
	}
	var n int
	if write {
		n, errno = f.Writev(ctx, iovs, e.Nonblock() || dontwait)
	} else {
		n, errno = f.Readv(ctx, iovs, e.Nonblock() || dontwait)
	}
	if errno != sys.ESUCCESS {
		return errno, true
	}
	if !write {
		guestmem.PutU16(mem, uint32(stack[8]), 0)
		guestmem.PutU32(mem, uint32(stack[9]), 0)
	}
	return guestmem.PutU32(mem, lenPtr, uint32(n)), true
}
