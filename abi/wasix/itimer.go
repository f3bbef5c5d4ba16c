package wasix

import (
	"context"
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// itimer is an armed interval timer of a process (setitimer, alarm): it
// raises its signal at next, then every every (0: once).
type itimer struct {
	t     *time.Timer
	next  time.Time
	every time.Duration
}

// setTimer arms the timer of sig to fire after first, then every every (0:
// once); a first of 0 disarms it. It returns what the timer had left
// before (0, 0 when it was not armed), as setitimer's old value.
func (p *process) setTimer(sig uint32, first, every time.Duration) (left, oldEvery time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.timers[sig]; old != nil {
		old.t.Stop()
		delete(p.timers, sig)
		left, oldEvery = max(time.Until(old.next), 0), old.every
	}
	if first <= 0 {
		return left, oldEvery
	}
	it := &itimer{next: time.Now().Add(first), every: every}
	it.t = time.AfterFunc(first, func() {
		p.queue(sig)
		p.mu.Lock()
		if p.timers[sig] == it {
			if it.every > 0 {
				it.next = time.Now().Add(it.every)
				it.t.Reset(it.every)
			} else {
				delete(p.timers, sig)
			}
		}
		p.mu.Unlock()
		// Wake a guest blocked in the host so that the signal is delivered.
		p.sys.Interrupt()
	})
	p.timers[sig] = it
	return left, oldEvery
}

// procRaiseInterval is proc_raise_interval(sig, interval: timestamp, repeat: bool) -> errno,
// behind alarm() and setitimer() in wasix-libc releases: sig is raised after
// interval, and then every interval if repeat. An interval of 0 cancels.
func procRaiseInterval(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	sig, interval, repeat := uint32(stack[0]), time.Duration(stack[1]), uint32(stack[2]) != 0
	if sig == 0 || sig > sigMax || int64(interval) < 0 {
		return sys.EINVAL
	}
	every := time.Duration(0)
	if repeat {
		every = interval
	}
	h.proc.setTimer(sig, interval, every)
	return sys.ESUCCESS
}

// itimervalSize is the size of WASIX's itimerval: it_interval then it_value,
// each a timeval of two u64s (seconds, microseconds), as musl's struct
// itimerval with its 64-bit time_t and suseconds_t.
const itimervalSize = 32

// procRaiseInterval2 is proc_raise_interval2(sig, new: *const itimerval,
// old: *itimerval) -> errno: setitimer(2). sig is raised once it_value has
// passed, then every it_interval (0: once); an it_value of 0 disarms. When
// old is not null it receives what the timer had left and its interval.
// Microseconds of a million or more are EINVAL, as setitimer(2); a bad
// pointer is EFAULT, and nothing changes.
func procRaiseInterval2(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	sig, newPtr, oldPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	if sig == 0 || sig > sigMax {
		return sys.EINVAL
	}
	mem := m.Memory()
	b, ok := mem.Read(newPtr, itimervalSize)
	if !ok {
		return sys.EFAULT
	}
	every, ok1 := timevalDuration(b[0:16])
	first, ok2 := timevalDuration(b[16:32])
	if !ok1 || !ok2 {
		return sys.EINVAL
	}
	if oldPtr != 0 && !guestmem.Writable(mem, oldPtr, itimervalSize) {
		return sys.EFAULT
	}
	left, oldEvery := h.proc.setTimer(sig, first, every)
	if oldPtr != 0 {
		out := make([]byte, itimervalSize)
		putTimeval(out[0:16], oldEvery)
		// A timer that fired but whose signal waits for the next host call
		// has nothing left: report the smallest time still armed, as Linux
		// never reports 0 for an armed timer.
		if left == 0 && oldEvery == 0 {
			putTimeval(out[16:32], 0)
		} else {
			putTimeval(out[16:32], max(left, time.Microsecond))
		}
		mem.Write(oldPtr, out)
	}
	return sys.ESUCCESS
}

// timevalDuration decodes a WASIX timeval {sec u64, usec u64}; ok is false
// for microseconds of a million or more and for durations past int64 ns.
func timevalDuration(b []byte) (time.Duration, bool) {
	sec, usec := guestmem.LE64(b), guestmem.LE64(b[8:])
	if usec >= 1_000_000 || sec > uint64(math.MaxInt64/int64(time.Second))-1 {
		return 0, false
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, true
}

// putTimeval encodes d as a WASIX timeval, rounded up to the microsecond.
func putTimeval(b []byte, d time.Duration) {
	us := (d + time.Microsecond - 1) / time.Microsecond
	guestmem.Put64(b, uint64(us/1_000_000))
	guestmem.Put64(b[8:], uint64(us%1_000_000))
}
