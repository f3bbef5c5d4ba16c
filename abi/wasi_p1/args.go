package wasi_p1

import (
	"context"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// argsGet is args_get(argv: i32, argv_buf: i32) -> errno.
func argsGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return writeStrings(m.Memory(), h.sys.Args, u32(stack[0]), u32(stack[1]))
}

// argsSizesGet is args_sizes_get(argc: *u32, argv_buf_size: *u32) -> errno.
func argsSizesGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return writeSizes(m.Memory(), h.sys.Args, u32(stack[0]), u32(stack[1]))
}

// environGet is environ_get(environ: i32, environ_buf: i32) -> errno.
func environGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return writeStrings(m.Memory(), h.sys.Environ, u32(stack[0]), u32(stack[1]))
}

// environSizesGet is environ_sizes_get(count: *u32, buf_size: *u32) -> errno.
func environSizesGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return writeSizes(m.Memory(), h.sys.Environ, u32(stack[0]), u32(stack[1]))
}

func writeSizes(mem api.Memory, list []string, countPtr, sizePtr uint32) sys.Errno {
	size := 0
	for _, s := range list {
		size += len(s) + 1
	}
	if !writable(mem, countPtr, 4) || !writable(mem, sizePtr, 4) {
		return sys.EFAULT
	}
	putU32(mem, countPtr, uint32(len(list)))
	return putU32(mem, sizePtr, uint32(size))
}

// writeStrings writes the pointer array at ptrs and the NUL-terminated
// strings at buf, as args_get and environ_get do.
func writeStrings(mem api.Memory, list []string, ptrs, buf uint32) sys.Errno {
	size := 0
	for _, s := range list {
		size += len(s) + 1
	}
	if uint64(len(list))*4 > math.MaxUint32 || uint64(size) > math.MaxUint32 {
		return sys.EFAULT // larger than any memory (mem.Read checks the rest)
	}
	pp, ok1 := mem.Read(ptrs, uint32(len(list))*4)
	bb, ok2 := mem.Read(buf, uint32(size))
	if !ok1 || !ok2 {
		return sys.EFAULT
	}
	off := 0
	for i, s := range list {
		put32(pp[i*4:], buf+uint32(off))
		copy(bb[off:], s)
		bb[off+len(s)] = 0
		off += len(s) + 1
	}
	return sys.ESUCCESS
}
