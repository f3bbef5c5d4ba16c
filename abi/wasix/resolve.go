package wasix

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// addrIPSize is a WASIX addr_ip (Wasmer's __wasi_addr_t): tag @0, pad @1,
// address @2 (4 or 16 bytes).
const addrIPSize = 18

// resolveTimeout bounds one host lookup.
const resolveTimeout = 10 * time.Second

// resolve is resolve(host, host_len, port: u16, addrs: *addr_ip,
// naddrs: size, ret_naddrs: *size) -> errno: the host resolver's addresses
// for host, at most naddrs of them (the port hint does not change them).
// An address literal needs no lookup; a name needs the network on.
func resolve(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	name, errno := guestmem.String(mem, uint32(stack[0]), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	outPtr, max, retPtr := uint32(stack[3]), uint32(stack[4]), uint32(stack[5])
	if uint64(max)*addrIPSize > uint64(mem.Size()) {
		return sys.EFAULT
	}
	out, ok := mem.Read(outPtr, max*addrIPSize)
	if !ok || !guestmem.Writable(mem, retPtr, 4) {
		return sys.EFAULT
	}
	if name == "" || len(name) > 253+1 {
		return sys.EINVAL
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(name); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if !h.sys.Net.On() {
			h.sys.Denied.Add("resolve " + name)
			return sys.EACCES
		}
		lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		defer cancel()
		addrs, err = net.DefaultResolver.LookupNetIP(lctx, "ip", name)
		if err != nil {
			var dnsErr *net.DNSError
			switch {
			case ctx.Err() != nil:
				return sys.EINTR
			case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
				return sys.ENOENT
			case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
				return sys.ETIMEDOUT
			}
			return sys.EIO
		}
	}
	n := uint32(0)
	for _, a := range addrs {
		if n >= max {
			break
		}
		b := out[n*addrIPSize : (n+1)*addrIPSize]
		clear(b)
		a = a.Unmap()
		if a.Is4() {
			b[0] = afInet4
			v := a.As4()
			copy(b[2:6], v[:])
		} else {
			b[0] = afInet6
			v := a.As16()
			copy(b[2:18], v[:])
		}
		n++
	}
	return guestmem.PutU32(mem, retPtr, n)
}
