package wasix

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// fork(2) for a wasm guest, over binaryen's asyncify (as Wasmer does it).
// A guest that can fork is built with `wasm-opt --asyncify`, which exports
// asyncify_start_unwind/stop_unwind/start_rewind/stop_rewind/get_state.
// proc_fork starts an unwind and returns; every frame of the calling thread
// saves its locals into a buffer in guest memory and returns, up to the
// export the host called (_start, or a thread's entry). There, Process.call
// sees the pending fork, stops the unwind and makes the child: a new
// instance of the same module over a copy of the memory (buffer included)
// and of the globals, with a copy of the fd table. Then both rewind: the
// host calls the export again in each, the frames restore their locals down
// to proc_fork, which finds the rewind state and returns 0 in the child and
// the child's pid in the parent.
//
// The globals of an instance (the stack pointer, the TLS base) are not
// reachable through wazero's API unless exported, so a module that can fork
// is prepared before it is compiled (PrepareModule): its mutable globals are
// exported under GlobalExportPrefix.

// GlobalExportPrefix prefixes the exports PrepareModule adds for the
// mutable globals of a module, numbered from 0 in the order of the globals.
const GlobalExportPrefix = "__wazix_global_"

// Asyncify states (asyncify_get_state).
const (
	asyncifyNormal    = 0
	asyncifyUnwinding = 1
	asyncifyRewinding = 2
)

// forkBufferPages is the size of the unwind buffer, grown at the end of the
// memory the first time a process forks (the guest's allocator takes later
// pages, as it would after any foreign memory.grow).
const forkBufferPages = 16

// unwindReq is what an instance unwinds for: a fork, a checkpoint
// (setjmp) or a restore (longjmp).
type unwindReq struct {
	buf  uint32 // the asyncify data structure in guest memory
	kind int
	// checkpoint: where the snapshot goes; restore: the one to go back to
	// and the value stack_checkpoint then returns.
	snapshot uint32
	restore  *checkpoint
	val      uint64
}

// Kinds of unwinds.
const (
	unwindFork = iota
	unwindCheckpoint
	unwindRestore
)

// forkResult is what proc_fork returns once rewound.
type forkResult struct {
	pid   uint32
	errno sys.Errno
	val   uint64 // stack_checkpoint's return value
}

// asyncifyState is the fork state of one process's instances.
type asyncifyState struct {
	mu      sync.Mutex
	pending map[api.Module]*unwindReq
	results map[api.Module]forkResult
	buf     uint32 // the process's unwind buffer, 0 until the first fork
	// checkpoints are the saved stacks of stack_checkpoint, by the id
	// written into their snapshot (a jmp_buf). Not by its address: a
	// program may copy a jmp_buf away, setjmp again into the same one, copy
	// the old one back and longjmp to it (bash saves and restores its
	// top_level this way around every nested parse), as Wasmer allows.
	// sweepAt is the count past which the next checkpoint sweeps the ones
	// no snapshot in memory names any more (see sweepCheckpoints).
	checkpoints map[uint64]*checkpoint
	nextID      uint64
	sweepAt     int
	// exports are the asyncify exports of each instance, looked up once:
	// every lookup makes wazero allocate a call engine with its own stack
	// (10 KiB), and a shell makes a dozen per setjmp.
	exports map[api.Module]*asyncifyExports
}

// The asyncify exports, in the order of asyncifyExports.fns.
const (
	asyncifyStartUnwind = iota
	asyncifyStopUnwind
	asyncifyStartRewind
	asyncifyStopRewind
	asyncifyGetState
	asyncifyExportCount
)

var asyncifyExportNames = [asyncifyExportCount]string{"asyncify_start_unwind", "asyncify_stop_unwind", "asyncify_start_rewind", "asyncify_stop_rewind", "asyncify_get_state"}

