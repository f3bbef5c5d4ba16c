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
	procState

	Table    *Table
	Registry *polling.Registry
	Args     []string
	Environ  []string // "KEY=value"
	Random   io.Reader

	// FS is the guest's tree of mounts, for WASIX path rules (fs.go).
	FS *FS

	// WASIX selects WASIX semantics where they differ from preview1's
	// (fd_renumber is dup2, preopens cannot be closed, signals are delivered).
	WASIX bool
	// Raise delivers a signal to the guest (set by the WASIX module).
	Raise func(ctx context.Context, m api.Module, sig uint32) Errno
	// ExitSignal tells, for an exit with code, the signal the process
	// really dies of, or 0 (set by the WASIX module: wasix-libc's abort()
	// exits 127 with its SIGABRT still blocked).
	ExitSignal func(code uint32) uint32

	// Threads: the id of each guest thread's instance (api.Module -> uint32;
	// absent = the main thread) and the limit on live threads (main included).
	ThreadIDs  sync.Map
	MaxThreads int

	// The end of the process (see End): the first exit wins.
	endOnce sync.Once
	ended   atomic.Bool
	endMu   sync.Mutex
	endCode uint32
	endErr  error
	onEnd   []func()

	// Net is the network policy: which addresses bind, connect and sendto
	// may use (see netpolicy.go). The zero value allows nothing.
	Net NetPolicy
	// Denied counts operations the policies refused, for --trace.
	Denied DenyCounter

	// Wrap, when set before the host modules are built, wraps every host
	// function (see HostFunc); the tracer uses it.
	Wrap HostWrapper
	// WrapFor, when set, gives each process that Fork or Exec makes from
	// this one its own Wrap (the tracer's view of that process: its pid,
	// threads and fds); without it the child keeps Wrap as it is.
	WrapFor func(*System) HostWrapper

	// AllowClockSet lets the guest set its realtime clock (clock_time_set),
	// as an offset seen only by this guest.
	AllowClockSet  bool
	realtimeOffset atomic.Int64

	// intr is posted by Interrupt; blocking waits attach to it so that a
	// signal raised asynchronously (an interval timer) interrupts them.
	// threadIntr counts the interrupts addressed to one thread (tid ->
	// *atomic.Uint64), so that a signal for one thread interrupts only its
	// waits.
	intr       *polling.Record
	intrGen    atomic.Uint64
	threadIntr sync.Map
	// intrCh is closed by the next Interrupt (made on first use): blocking
	// reads, writes, accepts and futex waits select on it.
	intrCh atomic.Pointer[chan struct{}]
	// instMu serializes the closes of the process's instances
	// (CloseInstance).
	instMu sync.Mutex

	monoBase  int64 // host CLOCK_MONOTONIC at start, ns
	startNano int64 // runtime nanotime when monoBase was read

	closeOnce sync.Once
	closed    atomic.Bool
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

// End ends the guest process with code, or with err when a thread trapped:
// proc_exit from any thread, a trap in any thread, the main thread
// returning. Only the first call counts; it runs the functions registered
// with OnEnd (which stop every other thread) and reports true.
func (s *System) End(code uint32, err error) bool {
	first := false
	s.endOnce.Do(func() {
		first = true
		s.endMu.Lock()
		s.endCode, s.endErr = code, err
		fs := s.onEnd
		s.onEnd = nil
		s.ended.Store(true)
		s.endMu.Unlock()
		for _, f := range fs {
			f()
		}
	})
	return first
}

// Ended reports whether End was called. It is one atomic load: host
// functions check it to stop a thread whose process has ended.
func (s *System) Ended() bool { return s.ended.Load() }

// ExitStatus returns what End recorded; ok is false before End.
func (s *System) ExitStatus() (code uint32, err error, ok bool) {
	if !s.ended.Load() {
		return 0, nil, false
	}
	s.endMu.Lock()
	defer s.endMu.Unlock()
	return s.endCode, s.endErr, true
}

// OnEnd registers f to run when the process ends (at once if it has).
func (s *System) OnEnd(f func()) {
	s.endMu.Lock()
	if !s.ended.Load() {
		s.onEnd = append(s.onEnd, f)
		s.endMu.Unlock()
		return
	}
	s.endMu.Unlock()
	f()
}

