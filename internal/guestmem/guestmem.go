// Package guestmem reads and writes guest linear memory for the host
// modules. Every access is bounds-checked: a range outside memory is EFAULT.
package guestmem

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// MaxIovecs bounds one vectored call, like the host's IOV_MAX; a longer list
// is served partially, which POSIX allows for readv/writev.
const MaxIovecs = 1024

// Iovecs decodes n iovec records (buf u32, len u32) at ptr into slices of
// guest memory.
func Iovecs(mem api.Memory, ptr, n uint32) ([][]byte, sys.Errno) {
	return IovecsTo(nil, mem, ptr, n)
}

// IovecsTo is Iovecs appending to dst[:0], so that a caller with a small
// array on its stack decodes the usual one or two iovecs without allocating.
func IovecsTo(dst [][]byte, mem api.Memory, ptr, n uint32) ([][]byte, sys.Errno) {
	return Whole(mem).Iovecs(dst, ptr, n)
}

// String reads a guest string (ptr, len).
func String(mem api.Memory, ptr, n uint32) (string, sys.Errno) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "", sys.EFAULT
	}
	return string(b), sys.ESUCCESS
}

// Writable reports whether [ptr, ptr+n) is inside memory, so that results
// can be checked before an operation with side effects.
func Writable(mem api.Memory, ptr, n uint32) bool {
	_, ok := mem.Read(ptr, n)
	return ok
}

// PutU8, PutU16, PutU32 and PutU64 write one little-endian value.
func PutU8(mem api.Memory, ptr uint32, v uint8) sys.Errno {
	if !mem.WriteByte(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

func PutU16(mem api.Memory, ptr uint32, v uint16) sys.Errno {
	if !mem.WriteUint16Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

func PutU32(mem api.Memory, ptr, v uint32) sys.Errno {
	if !mem.WriteUint32Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

func PutU64(mem api.Memory, ptr uint32, v uint64) sys.Errno {
	if !mem.WriteUint64Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

// LE16, LE32 and LE64 decode little-endian values from b.
func LE16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func LE32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func LE64(b []byte) uint64 { return uint64(LE32(b)) | uint64(LE32(b[4:]))<<32 }

// Put16, Put32 and Put64 encode little-endian values into b.
func Put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func Put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func Put64(b []byte, v uint64) { Put32(b, uint32(v)); Put32(b[4:], uint32(v>>32)) }

// View is the whole of a guest memory as one byte slice, taken once at the
// start of a host call (Whole), so that decoding the call's iovecs and
// writing its result cost slice bounds checks instead of calls through
// api.Memory (a tenth of wazix's own work in a one-byte read). It holds
// for the call: a non-shared memory cannot grow while its only thread is
// in a host call, and a shared one keeps its buffer when another thread
// grows it (wazero allocates shared memories at their maximum; wazix's own
// memories are reserved address space), the view then not seeing the new
// pages. Every access is bounds-checked as through api.Memory.
type View []byte

// Whole returns the view of mem.
func Whole(mem api.Memory) View {
	b, _ := mem.Read(0, mem.Size())
	return b
}

// in reports whether [ptr, ptr+n) lies inside v.
func (v View) in(ptr, n uint32) bool { return uint64(ptr)+uint64(n) <= uint64(len(v)) }

// Iovecs decodes n iovec records (buf u32, len u32) at ptr into slices of
// the view, appending to dst[:0] (see IovecsTo).
func (v View) Iovecs(dst [][]byte, ptr, n uint32) ([][]byte, sys.Errno) {
	if uint64(ptr)+uint64(n)*8 > uint64(len(v)) {
		return nil, sys.EFAULT
	}
	raw := v[ptr:]
	if n > MaxIovecs {
		n = MaxIovecs
	}
	out := dst[:0]
	if cap(out) < int(n) {
		out = make([][]byte, 0, n)
	}
	for i := uint32(0); i < n; i++ {
		base, size := LE32(raw[i*8:]), LE32(raw[i*8+4:])
		if !v.in(base, size) {
			return nil, sys.EFAULT
		}
		// Capped, as api.Memory.Read's slices are: an append never
		// writes past the buffer into the rest of guest memory.
		end := int(base) + int(size)
		out = append(out, v[base:end:end])
	}
	return out, sys.ESUCCESS
}

// Writable reports whether [ptr, ptr+n) is inside the view.
func (v View) Writable(ptr, n uint32) bool { return v.in(ptr, n) }

// PutU32 writes one little-endian value.
func (v View) PutU32(ptr, val uint32) sys.Errno {
	if !v.in(ptr, 4) {
		return sys.EFAULT
	}
	Put32(v[ptr:], val)
	return sys.ESUCCESS
}