// asyncifyExports are one instance's asyncify functions. One call engine
// each is enough: they never call the host, so never run re-entered.
type asyncifyExports struct {
	all bool // every one is exported: the instance can fork
	fns [asyncifyExportCount]api.Function
}

// exportsOf returns m's asyncify exports.
func (a *asyncifyState) exportsOf(m api.Module) *asyncifyExports {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.exports[m]; e != nil {
		return e
	}
	if a.exports == nil {
		a.exports = map[api.Module]*asyncifyExports{}
	}
	if len(a.exports) >= 64 {
		for old := range a.exports { // thread instances come and go
			if old.IsClosed() {
				delete(a.exports, old)
			}
		}
	}
	e := &asyncifyExports{all: true}
	for i, name := range asyncifyExportNames {
		if e.fns[i] = m.ExportedFunction(name); e.fns[i] == nil {
			e.all = false
		}
	}
	a.exports[m] = e
	return e
}

// call calls m's asyncify export fn.
func (a *asyncifyState) call(ctx context.Context, m api.Module, fn int, args ...uint64) (uint64, error) {
	f := a.exportsOf(m).fns[fn]
	if f == nil {
		return 0, fmt.Errorf("wazix: the guest does not export %s", asyncifyExportNames[fn])
	}
	res, err := f.Call(ctx, args...)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	return res[0], nil
}

// checkpoint is one saved stack: the unwound frames and the globals.
type checkpoint struct {
	id      uint64
	tid     uint32
	frames  []byte
	globals []uint64
}

func (a *asyncifyState) init() {
	if a.pending == nil {
		a.pending = map[api.Module]*unwindReq{}
		a.results = map[api.Module]forkResult{}
		a.checkpoints = map[uint64]*checkpoint{}
	}
}

// inheritCheckpoints copies into a, a forked child's state, the
// checkpoints that thread tid of parent made, as checkpoints of the
// child's thread childTid. The saved frames are never written after a
// checkpoint is made, so parent and child share them.
func (a *asyncifyState) inheritCheckpoints(parent *asyncifyState, tid, childTid uint32) {
	parent.mu.Lock()
	kept := map[uint64]*checkpoint{}
	for id, cp := range parent.checkpoints {
		if cp.tid == tid {
			c := *cp
			c.tid = childTid
			kept[id] = &c
		}
	}
	next := parent.nextID
	parent.mu.Unlock()
	a.mu.Lock()
	a.init()
	for id, cp := range kept {
		a.checkpoints[id] = cp
	}
	if a.nextID < next {
		a.nextID = next
	}
	a.mu.Unlock()
}

// startUnwind starts unwinding m for req (its buf is set here), growing
// the process's buffer the first time.
func (h *host) startUnwind(ctx context.Context, m api.Module, req *unwindReq) sys.Errno {
	mem := m.Memory()
	st := &h.proc.fork
	st.mu.Lock()
	st.init()
	if st.buf == 0 {
		prev, ok := mem.Grow(forkBufferPages)
		if !ok {
			st.mu.Unlock()
			return sys.ENOMEM
		}
		st.buf = prev * 65536
	}
	req.buf = st.buf
	st.pending[m] = req
	st.mu.Unlock()
	// The asyncify data structure: the current and the end address of the
	// free part of the buffer that follows it.
	if !mem.WriteUint32Le(req.buf, req.buf+8) || !mem.WriteUint32Le(req.buf+4, req.buf+forkBufferPages*65536) {
		st.mu.Lock()
		delete(st.pending, m)
		st.mu.Unlock()
		return sys.EFAULT
	}
	if _, err := st.call(ctx, m, asyncifyStartUnwind, uint64(req.buf)); err != nil {
		panic(err)
	}
	return sys.ESUCCESS
}

