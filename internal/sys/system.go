package sys

import (
	"crypto/rand"
	"io"
	"sync"
	"time"

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

	monoBase  int64 // host CLOCK_MONOTONIC at start, ns
	startTime time.Time

	closeOnce sync.Once
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
		monoBase:  ts.Nano(),
		startTime: time.Now(),
	}, nil
}

// Close closes every fd and stops the registry. Safe to call twice.
func (s *System) Close() {
	s.closeOnce.Do(func() {
		s.Table.CloseAll()
		s.Registry.Close()
	})
}

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
		return uint64(time.Now().UnixNano()), ESUCCESS
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
