package wasix

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// forkAllocator backs a forked child's memories with anonymous mappings
// that reserve, up front, room for the parent's current size (or the
// memory's maximum, up to limit bytes when limit > 0): growing the child's
// memory to its parent's size then neither copies nor clears anything, and
// the kernel hands out zero pages only where the copy writes. The mapping
// goes back to the kernel when the instance closes.
func forkAllocator(parentSize, limit uint64, busy func() bool) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, maxBytes uint64) experimental.LinearMemory {
		m := reserveMemory(max(capacity, parentSize), max(capacity, parentSize, maxBytes), limit, busy)
		if m.mapped != nil {
			// Transparent huge pages where the kernel has them: the copy of
			// the parent then faults in 2 MiB at a time, not 4 KiB.
			_ = unix.Madvise(m.mapped, unix.MADV_HUGEPAGE)
		}
		return m
	})
}

// reservingAllocator backs a process's memories with anonymous mappings
// that reserve address space for the memory's maximum (at most limit bytes
// when limit > 0) without committing it: memory.grow then never copies or
// clears the memory (wazero's own allocator reallocates and copies a Go
// buffer as the memory grows; a Go guest grows its memory many times at
// start-up), pages cost only once touched, and they go back to the kernel
// when the instance closes rather than when the garbage collector runs.
// Growth past limit fails, which the guest sees as memory.grow returning -1.
// busy reports whether guest code may still run on a closed instance's
// memory (threads that did not stop): its pages are then released but the
// range stays mapped, so that such a thread never faults the host.
// mapped false makes Go buffers instead, fixed at the limit (or maximum).
func reservingAllocator(limit uint64, busy func() bool, mapped bool) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, maxBytes uint64) experimental.LinearMemory {
		if !mapped {
			size := max(capacity, maxBytes)
			if limit > 0 {
				size = max(capacity, min(maxBytes, limit))
			}
			return &mappedMemory{buf: make([]byte, 0, size)}
		}
		return reserveMemory(capacity, max(capacity, maxBytes), limit, busy)
	})
}

// canReserve reports whether this host lets a process reserve 4 GiB of
// address space without committing it (not under RLIMIT_AS or strict
// overcommit); where it does not, wazero's own allocator is kept.
var canReserve = sync.OnceValue(func() bool {
	b, err := unix.Mmap(-1, 0, 1<<32, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return false
	}
	unix.Munmap(b)
	return true
})

// reserveMemory maps reserve bytes (bounded by limit and by 4 GiB); if
// that fails it falls back to a Go buffer of fallback bytes (at least
// limit's worth when there is a limit), which cannot move either.
func reserveMemory(fallback, reserve, limit uint64, busy func() bool) *mappedMemory {
	if limit > 0 {
		reserve = min(reserve, max(limit, fallback))
		fallback = max(fallback, reserve)
	}
	const ceiling = 1 << 32 // wasm32
	reserve = min(reserve, ceiling)
	b, err := unix.Mmap(-1, 0, int(reserve), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		// No address space left: an ordinary buffer.
		return &mappedMemory{buf: make([]byte, 0, fallback)}
	}
	return &mappedMemory{buf: b[:0], mapped: b, busy: busy}
}

// deferredFree is reservingAllocator's mapped form for the memories a
// module imports, which the instances of a process's threads share: wazero
// frees a memory when the first instance using it closes (a thread that
// ended, while the others run on), so Free does nothing for these and the
// process frees them once it has closed everything (*list, release).
func deferredFree(limit uint64, busy func() bool, list *[]*mappedMemory) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, maxBytes uint64) experimental.LinearMemory {
		m := reserveMemory(capacity, max(capacity, maxBytes), limit, busy)
		m.deferred = true
		*list = append(*list, m)
		return m
	})
}

type mappedMemory struct {
	buf      []byte
	mapped   []byte      // nil when buf is a Go buffer
	busy     func() bool // see reservingAllocator; nil: never busy
	deferred bool        // Free does nothing: see deferredFree
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
	if m.deferred {
		return
	}
	m.release()
}

// release gives the memory back to the kernel.
func (m *mappedMemory) release() {
	if m.mapped == nil {
		return
	}
	if m.busy != nil && m.busy() {
		// A thread that did not stop may still touch it: give the pages
		// back but keep the range, which then reads as zeros.
		_ = unix.Madvise(m.mapped, unix.MADV_DONTNEED)
		return
	}
	unix.Munmap(m.mapped)
	m.mapped, m.buf = nil, nil
}
