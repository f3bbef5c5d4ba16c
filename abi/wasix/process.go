package wasix

import (
	"context"
	"errors"
	"sync"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/sys"
)

// process is the WASIX state of one guest process beyond the fd table:
// current directory, signal handler and pending signals, interval timers.
type process struct {
	sys *sys.System

	mu      sync.Mutex
	cwd     string // absolute guest path
	handler string // export called with (sig) to deliver a signal; "" = none
	pending []uint32
	// delivering are the signals whose handlers are running, innermost last.
	delivering []uint32
	// tpending are the signals sent to one thread (thread_signal), by tid.
	tpending map[uint32][]uint32
	timers   map[uint32]*itimer

	futex *futexes
	tty   ttyState
	fork  asyncifyState
	// vforks are the vforks in progress on the process's instance.
	vforks []*vforkFrame

	// 2022 thread_local_*: keys (with their user data) and per-thread values.
	tlsNext uint32
	tlsKeys map[uint32]uint64
	tls     map[tlsKey]uint64
}

func newProcess(s *sys.System) *process {
	p := &process{sys: s, cwd: "/", timers: map[uint32]*itimer{},
		futex:   newFutexes(),
		tlsKeys: map[uint32]uint64{}, tls: map[tlsKey]uint64{}, tpending: map[uint32][]uint32{}}
	s.OnClose(func() {
		p.mu.Lock()
		for sig, t := range p.timers {
			t.t.Stop()
			delete(p.timers, sig)
		}
		p.mu.Unlock()
	})
	return p
}

// Signals (WASIX numbering = Linux).
const (
	sigINT  = 2
	sigQUIT = 3
	sigABRT = 6
	sigKILL = 9
	sigPIPE = 13
	sigALRM = 14
	sigTERM = 15
	sigMax  = 31

	sigCONT = 18
	sigSTOP = 19
	sigTSTP = 20
	sigTTIN = 21
	sigTTOU = 22
)

// raise delivers sig to the calling thread now (proc_raise, thread_signal
// on self): the guest's handler runs before the call returns.
func (h *host) raise(ctx context.Context, m api.Module, sig uint32) sys.Errno {
	if sig > sigMax {
		return sys.EINVAL
	}
	if sig == 0 {
		return sys.ESUCCESS
	}
	h.deliver(ctx, m, sig)
	return sys.ESUCCESS
}

// queue makes sig pending; it is delivered at the next WASIX call.
func (p *process) queue(sig uint32) {
	p.mu.Lock()
	p.pending = append(p.pending, sig)
	p.sys.SigPending.Add(1)
	p.mu.Unlock()
}

// threadEnded drops what belonged to thread tid: its thread-local values
// and the signals still queued for it.
func (p *process) threadEnded(tid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sys.SigPending.Add(-int32(len(p.tpending[tid])))
	delete(p.tpending, tid)
	for k := range p.tls {
		if k.tid == tid {
			delete(p.tls, k)
		}
	}
}

// tlsDestructor is the export a 2022 guest has thread-local values destroyed
// with, when a thread ends: (user_data low, high, value low, high).
const tlsDestructor = "_thread_local_destroy"

// destroyThreadLocals calls the guest's _thread_local_destroy, in the ending
// thread m, for each non-zero 2022 thread-local value of thread tid, with the
// user data of its key (as Wasmer did), and drops the values. A trap or an
// exit in the destructor is returned.
func (h *host) destroyThreadLocals(ctx context.Context, m api.Module, tid uint32) error {
	type pair struct{ userData, value uint64 }
	var todo []pair
	p := h.proc
	p.mu.Lock()
	for k, v := range p.tls {
		if k.tid != tid {
			continue
		}
		if ud, ok := p.tlsKeys[k.key]; ok && v != 0 {
			todo = append(todo, pair{ud, v})
		}
		delete(p.tls, k)
	}
	p.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	f := m.ExportedFunction(tlsDestructor)
	if f == nil || len(f.Definition().ResultTypes()) != 0 ||
		!sameTypes(f.Definition().ParamTypes(), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}) {
		return nil
	}
	for _, d := range todo {
		if _, err := f.Call(ctx, d.userData&0xFFFFFFFF, d.userData>>32, d.value&0xFFFFFFFF, d.value>>32); err != nil {
			return err
		}
	}
	return nil
}

