package sys

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wazix/wazix/polling"
)

// Epoll event bits, Linux values (what polling.Record bits use), plus the
// two mode bits.
const (
	EpollIn      = polling.In
	EpollOut     = polling.Out
	EpollRdHup   = polling.RdHup
	EpollPri     = polling.Pri
	EpollErr     = polling.Err
	EpollHup     = polling.Hup
	EpollET      = 1 << 31
	EpollOneShot = 1 << 30
)

// EpollEvent is one reported event: the ready bits and the guest's data,
// echoed verbatim.
type EpollEvent struct {
	Events uint32
	Data   [24]byte
}

// Epoll is a guest epoll instance: a persistent interest set over the same
// readiness records as poll_oneoff, with Linux semantics: level-triggered by
// default, EPOLLET and EPOLLONESHOT, HUP and ERR always reported, one event
// per fd with all its ready bits.
//
// Records notify the instance through a notifier; a notified interest goes
// on the dirty list and the instance's own record is posted, which wakes
// epoll_wait and anything polling the epoll fd itself. Wait then re-checks
// only the dirty and the still-ready interests: its cost is O(ready), not
// O(registered).
type Epoll struct {
	table *Table
	rec   *polling.Record // the epoll fd's own readiness

	mu        sync.Mutex // interests, ready
	interests map[uint32]*interest
	ready     []*interest // level-triggered interests still ready, in report order

	dmu   sync.Mutex // dirty; a leaf lock taken by notifiers
	dirty []*interest

	closed atomic.Bool
}

type interest struct {
	ep       *Epoll
	fd       uint32
	file     File
	events   uint32 // requested bits, with EpollET / EpollOneShot
	data     [24]byte
	disabled bool   // ONESHOT reported, until MOD
	lastGen  uint64 // record generation at the last edge-triggered report
	reported bool   // edge-triggered: reported since lastGen
	inReady  bool
	dropped  bool // no longer registered (under ep.mu)
	dirtyF   atomic.Bool
	notifier *polling.Waiter
}

// NewEpoll returns an empty epoll instance over table's fds.
func NewEpoll(table *Table) *Epoll {
	return &Epoll{table: table, rec: polling.NewRecord(0), interests: map[uint32]*interest{}}
}

// Filetype implements File.
func (ep *Epoll) Filetype() Filetype { return FiletypeUnknown }

// Record implements File: readable when Wait would report an event.
func (ep *Epoll) Record() *polling.Record { return ep.rec }

// Close implements File: every interest is dropped.
func (ep *Epoll) Close() error {
	ep.closed.Store(true)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for fd, it := range ep.interests {
		it.file.Record().Detach(it.notifier)
		it.dropped = true
		delete(ep.interests, fd)
	}
	ep.ready = nil
	return nil
}

// markDirty runs from a record's notifier.
func (it *interest) markDirty() {
	ep := it.ep
	if !it.dirtyF.Swap(true) {
		ep.dmu.Lock()
		ep.dirty = append(ep.dirty, it)
		ep.dmu.Unlock()
	}
	ep.rec.Post(polling.In)
}

