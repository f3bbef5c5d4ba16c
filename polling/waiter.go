package polling

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// Waiter is one blocked guest thread. It is woken by any record it is
// attached to; it never spins.
type Waiter struct {
	ch chan struct{}
	fn func()
}

// NewWaiter returns a waiter with no pending wake-up.
func NewWaiter() *Waiter { return &Waiter{ch: make(chan struct{}, 1)} }

// NewNotifier returns a waiter that calls fn on every wake-up instead of
// being waited on: how a guest epoll instance hears about its fds. fn runs
// with the record's lock held, so it must be short and must not take the
// lock of any record it could be woken by.
func NewNotifier(fn func()) *Waiter { return &Waiter{fn: fn} }

// Wake marks the waiter runnable; wake-ups coalesce.
func (w *Waiter) Wake() {
	if w.fn != nil {
		w.fn()
		return
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Wait blocks until a wake-up, the deadline (zero time: none), ctx is done or
// the registry closes. It returns nil on wake-up or deadline,
// context.DeadlineExceeded never: callers compare the clock themselves.
func (w *Waiter) Wait(ctx context.Context, reg *Registry, deadline time.Time) error {
	return w.wait(ctx, reg, deadline, nil)
}

// wait is Wait that also returns ErrInterrupted when intr is closed.
func (w *Waiter) wait(ctx context.Context, reg *Registry, deadline time.Time, intr <-chan struct{}) error {
	if reg != nil && w.spin(reg, deadline) {
		return nil
	}
	var timer <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	var done <-chan struct{}
	if reg != nil {
		done = reg.done
		reg.sleep()
		defer reg.wake()
	}
	select {
	case <-w.ch:
		return nil
	case <-timer:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return ErrClosed
	case <-intr:
		return ErrInterrupted
	}
}

// spinTime is how long a waiter polls the host itself before it sleeps.
// Under load the next event usually arrives within microseconds; catching it
// on the waiting thread saves two thread wake-ups (the poller goroutine's and
// then the waiter's). An idle guest pays it once per wake-up.
const spinTime = 50 * time.Microsecond

// spin polls the registry on this thread for up to spinTime (never past
// deadline) and reports whether the waiter was woken meanwhile.
func (w *Waiter) spin(reg *Registry, deadline time.Time) bool {
	start := time.Now()
	end := start.Add(spinTime)
	if !deadline.IsZero() && deadline.Before(end) {
		end = deadline
	}
	for {
		select {
		case <-w.ch:
			return true
		default:
		}
		if reg.PollNow() == 0 {
			if !time.Now().Before(end) {
				return false
			}
			runtime.Gosched()
		}
	}
}

// WaitFor blocks until rec has any of bits set (or Hup/Err), ctx ends, or the
// registry closes.
func WaitFor(ctx context.Context, reg *Registry, rec *Record, bits uint32) error {
	if b, _ := rec.Bits(); b&(bits|Hup|Err) != 0 {
		return nil
	}
	var intr <-chan struct{}
	if f, ok := ctx.Value(interruptKey{}).(func() <-chan struct{}); ok {
		intr = f()
	}
	w := NewWaiter()
	rec.Attach(w)
	defer rec.Detach(w)
	for {
		if b, _ := rec.Bits(); b&(bits|Hup|Err) != 0 {
			return nil
		}
		if err := w.wait(ctx, reg, time.Time{}, intr); err != nil {
			return err
		}
	}
}

// ErrInterrupted is returned by WaitFor when the context's interrupt
// channel (WithInterrupt) closes: a signal for the waiting process.
var ErrInterrupted = errors.New("polling: wait interrupted")

type interruptKey struct{}

// WithInterrupt returns a context whose blocking waits (WaitFor) end with
// ErrInterrupted when the channel that current returns at the start of
// the wait is closed: how a signal sent to a process interrupts a thread
// blocked in a read, a write or an accept, as on Linux (EINTR). It is read
// only when a wait is about to sleep.
func WithInterrupt(ctx context.Context, current func() <-chan struct{}) context.Context {
	return context.WithValue(ctx, interruptKey{}, current)
}
