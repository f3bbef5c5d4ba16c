package wasix

import (
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// forkAllocator backs a forked child's memories with anonymous mappings
// that reserve, up front, room for the parent's current size (or the
// memory's maximum, up to limit bytes when limit > 0): growing the child's
// memory to its parent's size then neither copies nor clears anything, and
// the kernel hands out zero pages only where the copy writes. The mapping
// goes back to the kernel when the instance closes.
func forkAllocator(parentSize, limit uint64) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, maxBytes uint64) experimental.LinearMemory {
		reserve := max(capacity, parentSize, maxBytes)
		if limit > 0 {
			reserve = min(reserve, max(limit, capacity))
		}
		const ceiling = 1 << 32 // wasm32
		reserve = min(reserve, ceiling)
		b, err := unix.Mmap(-1, 0, int(reserve), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			// No address space left: an ordinary buffer.
			return &mappedMemory{buf: make([]byte, 0, max(capacity, parentSize))}
		}
		// Transparent huge pages where the kernel has them: the copy of the
		// parent then faults in 2 MiB at a time, not 4 KiB.
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
		return &mappedMemory{buf: b[:0], mapped: b}
	})
}

type mappedMemory struct {
	buf    []byte
	mapped []byte // nil when buf is a Go buffer
}

// Reallocate implements experimental.LinearMemory: the reserved buffer
// never moves (as a shared memory requires); past it growth fails.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.buf)) {
		return nil
	}
	m.buf = m.buf[:size]
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *mappedMemory) Free() {
	if m.mapped != nil {
		unix.Munmap(m.mapped)
		m.mapped, m.buf = nil, nil
	}
}
