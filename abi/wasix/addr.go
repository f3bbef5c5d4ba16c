package wasix

import (
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/sys"
)

// WASIX address families.
const (
	afUnspec = 0
	afInet4  = 1
	afInet6  = 2
	afUnix   = 3
)

// addrPortSize is the part of a WASIX addr_port that Wasmer reads and
// writes: tag u8 @0, padding @1, port @2..3, address @4 (4 or 16 bytes).
const addrPortSize = 20

// encodeAddrPort writes sa as an addr_port. The port is written big-endian,
// as Wasmer does; wasix-libc detects the order once by binding a known port.
func encodeAddrPort(b []byte, sa unix.Sockaddr) sys.Errno {
	clear(b[:addrPortSize])
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		b[0] = afInet4
		b[2], b[3] = byte(a.Port>>8), byte(a.Port)
		copy(b[4:8], a.Addr[:])
	case *unix.SockaddrInet6:
		b[0] = afInet6
		b[2], b[3] = byte(a.Port>>8), byte(a.Port)
		copy(b[4:20], a.Addr[:])
	case *unix.SockaddrUnix:
		b[0] = afUnix
	case nil:
		b[0] = afUnspec
	default:
		return sys.EAFNOSUPPORT
	}
	return sys.ESUCCESS
}