// inherit copies what a forked child takes from its parent: the current
// directory and the signal handler.
func (p *process) inherit(parent *process) {
	parent.mu.Lock()
	cwd, handler := parent.cwd, parent.handler
	parent.mu.Unlock()
	p.mu.Lock()
	p.cwd, p.handler = cwd, handler
	p.mu.Unlock()
}

// deliverPending delivers queued signals (from timers or other threads).
func (h *host) deliverPending(ctx context.Context, m api.Module) {
	p := h.proc
	if p.sys.SigPending.Load() == 0 {
		return
	}
	if p.fork.unwinding(m) {
		return // no guest code runs while the stack is saved
	}
	p.mu.Lock()
	sigs := p.pending
	p.pending = nil
	if len(p.tpending) > 0 {
		tid := h.tidOf(m)
		sigs = append(sigs, p.tpending[tid]...)
		delete(p.tpending, tid)
	}
	p.sys.SigPending.Add(-int32(len(sigs)))
	p.mu.Unlock()
	if len(sigs) == 0 {
		return
	}
	for _, sig := range sigs {
		h.deliver(ctx, m, sig)
	}
}

// deliver runs the guest's signal handler for sig, or the default action
// when none is registered: the job-control signals and those ignored by
// default do nothing; every other ends the process with 128+sig, as a shell
// reports a death by signal.
func (h *host) deliver(ctx context.Context, m api.Module, sig uint32) {
	h.proc.mu.Lock()
	name := h.proc.handler
	h.proc.mu.Unlock()
	if name != "" && sig != sigKILL {
		f := m.ExportedFunction(name)
		if f == nil {
			// While wasix-libc blocks signals (fork, exit) it registers a
			// callback it does not export, "__wasm_signal_blocked": the
			// signal waits for the next host call, as in Wasmer.
			h.proc.queue(sig)
			return
		}
		saved := stackGlobals(m)
		h.proc.mu.Lock()
		h.proc.delivering = append(h.proc.delivering, sig)
		h.proc.mu.Unlock()
		_, err := f.Call(ctx, uint64(sig))
		h.proc.mu.Lock()
		h.proc.delivering = h.proc.delivering[:len(h.proc.delivering)-1]
		h.proc.mu.Unlock()
		if err == nil {
			return
		}
		var exit *wsys.ExitError
		if errors.As(err, &exit) {
			panic(err) // the handler exited
		}
		// A trap in the handler. wasix-libc's dispatcher traps for a signal
		// the program never set a disposition for (its default handler is
		// unset until the first sigaction), after it took a stack frame and
		// named its blocked-signals callback: the handler never returned, so
		// what it changed on the way is put back, and the default action
		// applies, as it would have on Linux (SIGCHLD, sent for every child
		// that ends, is ignored); a trapping handler of the program's own is
		// a death by that signal too.
		saved.restore()
		h.proc.mu.Lock()
		h.proc.handler = name
		h.proc.mu.Unlock()
	}
	switch {
	case !ignoredByDefault(sig) && !stopOrContinue(sig):
		code := 128 + sig
		h.sys.TermSignal.CompareAndSwap(0, sig)
		h.sys.End(code, nil)
		h.sys.CloseInstance(ctx, m, code)
		panic(wsys.NewExitError(code))
	}
}

// stopOrContinue reports the job-control signals, which stop or continue
// a process on Linux and do nothing here.
func stopOrContinue(sig uint32) bool {
	return sig == sigSTOP || sig == sigTSTP || sig == sigCONT || sig == sigTTIN || sig == sigTTOU
}

// savedGlobals are the mutable globals of an instance before a signal
// handler ran, to put back if it traps.
type savedGlobals struct {
	m    api.Module
	vals []uint64          // every global, for a module prepared for fork
	sp   api.MutableGlobal // else the exported stack pointer, if any
	spv  uint64
}

// stackGlobals saves what a trapping handler leaves changed: the shadow
// stack pointer above all. A module prepared for fork exports every mutable
// global; wasix-libc programs export __stack_pointer.
func stackGlobals(m api.Module) savedGlobals {
	s := savedGlobals{m: m}
	if m.ExportedGlobal(GlobalExportPrefix+"0") != nil {
		s.vals = globalsOf(m)
	} else if g, ok := m.ExportedGlobal("__stack_pointer").(api.MutableGlobal); ok {
		s.sp, s.spv = g, g.Get()
	}
	return s
}

func (s savedGlobals) restore() {
	if s.vals != nil {
		setGlobals(s.m, s.vals)
	} else if s.sp != nil {
		s.sp.Set(s.spv)
	}
}
