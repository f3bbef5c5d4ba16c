package sys

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// eventState is what poll_oneoff needs to know about an eventfd beyond its
// ready bits: whether the counter changed since poll_oneoff last reported
// it readable.
//
// mio's WASIX selector (tokio's driver) polls its waker and its "stall"
// eventfd with poll_oneoff and never reads them; it relies on Wasmer, which
// reports an event fd once per change of its counter. Reported again and
// again while the counter stays above zero (Linux's poll), such a guest
// never sleeps. So a poll_oneoff that would wait reports an eventfd only if
// it was written or read since its last report; one that does not wait
// (a clock that has expired) sees Linux's level: readable iff counter > 0.
type eventState struct {
	seq      atomic.Uint64 // bumped before every read and write of the counter
	reported atomic.Uint64 // seq+1 at the last poll_oneoff report; 0: never
}

// IsEventfd reports whether f is an eventfd.
func (f *HostFile) IsEventfd() bool {
	return f.kind == kindEventfd || f.kind == kindEventfdSem
}

// eventIO notes a read or write of an eventfd's counter. It runs before the
// syscall: a poller woken by the write's event must already see the change.
func (f *HostFile) eventIO() {
	if f.IsEventfd() {
		f.ev.seq.Add(1)
	}
}

// EventReport decides whether poll_oneoff reports a readable eventfd, and
// records the report. edge: the call would wait, so an eventfd already
// reported with no read or write since is not reported again.
func (f *HostFile) EventReport(edge bool) bool {
	cur := f.ev.seq.Load() + 1
	if edge && f.ev.reported.Load() == cur {
		return false
	}
	f.ev.reported.Store(cur)
	return true
}

// eventResync makes the record exact after the guest's own read or write of
// the counter, at once rather than when the host's event is dispatched:
// readable iff the counter is above 0, writable iff a write of 1 would not
// block (the counter is below 2^64-2). The host epoll is edge-triggered and
// the record's bits only accumulate, so without this a counter filled by a
// write would stay "writable", and an event harvested before a read that
// emptied the counter could be posted after it (a stale In wakes waiters
// for nothing, and a loop around them spins). It runs while the registry
// posts nothing (Quiet), with the generation read there, so no event older
// than its poll(2) lands after it.
//
// I/O on other fds uses it too, when a read or write said EAGAIN yet an
// event posted meanwhile kept the direction's bit set.
func (f *HostFile) eventResync() {
	if f.reg == nil {
		return
	}
	f.reg.Quiet(func() {
		bits, gen := f.rec.Bits()
		pfd := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLIN | unix.POLLOUT}}
		for {
			_, err := unix.Poll(pfd, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			break
		}
		for _, b := range [...]struct {
			poll int16
			bit  uint32
		}{{unix.POLLIN, polling.In}, {unix.POLLOUT, polling.Out}} {
			switch on := pfd[0].Revents&b.poll != 0; {
			case on && bits&b.bit == 0:
				f.rec.Post(b.bit) // wakes waiters now, not when the host event comes
			case !on:
				f.rec.Clear(b.bit, gen)
			}
		}
	})
}