// rewound reports whether m is rewinding into the host call now; if so it
// stops the rewind and returns the result the call is to give.
func (h *host) rewound(ctx context.Context, m api.Module) (forkResult, bool) {
	st := &h.proc.fork
	if st.exportsOf(m).fns[asyncifyGetState] == nil {
		return forkResult{}, false // not asyncified: it cannot be rewinding (and must not panic)
	}
	state, err := st.call(ctx, m, asyncifyGetState)
	if err != nil {
		panic(err)
	}
	if state != asyncifyRewinding {
		return forkResult{}, false
	}
	if _, err := st.call(ctx, m, asyncifyStopRewind); err != nil {
		panic(err)
	}
	st.mu.Lock()
	res := st.results[m]
	delete(st.results, m)
	st.mu.Unlock()
	return res, true
}

// unwinding reports whether m is unwinding for a fork.
func (a *asyncifyState) unwinding(m api.Module) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending[m] != nil
}

// canFork reports whether m exports what forking needs.
func (h *host) canFork(m api.Module) bool { return h.proc.fork.exportsOf(m).all }

// procFork is proc_fork(copy_memory: bool, ret_pid: *pid) -> errno. Without
// copy_memory it is vfork, which POSIX allows to be a fork: the child gets
// its own copy of the memory either way.
func procFork(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	return h.fork(ctx, m, uint32(stack[1]))
}

func (h *host) fork(ctx context.Context, m api.Module, pidPtr uint32) sys.Errno {
	p := h.process
	if p == nil || !h.canFork(m) {
		return sys.ENOTSUP
	}
	if res, ok := h.rewound(ctx, m); ok {
		if res.errno != sys.ESUCCESS {
			return res.errno
		}
		return guestmem.PutU32(m.Memory(), pidPtr, res.pid)
	}
	if !guestmem.Writable(m.Memory(), pidPtr, 4) {
		return sys.EFAULT
	}
	if !p.prepared(m) {
		warnOnce(p, "wazix: the guest forks but was not prepared for it (its globals are not exported): proc_fork returns ENOTSUP; run it with wazix run, or prepare it with wazix.PrepareModule")
		return sys.ENOTSUP
	}
	return h.startUnwind(ctx, m, &unwindReq{kind: unwindFork}) // the result is ignored: the guest unwinds
}

// prepared reports whether the module was prepared for forking: every
// module built by a C or Rust toolchain has a mutable stack pointer.
func (p *Process) prepared(m api.Module) bool {
	return m.ExportedGlobal(GlobalExportPrefix+"0") != nil
}

func warnOnce(p *Process, msg string) { p.Threads.warnf("%s", msg) }

// call calls the export name of m and returns its results, carrying out the
// forks the call makes on the way: each unwinds the call, forks, and calls
// the export again to rewind.
func (p *Process) call(ctx context.Context, m api.Module, name string, args ...uint64) ([]uint64, error) {
	f := m.ExportedFunction(name)
	for {
		res, err := f.Call(ctx, args...)
		if p.host == nil {
			return res, err
		}
		st := &p.host.proc.fork
		st.mu.Lock()
		req := st.pending[m]
		delete(st.pending, m)
		st.mu.Unlock()
		if req == nil || err != nil {
			return res, err
		}
		if _, err := st.call(ctx, m, asyncifyStopUnwind); err != nil {
			return nil, err
		}
		var result forkResult
		switch req.kind {
		case unwindFork:
			result = p.forkChild(m, name, args, req)
		case unwindCheckpoint:
			result = p.saveCheckpoint(m, req)
		case unwindRestore:
			result = p.restoreCheckpoint(m, req)
		}
		st.mu.Lock()
		st.results[m] = result
		st.mu.Unlock()
		if _, err := st.call(ctx, m, asyncifyStartRewind, uint64(req.buf)); err != nil {
			return nil, err
		}
	}
}

