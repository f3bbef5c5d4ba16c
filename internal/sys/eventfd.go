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

// eventAfterRead keeps In exact after a read of an eventfd: a plain read
// empties the counter; a semaphore read decrements it, and poll(2) says
// whether anything is left. gen was read before the read, so an event that
// raced with it keeps In set.
func (f *HostFile) eventAfterRead(gen uint64) {
	if f.kind == kindEventfdSem && f.ready(unix.POLLIN) {
		return
	}
	f.rec.Clear(polling.In, gen)
}
