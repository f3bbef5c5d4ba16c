package wasi_p1

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// Short local names for the guest memory helpers. Functions, not variables
// holding them: a call through a variable is indirect, cannot be inlined
// and makes every argument escape.

func iovecs(mem api.Memory, ptr, n uint32) ([][]byte, sys.Errno) {
	return guestmem.Iovecs(mem, ptr, n)
}
func str(mem api.Memory, ptr, n uint32) (string, sys.Errno) { return guestmem.String(mem, ptr, n) }
func writable(mem api.Memory, ptr, n uint32) bool           { return guestmem.Writable(mem, ptr, n) }
func putU32(mem api.Memory, ptr, v uint32) sys.Errno        { return guestmem.PutU32(mem, ptr, v) }
func putU64(mem api.Memory, ptr uint32, v uint64) sys.Errno { return guestmem.PutU64(mem, ptr, v) }
func le16(b []byte) uint16                                  { return guestmem.LE16(b) }
func le32(b []byte) uint32                                  { return guestmem.LE32(b) }
func le64(b []byte) uint64                                  { return guestmem.LE64(b) }
func put16(b []byte, v uint16)                              { guestmem.Put16(b, v) }
func put32(b []byte, v uint32)                              { guestmem.Put32(b, v) }
func put64(b []byte, v uint64)                              { guestmem.Put64(b, v) }

// u32 reads a wasm i32 argument off the stack.
func u32(v uint64) uint32 { return uint32(v) }
