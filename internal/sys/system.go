package sys

import (
	"context"
	"crypto/rand"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// System is the state of one guest process, shared by both ABIs and all
// guest threads: the fd table, the readiness registry, args, env, clocks.
type System struct {
	Table    *Table
	Registry *polling.Registry
	Args     []string
	Environ  []string // "KEY=value"
	Random   io.Reader

	// WASIX selects WASIX semantics where they differ from preview1's
	// (fd_renumber is dup2, preopens cannot be closed, signals are delivered).
	WASIX bool
	// Raise delivers a signal to the guest (set by the WASIX module).
	Raise func(ctx context.Context, m api.Module, sig uint32) Errno

	// Threads: the id of each guest thread's instance (api.Module -> uint32;
	// absent = the main thread), the limit on threads, and how a thread
	// other than the main one ends (set by the threads support).
	ThreadIDs  sync.Map
	MaxThreads int
	ThreadExit func(ctx context.Context, m api.Module, code uint32)

	// Net is the network policy: which addresses bind, connect and sendto
	// may use (see netpolicy.go). The zero value allows nothing.
	Net NetPolicy
	// Denied counts operations the policies refused, for --trace.
	Denied DenyCounter

	// AllowClockSet lets the guest set its realtime clock (clock_time_set),
	// as an offset seen only by this guest.
	AllowClockSet  bool
	realtimeOffset atomic.Int64

	// intr is posted by Interrupt; blocking waits attach to it so that a
	// signal raised asynchronously (an interval timer) interrupts them.
	intr    *polling.Record
	intrGen atomic.Uint64

	monoBase  int64 // host CLOCK_MONOTONIC at start, ns
	startTime time.Time

	closeOnce sync.Once
	onClose   []func()
	onCloseMu sync.Mutex
}

// OnClose registers f to run when the system closes (restoring a terminal
// mode, stopping timers).
func (s *System) OnClose(f func()) {
	s.onCloseMu.Lock()
	s.onClose = append(s.onClose, f)
	s.onCloseMu.Unlock()
}

// NewSystem returns a System with an empty fd table and a running registry.
func NewSystem(maxFds int) (*System, error) {
	reg, err := polling.New()
	if err != nil {
		return nil, err
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return &System{
		Table:     NewTable(maxFds),
		Registry:  reg,
		Random:    rand.Reader,
		intr:      polling.NewRecord(0),
		monoBase:  ts.Nano(),
		startTime: time.Now(),
	}, nil
}

// Close closes every fd and stops the registry. Safe to call twice.
func (s *System) Close() {
	s.closeOnce.Do(func() {
		s.onCloseMu.Lock()
		fs := s.onClose
		s.onCloseMu.Unlock()
		for i := len(fs) - 1; i >= 0; i-- {
			fs[i]()
		}
		s.Table.CloseAll()
		s.Registry.Close()
	})
}

// Interrupt wakes every guest thread blocked in a wait, which then returns
// EINTR, as a signal interrupts a blocking system call.
func (s *System) Interrupt() {
	s.intrGen.Add(1)
	s.intr.Post(polling.In)
}

// InterruptRecord is the record blocking waits attach to, and
// InterruptGen the counter that tells them whether they were interrupted.
func (s *System) InterruptRecord() *polling.Record { return s.intr }

// InterruptGen returns the number of interrupts so far.
func (s *System) InterruptGen() uint64 { return s.intrGen.Load() }

// Closed reports whether Close was called.
func (s *System) Closed() bool {
	select {
	case <-s.Registry.Done():
		return true
	default:
		return false
	}
}

// Clock ids (preview1).
const (
	ClockRealtime       = 0
	ClockMonotonic      = 1
	ClockProcessCputime = 2
	ClockThreadCputime  = 3
)

// Now reads clock id in nanoseconds.
func (s *System) Now(id uint32) (uint64, Errno) {
	switch id {
	case ClockRealtime:
		return uint64(time.Now().UnixNano() + s.realtimeOffset.Load()), ESUCCESS
	case ClockMonotonic:
		return uint64(s.monoBase + int64(time.Since(s.startTime))), ESUCCESS
	case ClockProcessCputime, ClockThreadCputime:
		host := unix.CLOCK_PROCESS_CPUTIME_ID
		if id == ClockThreadCputime {
			host = unix.CLOCK_THREAD_CPUTIME_ID
		}
		var ts unix.Timespec
		if err := unix.ClockGettime(int32(host), &ts); err != nil {
			return 0, ErrnoOf(err)
		}
		return uint64(ts.Nano()), ESUCCESS
	}
	return 0, EINVAL
}

// SetRealtime makes the guest's realtime clock read t (ns) now.
func (s *System) SetRealtime(t uint64) {
	s.realtimeOffset.Store(int64(t) - time.Now().UnixNano())
}

// Resolution reports the resolution of clock id in nanoseconds.
func (s *System) Resolution(id uint32) (uint64, Errno) {
	if id > ClockThreadCputime {
		return 0, EINVAL
	}
	return 1, ESUCCESS
}

// Deadline converts a clock subscription to a host time: relative timeouts
// count from now; absolute ones are converted through the named clock.
func (s *System) Deadline(id uint32, timeout uint64, abs bool) (time.Time, Errno) {
	now := time.Now()
	if id != ClockRealtime && id != ClockMonotonic {
		return time.Time{}, EINVAL
	}
	if !abs {
		if timeout > uint64(1<<62) {
			timeout = 1 << 62
		}
		return now.Add(time.Duration(timeout)), ESUCCESS
	}
	cur, _ := s.Now(id)
	if timeout <= cur {
		return now, ESUCCESS
	}
	d := timeout - cur
	if d > uint64(1<<62) {
		d = 1 << 62
	}
	return now.Add(time.Duration(d)), ESUCCESS
}
