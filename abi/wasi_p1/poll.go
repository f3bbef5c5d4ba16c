package wasi_p1

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/polling"
)

// Event types and flags of poll_oneoff.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2

	subclockAbstime = 1
	eventHangup     = 1
)

// Subscription and event sizes. wasi_unstable's clock subscription carries an
// extra 8-byte identifier, which makes its subscriptions 56 bytes.
const (
	subSize         = 48
	subSizeUnstable = 56
	eventSize       = 32
)

// subscription is one decoded poll_oneoff subscription.
type subscription struct {
	userdata uint64
	tag      uint8
	// clock
	deadline time.Time
	never    bool // a clock that never fires (WASIX: see decodeSubscription)
	// fd
	fd    uint32
	entry *sys.Entry
	// errno decided while decoding (bad fd, bad clock); reported as an event.
	errno sys.Errno
}

// subPool recycles decoded subscriptions: a server polls the same large set
// over and over, and allocating it each time shows up as GC work.
var subPool = sync.Pool{New: func() any { return new([]subscription) }}

// pollOneoff is poll_oneoff(in: *subscription, out: *event, nsubscriptions: size, nevents: *size) -> errno.
//
// It is a view over the readiness registry: each fd subscription reads its
// object's record; only when nothing has fired does the caller attach one
// waiter to every record and sleep until a record changes or the earliest
// clock deadline passes. Events are written only for subscriptions that fired.
func pollOneoff(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	in, out, nsubs, neventsPtr := u32(stack[0]), u32(stack[1]), u32(stack[2]), u32(stack[3])
	if nsubs == 0 {
		return sys.EINVAL
	}
	mem := m.Memory()
	size := uint64(subSize)
	if h.unstable {
		size = subSizeUnstable
	}
	if uint64(nsubs)*size > uint64(mem.Size()) || uint64(nsubs)*eventSize > uint64(mem.Size()) {
		return sys.EFAULT
	}
	raw, ok := mem.Read(in, uint32(uint64(nsubs)*size))
	if !ok {
		return sys.EFAULT
	}
	evBuf, ok := mem.Read(out, nsubs*eventSize)
	if !ok || !writable(mem, neventsPtr, 4) {
		return sys.EFAULT
	}
	if nsubs == 1 {
		if n, done := h.pollOne(raw, evBuf); done {
			return putU32(mem, neventsPtr, n)
		}
	}
	sp := subPool.Get().(*[]subscription)
	defer func() {
		clear(*sp) // drop entry pointers so pooled slices keep nothing alive
		subPool.Put(sp)
	}()
	if cap(*sp) < int(nsubs) {
		*sp = make([]subscription, nsubs)
	}
	subs := (*sp)[:nsubs]
	for i := range subs {
		h.decodeSubscription(raw[uint64(i)*size:], &subs[i])
	}
	// Decode into a private copy, then compute, then write: in and out may overlap.
	n, errno := h.pollWait(ctx, m, subs, evBuf)
	if errno != sys.ESUCCESS {
		return errno
	}
	return putU32(mem, neventsPtr, n)
}

