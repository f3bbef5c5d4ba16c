package wasix

import (
	"context"
	"net/netip"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// WASIX sock_type values and the flags wasix-libc passes in the same
// argument (SOCK_NONBLOCK, SOCK_CLOEXEC).
const (
	sockTypeStream    = 1
	sockTypeDgram     = 2
	sockTypeRaw       = 3
	sockTypeSeqpacket = 4
	sockFlagNonblock  = 0x4000
	sockFlagCloexec   = 0x2000
)

// IANA protocol numbers the host supports.
const (
	protoTCP = 6
	protoUDP = 17
)

// riflags and siflags of WASIX (preview1's plus DATA_TRUNCATED and DONTWAIT).
const (
	riPeek          = 1
	riWaitall       = 2
	riDataTruncated = 4
	riDontwait      = 8
	siDontwait      = 1
	roDataTruncated = 1
)

// libc's port-order probe: bind of 0.0.0.0 port 10275 (9000 byte-swapped).
const probePort = 10275

// decodeAddrPort reads a WASIX addr_port (20 bytes): tag @0, port @2..3
// read little-endian as Wasmer does, address @4.
func decodeAddrPort(b []byte) (unix.Sockaddr, sys.Errno) {
	port := int(guestmem.LE16(b[2:4]))
	switch b[0] {
	case afInet4:
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], b[4:8])
		return sa, sys.ESUCCESS
	case afInet6:
		sa := &unix.SockaddrInet6{Port: port}
		copy(sa.Addr[:], b[4:20])
		return sa, sys.ESUCCESS
	case afUnix:
		return nil, sys.EAFNOSUPPORT
	}
	return nil, sys.EINVAL
}

// readAddrPort reads the addr_port at ptr.
func readAddrPort(mem api.Memory, ptr uint32) (unix.Sockaddr, sys.Errno) {
	b, ok := mem.Read(ptr, addrPortSize)
	if !ok {
		return nil, sys.EFAULT
	}
	return decodeAddrPort(b)
}

// socketOf returns the host socket behind fd.
func (h *host) socketOf(fd uint32, rights sys.Rights) (*sys.HostFile, *sys.Entry, sys.Errno) {
	e, errno := h.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return nil, nil, errno
	}
	f, ok := e.File.(*sys.HostFile)
	if !ok || !f.IsSocket() {
		return nil, nil, sys.ENOTSOCK
	}
	if !e.Can(rights) {
		return nil, nil, sys.ENOTCAPABLE
	}
	return f, e, sys.ESUCCESS
}

// hostSockType maps a WASIX sock_type and protocol to the host's, with the
// checks Wasmer makes.
func hostSockType(typ, proto uint32) (int, int, sys.Errno) {
	var ht int
	switch typ {
	case sockTypeStream:
		ht = unix.SOCK_STREAM
		if proto != 0 && proto != protoTCP {
			if proto == protoUDP {
				return 0, 0, sys.ENOTSUP
			}
			return 0, 0, sys.EPROTONOSUPPORT
		}
	case sockTypeDgram:
		ht = unix.SOCK_DGRAM
		if proto != 0 && proto != protoUDP {
			if proto == protoTCP {
				return 0, 0, sys.ENOTSUP
			}
			return 0, 0, sys.EPROTONOSUPPORT
		}
	case sockTypeRaw, sockTypeSeqpacket:
		return 0, 0, sys.ENOTSUP
	default:
		return 0, 0, sys.EINVAL
	}
	return ht, int(proto), sys.ESUCCESS
}

// sockOpen is sock_open(af, type, proto, ret_fd: *fd) -> errno. wasix-libc
// passes SOCK_NONBLOCK and SOCK_CLOEXEC inside type; both are honoured.
// Opening a socket needs no permission; using the network does.
func sockOpen(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	af, typ, proto, resPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if !guestmem.Writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	var family int
	switch af {
	case afInet4:
		family = unix.AF_INET
	case afInet6:
		family = unix.AF_INET6
	default:
		return sys.EAFNOSUPPORT
	}
	if typ&^(0xff|sockFlagNonblock|sockFlagCloexec) != 0 {
		return sys.EINVAL
	}
	ht, hp, errno := hostSockType(typ&0xff, proto)
	if errno != sys.ESUCCESS {
		return errno
	}
	f, errno := sys.OpenSocket(h.sys.Registry, family, ht, hp)
	if errno != sys.ESUCCESS {
		return errno
	}
	var flags sys.Fdflags
	if typ&sockFlagNonblock != 0 {
		flags = sys.FdflagNonblock
	}
	fd, errno := h.sys.Table.Insert(&sys.Entry{File: f, Flags: flags, RightsBase: sys.RightsSocket,
		CloseOnExec: typ&sockFlagCloexec != 0}, 0)
	if errno != sys.ESUCCESS {
		f.Close()
		return errno
	}
	return guestmem.PutU32(m.Memory(), resPtr, fd)
}