// contains reports whether ep watches other, directly or through nested
// epoll instances (to refuse loops).
func (ep *Epoll) contains(other *Epoll, depth int) bool {
	if ep == other {
		return true
	}
	if depth > 5 {
		return true // Linux's nesting limit
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for _, it := range ep.interests {
		if inner, ok := it.file.(*Epoll); ok && inner.contains(other, depth+1) {
			return true
		}
	}
	return false
}

// Ctl operations.
const (
	EpollCtlAdd = iota
	EpollCtlMod
	EpollCtlDel
	EpollCtlUpsert // ADD if absent, MOD if present
)

// Ctl adds, modifies or removes the interest in fd.
func (ep *Epoll) Ctl(op int, fd uint32, events uint32, data [24]byte) Errno {
	e, errno := ep.table.Get(fd)
	if errno != ESUCCESS {
		return errno
	}
	f := e.File
	if inner, ok := f.(*Epoll); ok {
		if inner == ep {
			return EINVAL
		}
		if op != EpollCtlDel && inner.contains(ep, 0) {
			return ELOOP
		}
	}
	if f.Record().IsAlways() && op != EpollCtlDel {
		// Regular files and directories: Linux's epoll refuses them.
		return EPERM
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	it := ep.interests[fd]
	if it != nil && it.file != f {
		// The fd was closed and reused since it was registered.
		ep.dropLocked(it)
		it = nil
	}
	switch op {
	case EpollCtlAdd:
		if it != nil {
			return EEXIST
		}
	case EpollCtlMod, EpollCtlDel:
		if it == nil {
			return ENOENT
		}
	case EpollCtlUpsert:
		if it == nil {
			op = EpollCtlAdd
		} else {
			op = EpollCtlMod
		}
	default:
		return EINVAL
	}
	switch op {
	case EpollCtlDel:
		ep.dropLocked(it)
	case EpollCtlAdd:
		it = &interest{ep: ep, fd: fd, file: f, events: events, data: data}
		it.notifier = polling.NewNotifier(it.markDirty)
		ep.interests[fd] = it
		f.Record().Attach(it.notifier)
		it.markDirty() // evaluate the current state at the next wait
	case EpollCtlMod:
		it.events, it.data, it.disabled, it.reported = events, data, false, false
		it.markDirty()
	}
	return ESUCCESS
}

func (ep *Epoll) dropLocked(it *interest) {
	it.file.Record().Detach(it.notifier)
	delete(ep.interests, it.fd)
	it.disabled = true // a dirty-list entry for it is ignored
	it.dropped = true
	if it.inReady {
		for i, x := range ep.ready {
			if x == it {
				ep.ready = append(ep.ready[:i], ep.ready[i+1:]...)
				break
			}
		}
		it.inReady = false
	}
}

// refresher is an object whose cached bits can be stale (a blocking host fd
// we do not own, a nested epoll) and that can bring them up to date.
type refresher interface{ Refresh() }

// Refresh brings the epoll fd's own readiness up to date: readable iff a
// Wait now would report something.
func (ep *Epoll) Refresh() {
	ep.mu.Lock()
	n := ep.collectLocked(nil, 1, true)
	ep.mu.Unlock()
	if n > 0 {
		ep.rec.Post(polling.In)
	} else {
		_, gen := ep.rec.Bits()
		ep.rec.Clear(polling.In, gen)
	}
}

// collectLocked moves dirty interests to the ready list and reports up to
// max events into out (nil: only count, and change no state when peek).
func (ep *Epoll) collectLocked(out []EpollEvent, max int, peek bool) int {
	ep.dmu.Lock()
	dirty := ep.dirty
	ep.dirty = nil
	ep.dmu.Unlock()
	for _, it := range dirty {
		it.dirtyF.Store(false)
		if !it.inReady && !it.disabled && !it.dropped {
			it.inReady = true
			ep.ready = append(ep.ready, it)
		}
	}
	n := 0
	var keep []*interest
	var requeue []*interest
	for i, it := range ep.ready {
		if n >= max {
			keep = append(keep, ep.ready[i:]...)
			break
		}
		if it.disabled || it.dropped {
			it.inReady = false
			continue
		}
		if cur, errno := ep.table.Get(it.fd); errno != ESUCCESS || cur.File != it.file {
			// Closed (or closed and reused): the registration goes with it.
			ep.dropLocked(it)
			continue
		}
		if r, ok := it.file.(refresher); ok {
			r.Refresh()
		}
		bits, gen := it.file.Record().Bits()
		want := it.events&(EpollIn|EpollOut|EpollRdHup|EpollPri) | EpollErr | EpollHup
		ev := bits & want
		if ev == 0 {
			it.inReady = false
			continue
		}
		dir := it.events & (EpollIn | EpollOut | EpollRdHup | EpollPri)
		if it.events&EpollET != 0 && it.reported && polling.GenFor(it.lastGen, dir) == polling.GenFor(gen, dir) {
			// Nothing new since the last report of this edge.
			it.inReady = false
			continue
		}
		if peek {
			n++
			keep = append(keep, it)
			continue
		}
		if out != nil {
			out[n] = EpollEvent{Events: ev, Data: it.data}
		}
		n++
		switch {
		case it.events&EpollOneShot != 0:
			it.disabled = true
			it.inReady = false
		case it.events&EpollET != 0:
			it.reported, it.lastGen = true, gen
			it.inReady = false
		default:
			requeue = append(requeue, it) // level: stays ready, goes to the back
		}
	}
	ep.ready = append(keep, requeue...)
	return n
}

// Wait fills out with up to len(out) events, waiting until at least one is
// ready, the deadline passes (zero: forever; a past deadline: no wait), ctx
// ends or intr changes (a signal). It returns the number of events.
func (ep *Epoll) Wait(ctx context.Context, reg *polling.Registry, out []EpollEvent, deadline time.Time, intr *polling.Record, intrGen func() uint64) (int, Errno) {
	gen0 := intrGen()
	var w *polling.Waiter
	defer func() {
		if w != nil {
			ep.rec.Detach(w)
			intr.Detach(w)
		}
	}()
	drained := false
	for {
		_, recGen := ep.rec.Bits()
		ep.mu.Lock()
		n := ep.collectLocked(out, len(out), false)
		pending := len(ep.ready) > 0
		ep.mu.Unlock()
		if n == 0 && !drained && reg != nil {
			// Host events may be pending but not yet dispatched: dispatch
			// them now and look again before deciding nothing is ready.
			drained = true
			reg.Drain()
			continue
		}
		if !pending && n == 0 {
			ep.rec.Clear(polling.In, recGen)
		}
		if n > 0 {
			return n, ESUCCESS
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, ESUCCESS
		}
		if intrGen() != gen0 {
			return 0, EINTR
		}
		if w == nil {
			w = polling.NewWaiter()
			ep.rec.Attach(w)
			intr.Attach(w)
			continue
		}
		if err := w.Wait(ctx, reg, deadline); err != nil {
			return 0, EINTR
		}
	}
}
