package polling

import (
	"sync"
)

// Record is the readiness of one object (a host fd or an in-memory object
// such as a pipe or an event fd). It is shared by every waiter on the object.
type Record struct {
	id  uint64
	fd  int
	reg *Registry

	mu      sync.Mutex
	bits    uint32
	gen     uint64 // InGen in the high half, OutGen in the low half
	always  bool
	waiters []*Waiter
}

// NewRecord returns a record not backed by a host fd; its owner posts and
// clears bits itself (in-memory pipes, event fds, guest epoll instances).
func NewRecord(initial uint32) *Record { return &Record{bits: initial} }

var alwaysReady = &Record{always: true, bits: In | Out}

// AlwaysReady returns the shared record of objects whose I/O never blocks
// (regular files, directories): readable and writable at all times.
func AlwaysReady() *Record { return alwaysReady }

// IsAlways reports whether the record is always ready.
func (r *Record) IsAlways() bool { return r.always }

// Bits returns the current ready bits and the generation they belong to.
func (r *Record) Bits() (bits uint32, gen uint64) {
	if r.always {
		return In | Out, 0
	}
	r.mu.Lock()
	bits, gen = r.bits, r.gen
	r.mu.Unlock()
	return
}

// Generations count events separately for the two directions, so that a
// write-side event (EPOLLOUT after a read drained a buffer) does not keep a
// reader's Clear from taking effect.
const (
	inSide  = In | RdHup | Hup | Err | Pri
	outSide = Out | Hup | Err
)

// bump advances the generation halves that bits touch.
func (r *Record) bump(bits uint32) {
	if bits&inSide != 0 || bits == 0 {
		r.gen += 1 << 32
	}
	if bits&outSide != 0 || bits == 0 {
		r.gen = r.gen&^0xffffffff | uint64(uint32(r.gen)+1)
	}
}

// GenFor returns the part of gen that changes with events on the side of
// bits (In-side, Out-side or both), for comparing generations.
func GenFor(gen uint64, bits uint32) uint64 {
	var g uint64
	if bits&inSide != 0 {
		g |= gen &^ 0xffffffff
	}
	if bits&outSide != 0 {
		g |= gen & 0xffffffff
	}
	return g
}

// Post sets bits and wakes every waiter.
func (r *Record) Post(bits uint32) {
	if r.always {
		return
	}
	r.mu.Lock()
	r.bits |= bits
	r.bump(bits)
	ws := r.waiters
	for _, w := range ws {
		w.Wake()
	}
	r.mu.Unlock()
}

// Set replaces the bits (for owners that know the full state) and wakes
// waiters when a bit was added.
func (r *Record) Set(bits uint32) {
	if r.always {
		return
	}
	r.mu.Lock()
	added := bits &^ r.bits
	r.bits = bits
	r.bump(0) // the whole state was replaced: both sides moved
	if added != 0 {
		for _, w := range r.waiters {
			w.Wake()
		}
	}
	r.mu.Unlock()
}

// Clear removes bits if no event on their side arrived since generation gen
// was read. I/O code calls it after EAGAIN (or a read that drained the fd)
// with the generation read before the syscall.
func (r *Record) Clear(bits uint32, gen uint64) {
	if r.always {
		return
	}
	r.mu.Lock()
	if GenFor(r.gen, bits) == GenFor(gen, bits) {
		r.bits &^= bits
	}
	r.mu.Unlock()
}

// Attach registers w to be woken on every change of r.
func (r *Record) Attach(w *Waiter) {
	if r.always {
		return
	}
	r.mu.Lock()
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
}

// Detach undoes Attach.
func (r *Record) Detach(w *Waiter) {
	if r.always {
		return
	}
	r.mu.Lock()
	for i, x := range r.waiters {
		if x == w {
			last := len(r.waiters) - 1
			r.waiters[i] = r.waiters[last]
			r.waiters[last] = nil
			r.waiters = r.waiters[:last]
			break
		}
	}
	r.mu.Unlock()
}