// sockPair is sock_pair(af, type, proto, ret_fd1, ret_fd2) -> errno: a host
// socketpair(AF_UNIX). Wasmer ignores the family (its pair is an in-memory
// duplex pipe); so do we, past the TCP/UDP consistency check.
func sockPair(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	typ, proto := uint32(stack[1]), uint32(stack[2])
	p1, p2 := uint32(stack[3]), uint32(stack[4])
	mem := m.Memory()
	if !guestmem.Writable(mem, p1, 4) || !guestmem.Writable(mem, p2, 4) {
		return sys.EFAULT
	}
	if typ&^(0xff|sockFlagNonblock|sockFlagCloexec) != 0 {
		return sys.EINVAL
	}
	ht := unix.SOCK_STREAM
	switch typ & 0xff {
	case sockTypeStream:
		if proto != 0 && proto != protoTCP {
			return sys.ENOTSUP
		}
	case sockTypeDgram:
		ht = unix.SOCK_DGRAM
		if proto != 0 && proto != protoUDP {
			return sys.ENOTSUP
		}
	case sockTypeSeqpacket:
		ht = unix.SOCK_SEQPACKET
	default:
		return sys.ENOTSUP
	}
	a, b, errno := sys.SocketPair(h.sys.Registry, ht)
	if errno != sys.ESUCCESS {
		return errno
	}
	var flags sys.Fdflags
	if typ&sockFlagNonblock != 0 {
		flags = sys.FdflagNonblock
	}
	cloexec := typ&sockFlagCloexec != 0
	rights := sys.RightsSocket &^ sys.RightSockAccept
	fa, errno := h.sys.Table.Insert(&sys.Entry{File: a, Flags: flags, RightsBase: rights, CloseOnExec: cloexec}, 0)
	if errno != sys.ESUCCESS {
		a.Close()
		b.Close()
		return errno
	}
	fb, errno := h.sys.Table.Insert(&sys.Entry{File: b, Flags: flags, RightsBase: rights, CloseOnExec: cloexec}, 0)
	if errno != sys.ESUCCESS {
		h.sys.Table.Close(fa)
		b.Close()
		return errno
	}
	guestmem.PutU32(mem, p1, fa)
	return guestmem.PutU32(mem, p2, fb)
}

// isProbe reports whether sa is wasix-libc's port-order probe address.
func isProbe(sa unix.Sockaddr) bool {
	a, ok := sa.(*unix.SockaddrInet4)
	return ok && a.Port == probePort && a.Addr == [4]byte{}
}

