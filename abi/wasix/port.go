package wasix

import (
	"context"
	"net"
	"net/netip"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// addrCIDRSize is wasix-libc's __wasi_addr_cidr_t: tag @0, pad @1; IPv4:
// address @2..5, prefix @6; IPv6: address @2..17, flow info and scope id
// @18..25, prefix @26. (Wasmer's Rust type is 19 bytes with the IPv6 prefix
// @18; wasix-libc's getifaddrs strides by the C size, which is used here.)
const addrCIDRSize = 28

// portAddrList is port_addr_list(addrs: *addr_cidr, naddrs: *size) -> errno:
// the host's interface addresses. naddrs holds the capacity on entry and
// the count on return; when the capacity is too small nothing is written,
// naddrs is set to the count needed and the result is EOVERFLOW.
// Without network access the list is empty.
func portAddrList(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	outPtr, nPtr := uint32(stack[0]), uint32(stack[1])
	nb, ok := mem.Read(nPtr, 4)
	if !ok {
		return sys.EFAULT
	}
	capacity := guestmem.LE32(nb)
	var prefixes []netip.Prefix
	if h.sys.Net.On() {
		ifaddrs, err := net.InterfaceAddrs()
		if err != nil {
			return sys.EIO
		}
		for _, a := range ifaddrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			addr = addr.Unmap()
			if addr.Is4() && ones > 32 {
				ones -= 96
			}
			prefixes = append(prefixes, netip.PrefixFrom(addr, ones))
		}
	}
	need := uint32(len(prefixes))
	if need > capacity {
		guestmem.Put32(nb, need)
		return sys.EOVERFLOW
	}
	if uint64(need)*addrCIDRSize > uint64(mem.Size()) {
		return sys.EFAULT
	}
	out, ok := mem.Read(outPtr, need*addrCIDRSize)
	if !ok {
		return sys.EFAULT
	}
	for i, p := range prefixes {
		b := out[i*addrCIDRSize : (i+1)*addrCIDRSize]
		clear(b)
		if p.Addr().Is4() {
			b[0] = afInet4
			v := p.Addr().As4()
			copy(b[2:6], v[:])
			b[6] = uint8(p.Bits())
		} else {
			b[0] = afInet6
			v := p.Addr().As16()
			copy(b[2:18], v[:])
			b[26] = uint8(p.Bits())
		}
	}
	guestmem.Put32(nb, need)
	return sys.ESUCCESS
}