// forkChild makes and starts the child of a fork of the thread m, which
// unwound through entry; it returns what proc_fork returns in the parent.
func (p *Process) forkChild(m api.Module, entry string, args []uint64, req *unwindReq) forkResult {
	cs, errno := p.Sys.Fork(false)
	if errno != sys.ESUCCESS {
		return forkResult{errno: errno}
	}
	fail := func(e sys.Errno) forkResult {
		cs.Procs.Exited(cs, sys.WaitStatus{Code: 1})
		cs.Close()
		return forkResult{errno: e}
	}
	cp, err := Launch(p.base, p.rt, cs, p.compiled, p.opts)
	if err != nil {
		p.Threads.warnf("wazix: fork: %v", err)
		return fail(sys.EAGAIN)
	}
	cp.entry = p.entry
	if cp.host != nil {
		cp.host.proc.inherit(p.host.proc)
	}
	ictx := cp.Threads.Context()
	if pm := m.Memory(); pm != nil {
		ictx = experimental.WithMemoryAllocator(ictx, forkAllocator(uint64(pm.Size()), uint64(p.opts.MaxPages)*65536, cp.Threads.busy))
	}
	cmod, err := p.rt.InstantiateModule(ictx, p.compiled, mainConfig)
	if err != nil {
		cp.Close()
		p.Threads.warnf("wazix: fork: %v", err)
		return fail(sys.EAGAIN)
	}
	// The memory, then the globals, as they are now in the parent.
	pm, cm := m.Memory(), cmod.Memory()
	if pm != nil && cm != nil {
		if grow := pm.Size()/65536 - cm.Size()/65536; grow > 0 {
			if _, ok := cm.Grow(grow); !ok {
				cs.CloseInstance(context.Background(), cmod, 0)
				cp.Close()
				return fail(sys.ENOMEM)
			}
		}
		src, _ := pm.Read(0, pm.Size())
		dst, _ := cm.Read(0, pm.Size())
		copyMemory(dst, src)
	}
	setGlobals(cmod, globalsOf(m))
	st := &cp.host.proc.fork
	st.mu.Lock()
	st.init()
	st.buf = req.buf
	st.results[cmod] = forkResult{pid: 0}
	st.mu.Unlock()
	// The forking thread's setjmp buffers stay valid in the child, where
	// it is the main thread (a shell's subshell longjmps to the handler
	// its parent set up before the fork).
	cp.host.proc.fork.inheritCheckpoints(&p.host.proc.fork, p.host.tidOf(m), cp.host.tidOf(cmod))
	if _, err := cp.host.proc.fork.call(cp.Threads.Context(), cmod, asyncifyStartRewind, uint64(req.buf)); err != nil {
		cp.Sys.CloseInstance(context.Background(), cmod, 0)
		cp.Close()
		return fail(sys.EAGAIN)
	}
	// The arguments are those of the parent's call; the rewind restores
	// every local anyway.
	cp.startChild(cmod, entry, args)
	return forkResult{pid: cs.Pid}
}

// globalsOf reads the mutable globals of m (exported by PrepareModule).
func globalsOf(m api.Module) []uint64 {
	var vals []uint64
	for i := 0; ; i++ {
		g := m.ExportedGlobal(GlobalExportPrefix + strconv.Itoa(i))
		if g == nil {
			return vals
		}
		vals = append(vals, g.Get())
	}
}

// setGlobals sets the mutable globals of m to vals.
func setGlobals(m api.Module, vals []uint64) {
	for i, v := range vals {
		if g, ok := m.ExportedGlobal(GlobalExportPrefix + strconv.Itoa(i)).(api.MutableGlobal); ok {
			g.Set(v)
		}
	}
}

// exitStatus is how a process that ended with code and err looks to
// waitpid: a trap is death by SIGABRT; a code is kept to its low 8 bits.
func exitStatus(s *sys.System, code uint32, err error) sys.WaitStatus {
	if err != nil {
		return sys.WaitStatus{Signal: sigABRT}
	}
	if sig := s.TermSignal.Load(); sig != 0 {
		return sys.WaitStatus{Signal: sig}
	}
	return sys.WaitStatus{Code: code & 0xff}
}