// NewSystem returns a System with an empty fd table and a running registry.
func NewSystem(maxFds int) (*System, error) {
	reg, err := polling.New()
	if err != nil {
		return nil, err
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	s := &System{
		Table:     NewTable(maxFds),
		Registry:  reg,
		Random:    rand.Reader,
		intr:      polling.NewRecord(0),
		monoBase:  ts.Nano(),
		startNano: nanotime(),
	}
	s.children = polling.NewRecord(0)
	s.regRefs = new(atomic.Int32)
	s.regRefs.Store(1)
	s.FS = newFS(s)
	return s, nil
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
		s.FS.Close()
		s.closed.Store(true)
		if s.regRefs.Add(-1) == 0 {
			s.Registry.Close()
		}
	})
}

// Interrupt wakes every guest thread blocked in a wait, which then returns
// EINTR, as a signal interrupts a blocking system call.
func (s *System) Interrupt() {
	s.intrGen.Add(1)
	s.intr.Post(polling.In)
	if c := s.intrCh.Swap(nil); c != nil {
		close(*c)
	}
}

// InterruptChan returns a channel that the next Interrupt closes. A wait
// takes it before it sleeps; blocking waits that are not built on the
// interrupt record (host fd I/O through polling.WithInterrupt, futexes)
// end with EINTR on it.
func (s *System) InterruptChan() <-chan struct{} {
	for {
		if c := s.intrCh.Load(); c != nil {
			return *c
		}
		c := make(chan struct{})
		if s.intrCh.CompareAndSwap(nil, &c) {
			return c
		}
	}
}

// InterruptThread wakes the waits of guest thread tid, which then return
// EINTR (a signal sent to that thread); other threads' waits go on.
func (s *System) InterruptThread(tid uint32) {
	c, _ := s.threadIntr.LoadOrStore(tid, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(1)
	s.intr.Post(polling.In)
}

// ThreadGone forgets the interrupt count of a thread that ended.
func (s *System) ThreadGone(tid uint32) { s.threadIntr.Delete(tid) }

// InterruptRecord is the record blocking waits attach to, and
// InterruptGen the counter that tells them whether they were interrupted.
func (s *System) InterruptRecord() *polling.Record { return s.intr }

// InterruptGen returns the number of interrupts of the whole process so far.
func (s *System) InterruptGen() uint64 { return s.intrGen.Load() }

// InterruptGenOf returns the number of interrupts that concern the thread
// whose instance is m: those of the whole process and those sent to it.
// A blocking wait returns EINTR when it changes.
func (s *System) InterruptGenOf(m api.Module) uint64 {
	g := s.intrGen.Load()
	if c, ok := s.threadIntr.Load(s.TidOf(m)); ok {
		g += c.(*atomic.Uint64).Load()
	}
	return g
}

// MainTid is the id of the guest's main thread (WASIX: = the pid, 1).
const MainTid = 1

// TidOf returns the thread id of instance m: its entry in ThreadIDs, or the
// main thread's.
func (s *System) TidOf(m api.Module) uint32 {
	if tid, ok := s.ThreadIDs.Load(m); ok {
		return tid.(uint32)
	}
	return MainTid
}

// CloseInstance closes m, an instance of this process (its main
// instance or a thread's), with exit code code. The instances of a
// process's threads share its memory, and wazero releases a memory in
// the Close of every instance that uses it: closes made by wazix are
// serialized here. (wazero's own, inside a call on a runtime configured
// WithCloseOnContextDone, are not: see the allocator choice in Launch.)
func (s *System) CloseInstance(ctx context.Context, m api.Module, code uint32) {
	s.instMu.Lock()
	defer s.instMu.Unlock()
	_ = m.CloseWithExitCode(ctx, code)
}

// Closed reports whether Close was called.
func (s *System) Closed() bool { return s.closed.Load() }

// Clock ids (preview1).
const (
	ClockRealtime       = 0
	ClockMonotonic      = 1
	ClockProcessCputime = 2
	ClockThreadCputime  = 3
)

// Monotonic reads the monotonic clock in nanoseconds: Now(ClockMonotonic),
// small enough to be inlined into a host function.
func (s *System) Monotonic() uint64 { return uint64(s.monoBase + nanotime() - s.startNano) }

// Now reads clock id in nanoseconds.
func (s *System) Now(id uint32) (uint64, Errno) {
	switch id {
	case ClockRealtime:
		return uint64(time.Now().UnixNano() + s.realtimeOffset.Load()), ESUCCESS
	case ClockMonotonic:
		return s.Monotonic(), ESUCCESS
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
