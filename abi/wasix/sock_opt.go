package wasix

import (
	"context"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// WASIX sock_option values (wasix-libc passes its SO_* constants, which
// are these numbers).
const (
	optNoop            = 0
	optReusePort       = 1
	optReuseAddr       = 2
	optNoDelay         = 3
	optDontRoute       = 4
	optOnlyV6          = 5
	optBroadcast       = 6
	optMulticastLoopV4 = 7
	optMulticastLoopV6 = 8
	optPromiscuous     = 9
	optListening       = 10
	optLastError       = 11
	optKeepAlive       = 12
	optLinger          = 13
	optOobInline       = 14
	optRecvBufSize     = 15
	optSendBufSize     = 16
	optRecvLowat       = 17
	optSendLowat       = 18
	optRecvTimeout     = 19
	optSendTimeout     = 20
	optConnectTimeout  = 21
	optAcceptTimeout   = 22
	optTTL             = 23
	optMulticastTTLV4  = 24
	optType            = 25
	optProto           = 26
)

// hostOpt is the host level and name of a WASIX option that maps to one
// integer socket option.
type hostOpt struct{ level, name int }

// The option tables are arrays indexed by the WASIX option (static data,
// nothing to build at start-up); a zero entry is an option not in the table.

// flagOpts are the boolean options.
var flagOpts = [optProto + 1]hostOpt{
	optReusePort:       {unix.SOL_SOCKET, unix.SO_REUSEPORT},
	optReuseAddr:       {unix.SOL_SOCKET, unix.SO_REUSEADDR},
	optNoDelay:         {unix.IPPROTO_TCP, unix.TCP_NODELAY},
	optDontRoute:       {unix.SOL_SOCKET, unix.SO_DONTROUTE},
	optOnlyV6:          {unix.IPPROTO_IPV6, unix.IPV6_V6ONLY},
	optBroadcast:       {unix.SOL_SOCKET, unix.SO_BROADCAST},
	optMulticastLoopV4: {unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP},
	optMulticastLoopV6: {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP},
	optListening:       {unix.SOL_SOCKET, unix.SO_ACCEPTCONN},
	optKeepAlive:       {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	optOobInline:       {unix.SOL_SOCKET, unix.SO_OOBINLINE},
}

// sizeOpts are the numeric options.
var sizeOpts = [optProto + 1]hostOpt{
	optRecvBufSize:    {unix.SOL_SOCKET, unix.SO_RCVBUF},
	optSendBufSize:    {unix.SOL_SOCKET, unix.SO_SNDBUF},
	optRecvLowat:      {unix.SOL_SOCKET, unix.SO_RCVLOWAT},
	optSendLowat:      {unix.SOL_SOCKET, unix.SO_SNDLOWAT},
	optTTL:            {unix.IPPROTO_IP, unix.IP_TTL},
	optMulticastTTLV4: {unix.IPPROTO_IP, unix.IP_MULTICAST_TTL},
}

// timeOpts name the timeouts kept by wazix (host fds are nonblocking, so
// SO_RCVTIMEO and friends would have no effect on the host).
var timeOpts = [optProto + 1]string{
	optRecvTimeout:    "recv",
	optSendTimeout:    "send",
	optConnectTimeout: "connect",
	optAcceptTimeout:  "accept",
}

// lookupOpt returns the host option of a WASIX option in table (any value
// from the guest; a name of 0 marks an absent entry: no host option is 0).
func lookupOpt(table *[optProto + 1]hostOpt, opt uint8) (hostOpt, bool) {
	if int(opt) >= len(table) || table[opt].name == 0 {
		return hostOpt{}, false
	}
	return table[opt], true
}

// lookupTimeOpt returns which timeout a WASIX option names.
func lookupTimeOpt(opt uint8) (string, bool) {
	if int(opt) >= len(timeOpts) || timeOpts[opt] == "" {
		return "", false
	}
	return timeOpts[opt], true
}

// v6 reports whether the socket is IPv6, for options whose level differs.
func isV6(f *sys.HostFile) bool {
	d, err := unix.GetsockoptInt(f.Fd(), unix.SOL_SOCKET, unix.SO_DOMAIN)
	return err == nil && d == unix.AF_INET6
}

// sockSetOptFlag is sock_set_opt_flag(fd, opt, flag: bool) -> errno.
func sockSetOptFlag(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	opt := uint8(stack[1])
	v := 0
	switch uint32(stack[2]) {
	case 0:
	case 1:
		v = 1
	default:
		return sys.EINVAL
	}
	switch opt {
	case optNoop:
		return sys.ESUCCESS
	case optListening, optLastError:
		return sys.EINVAL // read-only
	case optPromiscuous:
		return sys.ENOTSUP
	}
	o, ok := lookupOpt(&flagOpts, opt)
	if !ok {
		return sys.EINVAL
	}
	return sys.ErrnoOf(unix.SetsockoptInt(f.Fd(), o.level, o.name, v))
}

// sockGetOptFlag is sock_get_opt_flag(fd, opt, ret: *bool) -> errno.
// LAST_ERROR answers whether an error is pending (a failed connect).
func sockGetOptFlag(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	resPtr := uint32(stack[2])
	if !guestmem.Writable(m.Memory(), resPtr, 1) {
		return sys.EFAULT
	}
	opt := uint8(stack[1])
	var v int
	switch opt {
	case optLastError:
		if f.LastError(false) != sys.ESUCCESS {
			v = 1
		}
	case optPromiscuous:
		return sys.ENOTSUP
	default:
		o, ok := lookupOpt(&flagOpts, opt)
		if !ok {
			return sys.EINVAL
		}
		var err error
		if v, err = unix.GetsockoptInt(f.Fd(), o.level, o.name); err != nil {
			return sys.ErrnoOf(err)
		}
	}
	var b uint8
	if v != 0 {
		b = 1
	}
	return guestmem.PutU8(m.Memory(), resPtr, b)
}

// sockSetOptTime is sock_set_opt_time(fd, opt, time: *option_timestamp) -> errno.
func sockSetOptTime(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	b, ok := m.Memory().Read(uint32(stack[2]), 16)
	if !ok {
		return sys.EFAULT
	}
	var ns int64
	switch b[0] {
	case 0:
	case 1:
		v := guestmem.LE64(b[8:])
		if v > 1<<62 {
			v = 1 << 62
		}
		ns = int64(v)
	default:
		return sys.EINVAL
	}
	opt := uint8(stack[1])
	if opt == optLinger {
		l := &unix.Linger{}
		if b[0] == 1 {
			l.Onoff = 1
			l.Linger = int32(ns / 1e9)
		}
		return sys.ErrnoOf(unix.SetsockoptLinger(f.Fd(), unix.SOL_SOCKET, unix.SO_LINGER, l))
	}
	which, ok := lookupTimeOpt(opt)
	if !ok {
		return sys.EINVAL
	}
	f.SetTimeout(which, ns)
	return sys.ESUCCESS
}

// sockGetOptTime is sock_get_opt_time(fd, opt, ret: *option_timestamp) -> errno.
func sockGetOptTime(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	b, ok := m.Memory().Read(uint32(stack[2]), 16)
	if !ok {
		return sys.EFAULT
	}
	opt := uint8(stack[1])
	var (
		some bool
		ns   int64
	)
	if opt == optLinger {
		l, err := unix.GetsockoptLinger(f.Fd(), unix.SOL_SOCKET, unix.SO_LINGER)
		if err != nil {
			return sys.ErrnoOf(err)
		}
		some, ns = l.Onoff != 0, int64(l.Linger)*1e9
	} else {
		which, ok := lookupTimeOpt(opt)
		if !ok {
			return sys.EINVAL
		}
		ns = f.Timeout(which)
		some = ns > 0
	}
	clear(b)
	if some {
		b[0] = 1
		guestmem.Put64(b[8:], uint64(ns))
	}
	return sys.ESUCCESS
}

// sockSetOptSize is sock_set_opt_size(fd, opt, size: filesize) -> errno.
func sockSetOptSize(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	opt, v := uint8(stack[1]), stack[2]
	o, ok := lookupOpt(&sizeOpts, opt)
	if !ok {
		if opt == optType || opt == optProto || opt == optLastError {
			return sys.EINVAL // read-only
		}
		return sys.EINVAL
	}
	if v > 1<<31-1 {
		return sys.EINVAL
	}
	if opt == optTTL && isV6(f) {
		o = hostOpt{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}
	}
	return sys.ErrnoOf(unix.SetsockoptInt(f.Fd(), o.level, o.name, int(v)))
}

// sockGetOptSize is sock_get_opt_size(fd, opt, ret: *filesize) -> errno.
// TYPE answers the WASIX sock_type, PROTO the IANA protocol number and
// LAST_ERROR the pending error's errno (reading it clears it, as SO_ERROR).
func sockGetOptSize(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	f, _, errno := h.socketOf(uint32(stack[0]), 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	resPtr := uint32(stack[2])
	if !guestmem.Writable(m.Memory(), resPtr, 8) {
		return sys.EFAULT
	}
	opt := uint8(stack[1])
	var v int
	var err error
	switch opt {
	case optLastError:
		v = int(f.LastError(true))
	case optType:
		t, err := unix.GetsockoptInt(f.Fd(), unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return sys.ErrnoOf(err)
		}
		switch t {
		case unix.SOCK_STREAM:
			v = sockTypeStream
		case unix.SOCK_DGRAM:
			v = sockTypeDgram
		case unix.SOCK_SEQPACKET:
			v = sockTypeSeqpacket
		case unix.SOCK_RAW:
			v = sockTypeRaw
		}
	case optProto:
		v, err = unix.GetsockoptInt(f.Fd(), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	default:
		o, ok := lookupOpt(&sizeOpts, opt)
		if !ok {
			return sys.EINVAL
		}
		if opt == optTTL && isV6(f) {
			o = hostOpt{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}
		}
		v, err = unix.GetsockoptInt(f.Fd(), o.level, o.name)
	}
	if err != nil {
		return sys.ErrnoOf(err)
	}
	return guestmem.PutU64(m.Memory(), resPtr, uint64(int64(v)))
}
