package wasi_p1

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// maxIovecs bounds one vectored call, like the host's IOV_MAX; a longer list
// is served partially, which POSIX allows for readv/writev.
const maxIovecs = 1024

// iovecs decodes n iovec records (buf u32, len u32) at ptr into slices of
// guest memory. Any record outside memory gives EFAULT.
func iovecs(mem api.Memory, ptr, n uint32) ([][]byte, sys.Errno) {
	size := uint64(n) * 8
	if size > uint64(mem.Size()) {
		return nil, sys.EFAULT
	}
	raw, ok := mem.Read(ptr, uint32(size))
	if !ok {
		return nil, sys.EFAULT
	}
	if n > maxIovecs {
		n = maxIovecs
	}
	out := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		buf := le32(raw[i*8:])
		l := le32(raw[i*8+4:])
		b, ok := mem.Read(buf, l)
		if !ok {
			return nil, sys.EFAULT
		}
		out = append(out, b)
	}
	return out, sys.ESUCCESS
}

// str reads a guest string (ptr, len).
func str(mem api.Memory, ptr, n uint32) (string, sys.Errno) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "", sys.EFAULT
	}
	return string(b), sys.ESUCCESS
}

// writable checks that [ptr, ptr+n) is inside memory, so that results can be
// written after an operation with side effects.
func writable(mem api.Memory, ptr, n uint32) bool {
	_, ok := mem.Read(ptr, n)
	return ok
}

func putU32(mem api.Memory, ptr, v uint32) sys.Errno {
	if !mem.WriteUint32Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

func putU64(mem api.Memory, ptr uint32, v uint64) sys.Errno {
	if !mem.WriteUint64Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func put64(b []byte, v uint64) { put32(b, uint32(v)); put32(b[4:], uint32(v>>32)) }

// u32 and i64 read wasm arguments off the stack.
func u32(v uint64) uint32 { return uint32(v) }
