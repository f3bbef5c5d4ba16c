package sys

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NetPolicy says where a guest may bind, connect and send datagrams. The
// zero value allows nothing: a guest then has only the sockets preopened for
// it (--listen), which need no permission.
type NetPolicy struct {
	// All allows every address (--net).
	All bool
	// Rules allow the addresses they match (--net-allow).
	Rules []NetRule
}

// NetRule is one --net-allow entry: an address prefix and a set of ports.
type NetRule struct {
	Prefix netip.Prefix
	Ports  []PortRange // empty: every port
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi uint16 }

// On reports whether the guest has any network access (DNS through
// resolve is allowed only then).
func (p *NetPolicy) On() bool { return p.All || len(p.Rules) > 0 }

// Allows reports whether the policy allows addr:port.
func (p *NetPolicy) Allows(addr netip.Addr, port uint16) bool {
	if p.All {
		return true
	}
	addr = addr.Unmap()
	for _, r := range p.Rules {
		if !r.Prefix.Contains(addr) {
			continue
		}
		if len(r.Ports) == 0 {
			return true
		}
		for _, pr := range r.Ports {
			if port >= pr.Lo && port <= pr.Hi {
				return true
			}
		}
	}
	return false
}

// AllowsSockaddr is Allows for a host socket address; other families than
// IPv4 and IPv6 are not allowed.
func (p *NetPolicy) AllowsSockaddr(sa unix.Sockaddr) bool {
	ap, ok := AddrPortOf(sa)
	return ok && p.Allows(ap.Addr(), ap.Port())
}

// AddrPortOf converts an IPv4 or IPv6 socket address.
func AddrPortOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// ParseNetRule parses "CIDR[:PORTS]": an address or prefix (IPv6 in
// brackets when ports follow: "[::1]/128:80"), then optionally ":" and a
// comma-separated list of ports and ranges ("80,443,8000-8100", "*" = all).
// A bare address is a /32 (/128) prefix.
func ParseNetRule(s string) (NetRule, error) {
	var r NetRule
	addrPart, ports := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return r, fmt.Errorf("net-allow %q: missing ]", s)
		}
		rest := s[end+1:]
		addrPart = s[1:end]
		if strings.HasPrefix(rest, "/") {
			bits, p, _ := strings.Cut(rest[1:], ":")
			addrPart += "/" + bits
			ports = p
		} else if strings.HasPrefix(rest, ":") {
			ports = rest[1:]
		} else if rest != "" {
			return r, fmt.Errorf("net-allow %q: unexpected %q", s, rest)
		}
	case strings.Contains(s, "/"):
		a, rest, _ := strings.Cut(s, "/")
		bits, p, hasPorts := strings.Cut(rest, ":")
		if strings.Count(a, ":") > 0 && hasPorts && strings.Contains(p, ":") {
			return r, fmt.Errorf("net-allow %q: bad ports", s)
		}
		addrPart, ports = a+"/"+bits, p
	default:
		if _, err := netip.ParseAddr(s); err != nil {
			i := strings.LastIndex(s, ":")
			if i < 0 {
				return r, fmt.Errorf("net-allow %q: not an address or prefix", s)
			}
			addrPart, ports = s[:i], s[i+1:]
		}
	}
	if strings.Contains(addrPart, "/") {
		pfx, err := netip.ParsePrefix(addrPart)
		if err != nil {
			return r, fmt.Errorf("net-allow %q: %v", s, err)
		}
		r.Prefix = pfx.Masked()
	} else {
		a, err := netip.ParseAddr(addrPart)
		if err != nil {
			return r, fmt.Errorf("net-allow %q: %v", s, err)
		}
		r.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	if r.Prefix.Addr().Is4In6() {
		r.Prefix = netip.PrefixFrom(r.Prefix.Addr().Unmap(), r.Prefix.Bits()-96)
	}
	if ports == "" || ports == "*" {
		return r, nil
	}
	for _, part := range strings.Split(ports, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		l, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return r, fmt.Errorf("net-allow %q: bad port %q", s, part)
		}
		h := l
		if isRange {
			if h, err = strconv.ParseUint(hi, 10, 16); err != nil || h < l {
				return r, fmt.Errorf("net-allow %q: bad port range %q", s, part)
			}
		}
		r.Ports = append(r.Ports, PortRange{uint16(l), uint16(h)})
	}
	return r, nil
}

// DenyCounter counts refused operations by a short description
// ("connect 10.0.0.1:80"), for --trace.
type DenyCounter struct {
	mu     sync.Mutex
	counts map[string]int
	total  atomic.Uint64
}

// Total is the number of refusals so far (one atomic load), so that a tracer
// can tell whether a call was refused by the policy.
func (d *DenyCounter) Total() uint64 { return d.total.Load() }

// Add counts one refusal.
func (d *DenyCounter) Add(what string) {
	d.total.Add(1)
	d.mu.Lock()
	if d.counts == nil {
		d.counts = map[string]int{}
	}
	d.counts[what]++
	d.mu.Unlock()
}

// Counts returns the refusals so far, sorted by description.
func (d *DenyCounter) Counts() []DenyCount {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DenyCount, 0, len(d.counts))
	for k, n := range d.counts {
		out = append(out, DenyCount{What: k, N: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].What < out[j].What })
	return out
}

// DenyCount is one line of DenyCounter.Counts.
type DenyCount struct {
	What string
	N    int
}

// CheckNet applies the policy to op ("bind", "connect", "sendto") on sa,
// counting a refusal. It returns EACCES when the policy refuses.
func (s *System) CheckNet(op string, sa unix.Sockaddr) Errno {
	if s.Net.All {
		return ESUCCESS
	}
	ap, ok := AddrPortOf(sa)
	if !ok {
		return EAFNOSUPPORT
	}
	if s.Net.Allows(ap.Addr(), ap.Port()) {
		return ESUCCESS
	}
	s.Denied.Add(op + " " + ap.String())
	return EACCES
}