// pollOne is the fast path of a single subscription that has fired already:
// a clock that is due (Go's and libc's sleep(0) and poll(…, 0), a timer
// loop) or a ready fd. It answers without the pool, the waiter or the
// interrupt check, which matter only to a call that waits; done is false
// when the call must take the general path.
func (h *host) pollOne(raw, evBuf []byte) (n uint32, done bool) {
	var s subscription
	if raw[8] == eventClock && !h.unstable && le16(raw[40:]) == 0 && le64(raw[24:]) == 0 && le64(raw[32:]) == 0 {
		// A relative timeout of 0 with precision 0: due now, on any valid
		// clock, without reading one (WASIX's "never" needs a precision).
		if id := le32(raw[16:]); id == sys.ClockRealtime || id == sys.ClockMonotonic {
			writeEvent(evBuf, le64(raw), 0, eventClock, 0, 0)
			return 1, true
		}
	}
	h.decodeSubscription(raw, &s)
	switch {
	case s.errno != sys.ESUCCESS:
		writeEvent(evBuf, s.userdata, s.errno, s.tag, 0, 0)
		return 1, true
	case s.tag == eventClock:
		if s.never || time.Now().Before(s.deadline) {
			return 0, false
		}
		writeEvent(evBuf, s.userdata, 0, eventClock, 0, 0)
		return 1, true
	}
	// An fd: seen as a call that would wait sees it (edge), as in pollWait
	// when no clock has expired.
	fired, errno, nbytes, flags := fdReady(&s, true)
	if !fired {
		return 0, false
	}
	writeEvent(evBuf, s.userdata, errno, s.tag, nbytes, flags)
	return 1, true
}

func (h *host) decodeSubscription(b []byte, s *subscription) {
	s.userdata = le64(b)
	s.tag = b[8]
	switch s.tag {
	case eventClock:
		u := b[16:]
		if h.unstable {
			u = b[24:] // skip the identifier
		}
		id, timeout, precision, flags := le32(u), le64(u[8:]), le64(u[16:]), le16(u[24:])
		abs := flags&subclockAbstime != 0
		if h.sys.WASIX && !abs && timeout == 0 && precision != 0 && (id == sys.ClockRealtime || id == sys.ClockMonotonic) {
			// Wasmer ignores a relative clock of 0 ns (no timeout at all),
			// and mio's WASIX selector asks for "no timeout" that way (with
			// a 1 ms precision). wasix-libc never sends 0 for a timeout
			// except in ioctl(FIONREAD), and upstream wasi-libc's poll(…, 0)
			// does, both with precision 0: those keep preview1's meaning,
			// expire at once.
			s.never = true
			return
		}
		s.deadline, s.errno = h.sys.Deadline(id, timeout, abs)
	case eventFdRead, eventFdWrite:
		s.fd = le32(b[16:])
		e, errno := h.sys.Table.Get(s.fd)
		if errno != sys.ESUCCESS {
			s.errno = errno
			return
		}
		s.entry = e
	default:
		s.errno = sys.EINVAL
	}
}

