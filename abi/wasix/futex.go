package wasix

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// futexes are the host-side wait queues of one process, keyed by the byte
// offset of the futex word in the shared memory, in shards by address so
// that threads using unrelated futexes do not contend on one lock.
type futexes struct {
	shards [futexShards]futexShard
}

const futexShards = 64

// futexShard holds the queues of the addresses that hash to it. Checking
// the word and queueing happen under the same lock that wakers of that
// address take, so a wake that follows the guest's store to the word is
// never lost.
type futexShard struct {
	mu     sync.Mutex
	queues map[uint32][]*futexWaiter
}

func newFutexes() *futexes {
	f := &futexes{}
	for i := range f.shards {
		f.shards[i].queues = map[uint32][]*futexWaiter{}
	}
	return f
}

// shard returns the shard of addr (4-aligned: the low bits carry nothing).
func (f *futexes) shard(addr uint32) *futexShard {
	return &f.shards[(addr>>2)%futexShards]
}

type futexWaiter struct {
	ch chan struct{} // closed when woken
}

func (f *futexShard) queue(addr uint32) []*futexWaiter { return f.queues[addr] }

// remove drops w from addr's queue; false if a waker already took it.
func (f *futexShard) remove(addr uint32, w *futexWaiter) bool {
	q := f.queues[addr]
	for i, x := range q {
		if x == w {
			q = append(q[:i], q[i+1:]...)
			if len(q) == 0 {
				delete(f.queues, addr)
			} else {
				f.queues[addr] = q
			}
			return true
		}
	}
	return false
}

// wake wakes up to n waiters on addr and returns how many.
func (f *futexes) wake(addr uint32, n int) int {
	sh := f.shard(addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.wake(addr, n)
}

func (f *futexShard) wake(addr uint32, n int) int {
	q := f.queues[addr]
	if n > len(q) {
		n = len(q)
	}
	for i, w := range q[:n] {
		close(w.ch)
		q[i] = nil // not retained by the slice that stays
	}
	if n == len(q) {
		delete(f.queues, addr)
	} else {
		f.queues[addr] = q[n:]
	}
	return n
}

// futexAddr checks a futex word address: 4-aligned (EINVAL) and in memory (EFAULT).
func futexAddr(mem api.Memory, addr uint32) sys.Errno {
	if addr%4 != 0 {
		return sys.EINVAL
	}
	if !guestmem.Writable(mem, addr, 4) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

// futexWait is futex_wait(futex: *u32, expected: u32, timeout: *option_timestamp,
// ret_woken: *bool) -> errno. A word that does not hold expected returns at
// once with woken = 1 (as Wasmer, and as wasix-libc expects); otherwise the
// thread sleeps until futex_wake (woken = 1) or the relative timeout in ns
// (woken = 0); a null timeout pointer waits forever. Errors are only for bad
// pointers: wasix-libc traps on any.
func futexWait(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	addr, expected, tsPtr, wokenPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if errno := futexAddr(mem, addr); errno != sys.ESUCCESS {
		return errno
	}
	if !guestmem.Writable(mem, wokenPtr, 1) {
		return sys.EFAULT
	}
	var timeout <-chan time.Time
	if tsPtr != 0 {
		// A null pointer is no timeout, as in futex(2); otherwise the
		// option's tag says (NONE waits forever).
		ts, ok := mem.Read(tsPtr, 16)
		if !ok {
			return sys.EFAULT
		}
		if ts[0] == 1 {
			t := time.NewTimer(time.Duration(min(guestmem.LE64(ts[8:]), 1<<62)))
			defer t.Stop()
			timeout = t.C
		}
	}
	intr := h.sys.InterruptChan() // taken before the word is checked
	f := h.proc.futex.shard(addr)
	f.mu.Lock()
	if v := loadWord(mem, addr); v != expected {
		f.mu.Unlock()
		return guestmem.PutU8(mem, wokenPtr, 1)
	}
	w := &futexWaiter{ch: make(chan struct{})}
	f.queues[addr] = append(f.queue(addr), w)
	f.mu.Unlock()

	woken := uint8(1)
	interrupted := false
	select {
	case <-w.ch:
	case <-timeout:
		woken = 0
	case <-intr:
		// A signal for the process (futex(2) returns EINTR): it is
		// delivered when this call returns.
		woken, interrupted = 0, true
	case <-ctx.Done():
		woken = 0
	case <-h.sys.Registry.Done():
		woken = 0
	}
	if woken == 0 {
		f.mu.Lock()
		if !f.remove(addr, w) {
			woken = 1 // a waker took us just as the timeout fired
		}
		f.mu.Unlock()
		if ctx.Err() != nil || h.sys.Closed() || (interrupted && woken == 0) {
			return sys.EINTR
		}
	}
	return guestmem.PutU8(mem, wokenPtr, woken)
}

// futexWake is futex_wake(futex: *u32, ret_woken: *bool) -> errno: wakes one
// waiter; woken is always 1 (see futexWakeN).
func futexWake(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return h.futexWakeN(m, uint32(stack[0]), uint32(stack[1]), 1)
}

// futexWakeAll is futex_wake_all(futex: *u32, ret_woken: *bool) -> errno.
func futexWakeAll(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return h.futexWakeN(m, uint32(stack[0]), uint32(stack[1]), int(^uint(0)>>1))
}

func (h *host) futexWakeN(m api.Module, addr, wokenPtr uint32, n int) sys.Errno {
	mem := m.Memory()
	if errno := futexAddr(mem, addr); errno != sys.ESUCCESS {
		return errno
	}
	if !guestmem.Writable(mem, wokenPtr, 1) {
		return sys.EFAULT
	}
	h.proc.futex.wake(addr, n)
	// woken = 1 even when nobody waited, as Wasmer: older wasix-libc wakes
	// in a loop until woken is set, which would spin until some thread
	// happened to wait on the word.
	return guestmem.PutU8(mem, wokenPtr, 1)
}

// loadWord reads the futex word atomically: other guest threads store to it
// with atomic instructions while this host thread compares it. addr is
// 4-aligned and inside memory (futexAddr checked), and a memory's buffer is
// page-aligned, so the word is aligned for the atomic load.
func loadWord(mem api.Memory, addr uint32) uint32 {
	b, ok := mem.Read(addr, 4)
	if !ok {
		return 0
	}
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[0])))
}
