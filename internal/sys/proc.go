package sys

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/polling"
)

// DefaultMaxProcs is the default limit on live processes of one tree.
const DefaultMaxProcs = 256

// Procs is the process table of one tree of guest processes: the first
// guest and every process it forks or spawns, and theirs. It gives out
// pids, records who is whose parent and keeps each exit status until the
// parent collects it (proc_join).
type Procs struct {
	mu    sync.Mutex
	next  uint32
	procs map[uint32]*procEntry
	live  int
	max   int
	// created counts the processes made after the first (forks, spawns).
	created int
	// running counts the goroutines that run processes of the table
	// other than the first, so that its end can wait for them.
	running sync.WaitGroup
}

// Started and Done bracket the goroutine that runs a forked or spawned
// process; Wait waits for every such goroutine.
func (p *Procs) Started() { p.running.Add(1) }

// Done: see Started.
func (p *Procs) Done() { p.running.Done() }

// KillAll ends every live process of the table but first (the top process,
// already ending) and waits until they are gone.
func (p *Procs) KillAll(first *System) {
	p.mu.Lock()
	var live []*System
	for _, e := range p.procs {
		if !e.exited && e.sys != first {
			live = append(live, e.sys)
		}
	}
	p.mu.Unlock()
	for _, s := range live {
		s.TermSignal.CompareAndSwap(0, 9)
		s.End(128+9, nil)
	}
	p.running.Wait()
}

// procEntry is one process of the table, alive or a zombie.
type procEntry struct {
	sys    *System
	ppid   uint32
	exited bool
	status WaitStatus
}

// WaitStatus is how a process ended: with an exit code, or killed by a
// signal.
type WaitStatus struct {
	Code   uint32
	Signal uint32 // non-zero: killed by this signal
}

// NewProcs returns an empty process table that holds at most max live
// processes (DefaultMaxProcs when max <= 0).
func NewProcs(max int) *Procs {
	if max <= 0 {
		max = DefaultMaxProcs
	}
	return &Procs{next: 1, procs: map[uint32]*procEntry{}, max: max}
}

// add gives s a pid as a child of ppid (0: the first process).
func (p *Procs) add(s *System, ppid uint32) Errno {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live >= p.max {
		return EAGAIN
	}
	for p.procs[p.next] != nil || p.next == 0 {
		p.next++
	}
	s.Pid, s.Ppid, s.Procs = p.next, ppid, p
	p.next++
	if ppid != 0 {
		p.created++
	}
	p.procs[s.Pid] = &procEntry{sys: s, ppid: ppid}
	p.live++
	return ESUCCESS
}

// Lookup returns the live process pid.
func (p *Procs) Lookup(pid uint32) *System {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.procs[pid]; e != nil && !e.exited {
		return e.sys
	}
	return nil
}

// sigCHLD is the signal a parent gets when a child ends (Linux numbering).
const sigCHLD = 17

// Exited records that process s ended with st, wakes its parent's joins
// and hands its own children to no one (they are reaped when they end).
func (p *Procs) Exited(s *System, st WaitStatus) {
	p.mu.Lock()
	e := p.procs[s.Pid]
	if e == nil || e.exited {
		p.mu.Unlock()
		return
	}
	e.exited, e.status = true, st
	p.live--
	var parent *System
	if pe := p.procs[e.ppid]; pe != nil && !pe.exited {
		parent = pe.sys
	} else {
		delete(p.procs, s.Pid) // nobody will wait for it
	}
	for pid, c := range p.procs {
		if c.ppid == s.Pid {
			c.ppid = 0
			if c.exited {
				delete(p.procs, pid)
			}
		}
	}
	p.mu.Unlock()
	if parent != nil {
		// SIGCHLD first, so that a parent woken from its wait finds the
		// signal queued and runs its handler on the way back. It does not
		// interrupt a blocking call: wasix-libc registers its dispatcher in
		// every program that forks, so the host cannot tell a program that
		// handles SIGCHLD from one that ignores it, and an ignored signal
		// must not turn a read into EINTR.
		if parent.Signal != nil {
			parent.Signal(sigCHLD)
		}
		parent.childGen.Add(1)
		parent.children.Post(polling.In)
	}
}

// Reap collects an ended child of parent: pid 0 means any. found is false
// when such a child exists but is still running; ECHILD when there is none.
func (p *Procs) Reap(parent, pid uint32) (child uint32, st WaitStatus, found bool, e Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	any := false
	for cpid, c := range p.procs {
		if c.ppid != parent || pid != 0 && cpid != pid {
			continue
		}
		any = true
		if c.exited {
			delete(p.procs, cpid)
			return cpid, c.status, true, ESUCCESS
		}
	}
	if !any {
		return 0, WaitStatus{}, false, ECHILD
	}
	return 0, WaitStatus{}, false, ESUCCESS
}

// Created returns how many processes were made after the first.
func (p *Procs) Created() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.created
}

// All returns the live processes.
func (p *Procs) All() []*System {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*System
	for _, e := range p.procs {
		if !e.exited {
			out = append(out, e.sys)
		}
	}
	return out
}

// Handles reports whether the process runs a handler for sig.
func (s *System) Handles(sig uint32) bool { return s.Handler != nil && s.Handler(sig) }

