package wasi_p1

import "github.com/wazix/wazix/internal/guestmem"

// Short local names for the guest memory helpers.
var (
	iovecs   = guestmem.Iovecs
	str      = guestmem.String
	writable = guestmem.Writable
	putU32   = guestmem.PutU32
	putU64   = guestmem.PutU64
	le16     = guestmem.LE16
	le32     = guestmem.LE32
	le64     = guestmem.LE64
	put16    = guestmem.Put16
	put32    = guestmem.Put32
	put64    = guestmem.Put64
)

// u32 reads a wasm i32 argument off the stack.
func u32(v uint64) uint32 { return uint32(v) }