// pollWait fills evBuf with the events of the subscriptions that fired and
// returns how many there are, blocking until at least one fires. It
// returns EINTR when a signal or the guest's cancellation interrupts the wait.
func (h *host) pollWait(ctx context.Context, m api.Module, subs []subscription, evBuf []byte) (uint32, sys.Errno) {
	var w *polling.Waiter
	intrGen := h.sys.InterruptGenOf(m)
	defer func() {
		if w != nil {
			for i := range subs {
				if subs[i].entry != nil {
					subs[i].entry.File.Record().Detach(w)
				}
			}
			h.sys.InterruptRecord().Detach(w)
		}
	}()
	// A call that will not wait (a clock already expired) sees event fds
	// level-triggered, as Linux's poll; one that would wait reports an event
	// fd once per change (see sys.eventState).
	edge := true
	start := time.Now()
	for i := range subs {
		if subs[i].tag == eventClock && subs[i].errno == sys.ESUCCESS && !subs[i].never && !start.Before(subs[i].deadline) {
			edge = false
		}
	}
	drained := false
	for {
		now := time.Now()
		n := uint32(0)
		idleHost, fdFired := false, false
		var earliest time.Time
		for i := range subs {
			s := &subs[i]
			if s.errno != sys.ESUCCESS {
				writeEvent(evBuf[n*eventSize:], s.userdata, s.errno, s.tag, 0, 0)
				n++
				continue
			}
			switch s.tag {
			case eventClock:
				if s.never {
					continue
				}
				if !now.Before(s.deadline) {
					writeEvent(evBuf[n*eventSize:], s.userdata, 0, eventClock, 0, 0)
					n++
				} else if earliest.IsZero() || s.deadline.Before(earliest) {
					earliest = s.deadline
				}
			case eventFdRead, eventFdWrite:
				if fired, errno, nbytes, flags := fdReady(s, edge); fired {
					writeEvent(evBuf[n*eventSize:], s.userdata, errno, s.tag, nbytes, flags)
					n++
					fdFired = true
				} else if !s.entry.File.Record().IsAlways() {
					idleHost = true
				}
			}
		}
		if idleHost && !fdFired && !drained {
			// No fd is ready as far as the cached bits say, but host events
			// may be pending and not yet dispatched by the poller: dispatch
			// them now and look again, so that this call sees what Linux's
			// poll would see (a zero timeout must not hide a ready fd). Not
			// when something fired: one epoll_wait costs several times a
			// whole poll_oneoff, and Go's runtime polls with a zero timeout
			// on its hot path.
			drained = true
			h.sys.Registry.Drain()
			continue
		}
		if n > 0 {
			return n, sys.ESUCCESS
		}
		if h.sys.InterruptGenOf(m) != intrGen {
			return 0, sys.EINTR // a signal arrived: the guest handles it first
		}
		if w == nil {
			// Attach before sleeping, then check again, so that a change
			// between the check above and the attach is not lost.
			w = polling.NewWaiter()
			h.sys.InterruptRecord().Attach(w)
			for i := range subs {
				if subs[i].entry != nil {
					subs[i].entry.File.Record().Attach(w)
				}
			}
			continue
		}
		if err := w.Wait(ctx, h.sys.Registry, earliest); err != nil {
			return 0, sys.EINTR // the guest is being torn down
		}
	}
}

// fdReady checks one fd subscription against its record. edge: the call
// would wait (see sys.HostFile.EventReport).
func fdReady(s *subscription, edge bool) (fired bool, errno sys.Errno, nbytes uint64, flags uint16) {
	f := s.entry.File
	hf, _ := f.(*sys.HostFile)
	counted := false // nbytes is known already
	if hf != nil && s.tag == eventFdRead && hf.CachedBitsStale() {
		// Bytes waiting make the fd readable, as poll(2) would say: one
		// ioctl answers both questions (a stdin pipe with data).
		if v, ok := hf.BytesReadable(); ok && v > 0 {
			nbytes, counted = v, true
		} else {
			hf.Refresh()
		}
	} else if r, ok := f.(interface{ Refresh() }); ok {
		// Cached bits that can be stale: a blocking host fd we do not own, an
		// epoll fd, an eventfd (see sys.HostFile.Refresh).
		r.Refresh()
	}
	rec := f.Record()
	bits, _ := rec.Bits()
	hup := bits&(polling.Hup|polling.Err) != 0
	if s.tag == eventFdRead {
		if bits&(polling.In|polling.RdHup|polling.Hup|polling.Err|polling.Pri) == 0 {
			return false, 0, 0, 0
		}
		if bits&polling.RdHup != 0 {
			hup = true
		}
		if hf != nil {
			if hf.IsEventfd() && !hf.EventReport(edge) {
				return false, 0, 0, 0
			}
			// nbytes where the host knows it; 0 where it does not (a
			// listening socket, a device without FIONREAD).
			if !counted {
				nbytes, _ = hf.BytesReadable()
			}
		}
	} else {
		if bits&(polling.Out|polling.Hup|polling.Err) == 0 {
			return false, 0, 0, 0
		}
	}
	if hup {
		flags = eventHangup
	}
	return true, 0, nbytes, flags
}

func writeEvent(b []byte, userdata uint64, errno sys.Errno, tag uint8, nbytes uint64, flags uint16) {
	clear(b[:eventSize])
	put64(b[0:], userdata)
	put16(b[8:], uint16(errno))
	b[10] = tag
	put64(b[16:], nbytes)
	put16(b[24:], flags)
}