// Live returns the number of live processes.
func (p *Procs) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// procState is the part of System that belongs to the process model.
type procState struct {
	// Pid and Ppid are the process's id and its parent's (0: none).
	Pid, Ppid uint32
	// Procs is the table of the tree the process belongs to.
	Procs *Procs

	// children is posted, and childGen advanced, when a child ends, so
	// that proc_join can wait for it like any other readiness.
	children *polling.Record
	childGen atomic.Uint64

	// Signal sends a signal to the process from another one (kill); set
	// by the WASIX module.
	Signal func(sig uint32)
	// Handler reports whether the guest handles sig (set by the WASIX module).
	Handler func(sig uint32) bool

	// SigPending counts the signals queued for the process, so that the
	// check after every host call is one atomic load; Deliver (set by the
	// WASIX module) delivers them in the calling thread m.
	SigPending atomic.Int32
	Deliver    func(ctx context.Context, m api.Module)

	// SignalDispositions are the dispositions the process inherited, as
	// proc_signals_get gives them: {sig, disposition} byte pairs.
	SignalDispositions []byte

	// TermSignal is the signal whose default action ended the process.
	TermSignal atomic.Uint32

	// regRefs counts the processes sharing Registry (a fork shares its
	// parent's): the last to close stops it.
	regRefs *atomic.Int32
}

// ChildRecord is the record proc_join waits on; ChildGen tells whether a
// child ended since a previous read.
func (s *System) ChildRecord() *polling.Record { return s.children }

// ChildGen counts the children that ended so far.
func (s *System) ChildGen() uint64 { return s.childGen.Load() }

// JoinProcs makes s the first process of a new table procs.
func (s *System) JoinProcs(procs *Procs) Errno { return procs.add(s, 0) }

// Fork returns a new process, a child of s: its fd table refers to the same
// objects as s's (shared offsets, as after fork(2)), it shares s's
// readiness registry, and it starts with copies of s's args, environment
// and policies. With exec, fds marked close-on-exec are left out. Fork
// fails with EAGAIN past the table's process limit.
func (s *System) Fork(exec bool) (*System, Errno) {
	c := &System{
		Table:         s.Table.Clone(exec),
		Registry:      s.Registry,
		Random:        s.Random,
		Args:          append([]string(nil), s.Args...),
		Environ:       append([]string(nil), s.Environ...),
		WASIX:         s.WASIX,
		MaxThreads:    s.MaxThreads,
		Net:           s.Net,
		AllowClockSet: s.AllowClockSet,
		Wrap:          s.Wrap,
		FS:            s.FS.Share(),
		intr:          polling.NewRecord(0),
		monoBase:      s.monoBase,
		startNano:     s.startNano,
	}
	c.children = polling.NewRecord(0)
	c.wrapFrom(s)
	c.regRefs = s.regRefs
	c.regRefs.Add(1)
	c.realtimeOffset.Store(s.realtimeOffset.Load())
	procs := s.Procs
	if procs == nil {
		procs = NewProcs(0)
		s.JoinProcs(procs)
	}
	if e := procs.add(c, s.Pid); e != ESUCCESS {
		c.Table.CloseAll()
		c.regRefs.Add(-1)
		return nil, e
	}
	return c, ESUCCESS
}

// Exec returns the process that will replace s in an exec: the same pid,
// parent and children, with args and env. It gets s's fds with TakeOver,
// once s's threads have stopped.
func (s *System) Exec(args, env []string) *System {
	c := &System{
		Table:         NewTable(s.Table.max),
		Registry:      s.Registry,
		Random:        s.Random,
		Args:          args,
		Environ:       env,
		WASIX:         s.WASIX,
		MaxThreads:    s.MaxThreads,
		Net:           s.Net,
		AllowClockSet: s.AllowClockSet,
		Wrap:          s.Wrap,
		FS:            s.FS.Share(),
		intr:          polling.NewRecord(0),
		monoBase:      s.monoBase,
		startNano:     s.startNano,
	}
	c.Pid, c.Ppid, c.Procs = s.Pid, s.Ppid, s.Procs
	c.SignalDispositions = s.SignalDispositions
	c.children = s.children
	c.wrapFrom(s)
	c.regRefs = s.regRefs
	c.regRefs.Add(1)
	c.realtimeOffset.Store(s.realtimeOffset.Load())
	return c
}

// TakeOver completes the exec of old into s: s gets old's fds but those
// marked close-on-exec and its place in the process table; old is left
// with no fds, to be closed.
func (s *System) TakeOver(old *System) {
	s.Table, old.Table = old.Table, s.Table
	s.FS.Retarget(old, s)
	s.Table.CloseOnExec()
	s.childGen.Store(old.childGen.Load())
	if p := s.Procs; p != nil {
		p.mu.Lock()
		if e := p.procs[s.Pid]; e != nil && e.sys == old {
			e.sys = s
		}
		p.mu.Unlock()
	}
}

// SwapProcess exchanges the identity of s and o — fd table, pid, parent and
// their places in the process table — for vfork, where the instance bound
// to s acts as the child for a while.
func (s *System) SwapProcess(o *System) {
	s.Table, o.Table = o.Table, s.Table
	s.Pid, o.Pid = o.Pid, s.Pid
	s.Ppid, o.Ppid = o.Ppid, s.Ppid
	if p := s.Procs; p != nil {
		p.mu.Lock()
		if e := p.procs[s.Pid]; e != nil {
			e.sys = s
		}
		if e := p.procs[o.Pid]; e != nil {
			e.sys = o
		}
		p.mu.Unlock()
	}
}

// Forget removes process s from the table as if it never was: a spawn that
// failed after its child was made leaves no zombie.
func (p *Procs) Forget(s *System) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.procs[s.Pid]; e != nil && e.sys == s {
		delete(p.procs, s.Pid)
		if !e.exited {
			p.live--
		}
	}
}

// wrapFrom gives c, a process made from s, s's host function wrapper, or
// its own when s has WrapFor.
func (c *System) wrapFrom(s *System) {
	if s.WrapFor != nil {
		c.WrapFor = s.WrapFor
		c.Wrap = s.WrapFor(c)
	}
}