// sockBind is sock_bind(fd, addr: *addr_port) -> errno.
func sockBind(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	sa, errno := readAddrPort(m.Memory(), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	if !h.sys.Net.AllowsSockaddr(sa) {
		if isProbe(sa) && !f.Probe() {
			// wasix-libc binds this once per process to learn the port byte
			// order; answer it without touching the network.
			f.BindProbe(sa)
			return sys.ESUCCESS
		}
		return h.sys.CheckNet("bind", sa)
	}
	return f.Bind(sa)
}

// sockListen is sock_listen(fd, backlog) -> errno. A socket the guest did
// not bind listens on an ephemeral port of every address, so without a
// bind it needs the network policy to allow the unspecified address.
func sockListen(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	if f.Probe() {
		return h.sys.CheckNet("listen", &unix.SockaddrInet4{Port: probePort})
	}
	if !h.sys.Net.All {
		sa, errno := f.LocalSockaddr()
		if errno != sys.ESUCCESS {
			return errno
		}
		if ap, ok := sys.AddrPortOf(sa); !ok || ap.Port() == 0 {
			if e := h.sys.CheckNet("listen", sa); e != sys.ESUCCESS {
				return e
			}
		}
	}
	return f.ListenBacklog(int(int32(uint32(stack[1]))))
}

// sockConnect is sock_connect(fd, addr: *addr_port) -> errno.
func sockConnect(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	f, e, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	sa, errno := readAddrPort(m.Memory(), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	if errno := h.sys.CheckNet("connect", sa); errno != sys.ESUCCESS {
		return errno
	}
	if f.Probe() {
		return h.sys.CheckNet("connect", &unix.SockaddrInet4{Port: probePort})
	}
	return f.Connect(ctx, sa, e.Nonblock())
}

// recvFlags converts WASIX riflags to host MSG_* flags.
func recvFlags(ri uint16) (int, sys.Errno) {
	if ri&^(riPeek|riWaitall|riDataTruncated|riDontwait) != 0 {
		return 0, sys.EINVAL
	}
	fl := 0
	if ri&riPeek != 0 {
		fl |= unix.MSG_PEEK
	}
	if ri&riWaitall != 0 {
		fl |= unix.MSG_WAITALL
	}
	if ri&riDataTruncated != 0 {
		// MSG_TRUNC: the length returned is the datagram's, even when cut.
		fl |= unix.MSG_TRUNC
	}
	return fl, sys.ESUCCESS
}

// sockRecvFrom is sock_recv_from(fd, iovs, iovs_len, riflags, ret_len: *size,
// ret_roflags: *roflags, ret_addr: *addr_port) -> errno.
func sockRecvFrom(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	f, e, errno := h.socketOf(uint32(stack[0]), sys.RightFdRead)
	if errno != sys.ESUCCESS {
		return errno
	}
	ri := uint16(stack[3])
	flags, errno := recvFlags(ri)
	if errno != sys.ESUCCESS {
		return errno
	}
	mem := m.Memory()
	iovs, errno := guestmem.Iovecs(mem, uint32(stack[1]), uint32(stack[2]))
	if errno != sys.ESUCCESS {
		return errno
	}
	lenPtr, roPtr, addrPtr := uint32(stack[4]), uint32(stack[5]), uint32(stack[6])
	addr, ok := mem.Read(addrPtr, addrPortSize)
	if !ok || !guestmem.Writable(mem, lenPtr, 4) || !guestmem.Writable(mem, roPtr, 2) {
		return sys.EFAULT
	}
	nonblock := e.Nonblock() || ri&riDontwait != 0
	var (
		n     int
		trunc bool
		from  unix.Sockaddr
	)
	errno = f.WithTimeout(ctx, "recv", func(c context.Context) sys.Errno {
		var e sys.Errno
		if flags&unix.MSG_WAITALL != 0 {
			var ro uint16
			n, ro, e = f.Recv(c, iovs, sys.RecvWaitall, nonblock)
			trunc = ro != 0
			from, _ = f.PeerSockaddr()
			return e
		}
		n, trunc, from, e = f.RecvFrom(c, iovs, flags, nonblock)
		return e
	})
	if errno != sys.ESUCCESS {
		return errno
	}
	if from == nil {
		from, _ = f.PeerSockaddr()
	}
	encodeAddrPort(addr, from)
	var ro uint16
	if trunc {
		ro = roDataTruncated
	}
	guestmem.PutU16(mem, roPtr, ro)
	return guestmem.PutU32(mem, lenPtr, uint32(n))
}

// sockSendTo is sock_send_to(fd, iovs, iovs_len, siflags, addr: *addr_port,
// ret_len: *size) -> errno.
func sockSendTo(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
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
	sa, errno := readAddrPort(mem, uint32(stack[4]))
	if errno != sys.ESUCCESS {
		return errno
	}
	lenPtr := uint32(stack[5])
	if !guestmem.Writable(mem, lenPtr, 4) {
		return sys.EFAULT
	}
	if f.Filetype() == sys.FiletypeSocketStream {
		// The address is ignored on a connected stream, as sendto(2) does.
		sa = nil
	} else if errno := h.sys.CheckNet("sendto", sa); errno != sys.ESUCCESS {
		return errno
	}
	var n int
	errno = f.WithTimeout(ctx, "send", func(c context.Context) sys.Errno {
		var e2 sys.Errno
		n, e2 = f.SendTo(c, iovs, sa, e.Nonblock() || si&siDontwait != 0)
		return e2
	})
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(mem, lenPtr, uint32(n))
}

// sockSendFile is sock_send_file(out_fd, in_fd, offset: filesize, count:
// filesize, ret_sent: *filesize) -> errno.
func sockSendFile(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	out, e, errno := h.socketOf(uint32(stack[0]), sys.RightFdWrite)
	if errno != sys.ESUCCESS {
		return errno
	}
	ie, errno := h.sys.Table.Get(uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	if !ie.Can(sys.RightFdRead) {
		return sys.ENOTCAPABLE
	}
	in, ok := ie.File.(*sys.HostFile)
	if !ok || (in.Filetype() != sys.FiletypeRegularFile && in.Filetype() != sys.FiletypeBlockDevice) {
		// Only files have offsets; sendfile(2) from other fds is EINVAL too.
		return sys.EINVAL
	}
	off, count, resPtr := int64(stack[2]), stack[3], uint32(stack[4])
	if off < 0 {
		return sys.EINVAL
	}
	if !guestmem.Writable(m.Memory(), resPtr, 8) {
		return sys.EFAULT
	}
	n, errno := out.SendFile(ctx, in, off, count, e.Nonblock())
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU64(m.Memory(), resPtr, n)
}

// sockStatus is sock_status(fd, ret: *sock_status) -> errno.
func sockStatus(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU8(m.Memory(), uint32(stack[1]), f.Status())
}

// sockAddrLocal is sock_addr_local(fd, ret: *addr_port) -> errno.
func sockAddrLocal(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return h.sockAddr(m, stack, (*sys.HostFile).LocalSockaddr)
}

// sockAddrPeer is sock_addr_peer(fd, ret: *addr_port) -> errno.
func sockAddrPeer(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return h.sockAddr(m, stack, (*sys.HostFile).PeerSockaddr)
}

func (h *host) sockAddr(m api.Module, stack []uint64, get func(*sys.HostFile) (unix.Sockaddr, sys.Errno)) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	b, ok := m.Memory().Read(uint32(stack[1]), addrPortSize)
	if !ok {
		return sys.EFAULT
	}
	sa, errno := get(f)
	if errno != sys.ESUCCESS {
		return errno
	}
	return encodeAddrPort(b, sa)
}

// multicast is sock_{join,leave}_multicast_v4(fd, group: *addr_ip4, iface:
// *addr_ip4) -> errno.
func multicastV4(join bool) fn {
	return func(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
		f, _, errno := h.socketOf(uint32(stack[0]), 0)
		if errno != sys.ESUCCESS {
			return errno
		}
		mem := m.Memory()
		g, ok1 := mem.Read(uint32(stack[1]), 4)
		i, ok2 := mem.Read(uint32(stack[2]), 4)
		if !ok1 || !ok2 {
			return sys.EFAULT
		}
		if errno := h.checkMulticast(netip.AddrFrom4([4]byte(g))); errno != sys.ESUCCESS {
			return errno
		}
		mreq := &unix.IPMreq{Multiaddr: [4]byte(g), Interface: [4]byte(i)}
		opt := unix.IP_ADD_MEMBERSHIP
		if !join {
			opt = unix.IP_DROP_MEMBERSHIP
		}
		return sys.ErrnoOf(unix.SetsockoptIPMreq(f.Fd(), unix.IPPROTO_IP, opt, mreq))
	}
}

// multicastV6 is sock_{join,leave}_multicast_v6(fd, group: *addr_ip6 (16
// bytes, network order), iface: u32) -> errno.
func multicastV6(join bool) fn {
	return func(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
		f, _, errno := h.socketOf(uint32(stack[0]), 0)
		if errno != sys.ESUCCESS {
			return errno
		}
		g, ok := m.Memory().Read(uint32(stack[1]), 16)
		if !ok {
			return sys.EFAULT
		}
		if errno := h.checkMulticast(netip.AddrFrom16([16]byte(g))); errno != sys.ESUCCESS {
			return errno
		}
		mreq := &unix.IPv6Mreq{Multiaddr: [16]byte(g), Interface: uint32(stack[2])}
		opt := unix.IPV6_JOIN_GROUP
		if !join {
			opt = unix.IPV6_LEAVE_GROUP
		}
		return sys.ErrnoOf(unix.SetsockoptIPv6Mreq(f.Fd(), unix.IPPROTO_IPV6, opt, mreq))
	}
}

// checkMulticast applies the network policy to a group (any port).
func (h *host) checkMulticast(group netip.Addr) sys.Errno {
	if !group.IsMulticast() {
		return sys.EINVAL
	}
	if h.sys.Net.All || h.sys.Net.Allows(group, 0) {
		return sys.ESUCCESS
	}
	for _, r := range h.sys.Net.Rules {
		if r.Prefix.Contains(group.Unmap()) {
			return sys.ESUCCESS
		}
	}
	h.sys.Denied.Add("multicast " + group.String())
	return sys.EACCES
}
