package wasix

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/abi/wasi_p1"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/polling"
)

// DefaultMaxThreads is the default limit on live guest threads, the main
// thread included.
const DefaultMaxThreads = 512

// maxTid is the largest thread id: wasi-libc and wasix-libc keep thread ids
// in 1..0x1FFFFFFF (the other bits mark lock ownership).
const maxTid = 0x1FFFFFFF

// Threads runs the threads of one guest process. The main thread is the
// instance Run creates; every other thread is a new instance of the same
// compiled module, importing the same shared memory and the same host
// modules, entered through an export of the guest (wasi_thread_start for
// the current ABI and wasi-threads, _start_thread for the 2022 ABI) and
// never through _start.
//
// Every thread runs with the process context (Context): when the process
// ends (sys.System.End: proc_exit from any thread, a trap in any thread, the
// main thread returning) that context is canceled, so that every thread
// blocked in the host (futex_wait, thread_join, poll_oneoff, epoll_wait,
// thread_sleep, a blocking read) returns at once and unwinds; a thread that
// computes without calling the host stops only when the runtime was
// configured with WithCloseOnContextDone(true).
type Threads struct {
	sys      *sys.System
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	ctx      context.Context
	cancel   context.CancelFunc
	max      int
	shared   bool // the guest imports a memory that Run provides shared
	warn     io.Writer

	// onThreadEnd is told the id of every thread that ends (thread-local
	// values are dropped); onThreadReturn runs in a thread that returned
	// from its entry, before its instance closes (2022 thread-local
	// destructors). Both are set by Define.
	onThreadEnd    func(tid uint32)
	onThreadReturn func(ctx context.Context, m api.Module, tid uint32) error
	// call runs a thread's entry (Process.call, which lets a thread fork).
	call func(ctx context.Context, m api.Module, name string, args ...uint64) ([]uint64, error)

	exportsOnce sync.Once
	exports     map[string]api.FunctionDefinition

	mu       sync.Mutex
	live     map[uint32]*thread
	spawned  bool // a thread was spawned (under mu, with wg.Add)
	next     uint32
	warned   bool
	wg       sync.WaitGroup
	mainDone chan struct{}
}

// threadConfig instantiates a thread: anonymous, without start functions
// (the start section still runs). wazero's own system context is unused
// (our host modules implement the system calls); giving it a random source
// avoids seeding its default fake one, which was half of a spawn's cost.
var threadConfig = wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(crand.Reader)

// thread is one live guest thread.
type thread struct {
	tid  uint32
	mod  api.Module
	done chan struct{} // closed when the thread has ended
}

// NewThreads prepares the threads of the process s running compiled in rt;
// the process context derives from ctx. maxThreads limits the live threads
// (main included; <= 0 means DefaultMaxThreads); warn receives one line
// when the guest tries to spawn threads without a shared memory.
func NewThreads(ctx context.Context, s *sys.System, rt wazero.Runtime, compiled wazero.CompiledModule, maxThreads int, warn io.Writer) *Threads {
	if maxThreads <= 0 {
		maxThreads = DefaultMaxThreads
	}
	pctx, cancel := context.WithCancel(ctx)
	// A signal for the process interrupts its threads' blocking I/O.
	pctx = polling.WithInterrupt(pctx, s.InterruptChan)
	t := &Threads{sys: s, rt: rt, compiled: compiled, ctx: pctx, cancel: cancel, max: maxThreads, warn: warn,
		live: map[uint32]*thread{}, next: mainTid + 1, mainDone: make(chan struct{})}
	mems := compiled.ImportedMemories()
	if len(mems) == 1 {
		_, hasMax := mems[0].Max()
		t.shared = hasMax
	}
	t.live[mainTid] = &thread{tid: mainTid, done: t.mainDone}
	s.MaxThreads = maxThreads
	s.OnEnd(cancel)
	return t
}

// Context is the process context: every thread's calls run with it, and it
// is canceled when the process ends.
func (t *Threads) Context() context.Context { return t.ctx }

// MainDone records that the main thread has ended.
func (t *Threads) MainDone() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.live[mainTid]; ok {
		delete(t.live, mainTid)
		close(t.mainDone)
	}
}

// Wait waits up to timeout for every spawned thread to end and reports
// whether they all did. Call it after the process ended: while threads
// remain, the ones blocked in memory.atomic.wait32/64 (which no context
// reaches) are woken every few milliseconds so that they can stop.
func (t *Threads) Wait(timeout time.Duration) bool {
	t.mu.Lock()
	spawned := t.spawned
	t.mu.Unlock()
	if !spawned {
		return true // no thread was ever spawned: nothing to wait for
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return true
		case <-timer.C:
			return false
		case <-tick.C:
			if t.sys.Ended() {
				t.wakeAtomicWaiters()
			}
		}
	}
}

// wakeOnEnd makes the end of the process wake every thread of it blocked
// in memory.atomic.wait32/64 on mem, the main thread included: such a wait
// sees no context, so a process killed (SIGKILL, a terminating signal's
// default action, an exit from another thread) while its main thread waits
// forever on an address nobody notifies would never stop. Until its threads
// are gone or the process is closed (at most threadGrace), the waiters are
// woken every few milliseconds, so that a thread that was about to wait
// when the process ended is woken too; a woken thread stops at its next
// host call or function entry, as the process has ended. Wasmer wakes them
// on SIGKILL.
func (t *Threads) wakeOnEnd(mem api.Memory) {
	if mem == nil {
		return
	}
	closed := make(chan struct{})
	var once sync.Once
	t.sys.OnClose(func() { once.Do(func() { close(closed) }) })
	t.sys.OnEnd(func() {
		go func() {
			deadline := time.NewTimer(threadGrace)
			defer deadline.Stop()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for t.busy() {
				notifyAll(mem)
				select {
				case <-tick.C:
				case <-closed:
					return
				case <-deadline.C:
					return
				}
			}
		}()
	})
}

// wakeAtomicWaiters notifies every address of the shared memory that has
// memory.atomic.wait32/64 waiters. Run only while the process is ending.
func (t *Threads) wakeAtomicWaiters() {
	var mem api.Memory
	t.mu.Lock()
	for _, th := range t.live {
		if th.mod != nil {
			mem = th.mod.Memory()
			break
		}
	}
	t.mu.Unlock()
	if mem != nil {
		notifyAll(mem)
	}
}

// busy reports whether guest code may still run in the process: a thread
// is alive (the main thread included while it runs).
func (t *Threads) busy() bool { return t.Live() > 0 }

// Live returns the number of live threads (main included while it runs).
func (t *Threads) Live() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.live)
}

// export returns the definition of the guest's exported function name.
func (t *Threads) export(name string) (api.FunctionDefinition, bool) {
	t.exportsOnce.Do(func() { t.exports = t.compiled.ExportedFunctions() })
	f, ok := t.exports[name]
	return f, ok
}

// alive reports whether tid is a live thread.
func (t *Threads) alive(tid uint32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live[tid] != nil
}

// entry names the export a new thread starts in and its arguments.
type entry struct {
	name string
	args func(tid uint32) []uint64
}

// spawn starts a thread at e and returns its id. Errors: ENOTCAPABLE when
// the guest has no shared memory or lacks the entry export, EAGAIN beyond
// the thread limit, EINTR when the process is ending (the caller stops).
func (t *Threads) spawn(e entry, params []api.ValueType) (uint32, sys.Errno) {
	if t.sys.Ended() || t.ctx.Err() != nil {
		return 0, sys.EINTR
	}
	if !t.shared {
		t.warnf("wazix: the guest spawns a thread but has no shared memory (threads need a module that imports a shared memory, as built with -pthread / --shared-memory): refused with ENOTCAPABLE")
		return 0, sys.ENOTCAPABLE
	}
	f, ok := t.export(e.name)
	if !ok || !sameTypes(f.ParamTypes(), params) || len(f.ResultTypes()) != 0 {
		return 0, sys.ENOTCAPABLE
	}

	t.mu.Lock()
	if len(t.live) >= t.max {
		t.mu.Unlock()
		return 0, sys.EAGAIN
	}
	tid := t.next
	for t.live[tid] != nil || tid < mainTid+1 || tid > maxTid {
		tid++
		if tid > maxTid {
			tid = mainTid + 1
		}
	}
	t.next = tid + 1
	if t.next > maxTid {
		t.next = mainTid + 1
	}
	th := &thread{tid: tid, done: make(chan struct{})}
	t.live[tid] = th
	t.wg.Add(1)
	t.spawned = true
	t.mu.Unlock()

	mod, err := t.rt.InstantiateModule(t.ctx, t.compiled, threadConfig)
	if err != nil {
		t.forget(th)
		if t.sys.Ended() || t.ctx.Err() != nil {
			return 0, sys.EINTR
		}
		t.warnf("wazix: thread_spawn: instantiating thread %d: %v", tid, err)
		return 0, sys.EAGAIN
	}
	t.sys.ThreadIDs.Store(mod, tid)
	t.mu.Lock()
	th.mod = mod
	t.mu.Unlock()
	go t.run(th, e.name, e.args(tid))
	return tid, sys.ESUCCESS
}

// run runs one spawned thread to its end. Returning from the entry or
// thread_exit ends only the thread; a trap ends the process.
func (t *Threads) run(th *thread, name string, args []uint64) {
	defer t.forget(th)
	var err error
	if t.call != nil {
		_, err = t.call(t.ctx, th.mod, name, args...)
	} else {
		_, err = th.mod.ExportedFunction(name).Call(t.ctx, args...)
	}
	if err == nil && t.onThreadReturn != nil && !t.sys.Ended() {
		err = t.onThreadReturn(t.ctx, th.mod, th.tid)
	}
	if err == nil || t.sys.Ended() {
		return
	}
	var exit *wsys.ExitError
	if errors.As(err, &exit) {
		return // thread_exit, or the context of Run ended
	}
	t.sys.End(1, fmt.Errorf("thread %d: %w", th.tid, err))
}

// forget removes an ended thread.
func (t *Threads) forget(th *thread) {
	if th.mod != nil {
		t.sys.ThreadIDs.Delete(th.mod)
		t.sys.CloseInstance(context.Background(), th.mod, 0)
	}
	t.mu.Lock()
	delete(t.live, th.tid)
	t.mu.Unlock()
	t.sys.ThreadGone(th.tid)
	if t.onThreadEnd != nil {
		t.onThreadEnd(th.tid)
	}
	close(th.done)
	t.wg.Done()
}

// join blocks until thread tid has ended. A thread that is not alive has
// already ended.
func (t *Threads) join(ctx context.Context, self, tid uint32) sys.Errno {
	if tid == self {
		return sys.EDEADLK
	}
	t.mu.Lock()
	th := t.live[tid]
	t.mu.Unlock()
	if th == nil {
		return sys.ESUCCESS
	}
	select {
	case <-th.done:
		return sys.ESUCCESS
	case <-ctx.Done():
		return sys.EINTR
	case <-t.ctx.Done():
		return sys.EINTR
	}
}

func (t *Threads) warnf(format string, a ...any) {
	t.mu.Lock()
	if t.warned || t.warn == nil {
		t.mu.Unlock()
		return
	}
	t.warned = true
	t.mu.Unlock()
	fmt.Fprintf(t.warn, format+"\n", a...)
}

func sameTypes(a, b []api.ValueType) bool { return slices.Equal(a, b) }

var (
	i32x2 = []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}
	i64x1 = []api.ValueType{api.ValueTypeI64}
)

// startEntry is the entry of a thread of the current ABI and wasi-threads:
// wasi_thread_start(tid, start_arg).
func startEntry(startArg uint32) entry {
	return entry{name: "wasi_thread_start", args: func(tid uint32) []uint64 {
		return []uint64{uint64(tid), uint64(startArg)}
	}}
}

// threadSpawnV2 is thread_spawn_v2(start: *thread_start, ret_tid: *tid) ->
// errno, and the two-argument thread_spawn alias.
func threadSpawnV2(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	start, retTid := uint32(stack[0]), uint32(stack[1])
	mem := m.Memory()
	if _, ok := mem.Read(start, threadStartSize); !ok || !guestmem.Writable(mem, retTid, 4) {
		return sys.EFAULT
	}
	tid, errno := h.threads.spawn(startEntry(start), i32x2)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(mem, retTid, tid)
}

// threadStartSize is the size of the thread_start record.
const threadStartSize = 64

// threadSpawn2022 is the 2022 thread_spawn(user_data: u64, stack_base: u64,
// stack_start: u64, reactor: bool, ret_tid: *tid) -> errno: the new thread
// calls the guest's _start_thread(user_data low, user_data high). Reactors
// are refused with ENOTCAPABLE, as Wasmer did; the stack bounds are only
// informative.
func threadSpawn2022(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	userData, reactor, retTid := stack[0], uint32(stack[3]), uint32(stack[4])
	if !guestmem.Writable(m.Memory(), retTid, 4) {
		return sys.EFAULT
	}
	if reactor != 0 {
		return sys.ENOTCAPABLE
	}
	tid, errno := h.threads.spawn(entry{name: "_start_thread", args: func(uint32) []uint64 {
		return []uint64{userData & 0xFFFFFFFF, userData >> 32}
	}}, i32x2)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(m.Memory(), retTid, tid)
}

// threadSpawnByName2022 is the earliest thread_spawn(name: string,
// user_data: u64, reactor: bool, ret_tid: *tid) -> errno: the new thread
// calls the named export with user_data, as one i64 or as two i32 halves
// depending on the export's signature.
func threadSpawnByName2022(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	name, errno := guestmem.String(mem, uint32(stack[0]), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return errno
	}
	userData, reactor, retTid := stack[2], uint32(stack[3]), uint32(stack[4])
	if !guestmem.Writable(mem, retTid, 4) {
		return sys.EFAULT
	}
	if reactor != 0 || name == "_start" || name == "_initialize" {
		return sys.ENOTCAPABLE
	}
	e := entry{name: name, args: func(uint32) []uint64 { return []uint64{userData & 0xFFFFFFFF, userData >> 32} }}
	params := i32x2
	if f, ok := h.threads.export(name); ok && sameTypes(f.ParamTypes(), i64x1) {
		e.args = func(uint32) []uint64 { return []uint64{userData} }
		params = i64x1
	}
	tid, errno := h.threads.spawn(e, params)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(mem, retTid, tid)
}

// threadJoin is thread_join(tid) -> errno: blocks until thread tid ends.
func threadJoin(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	tid := uint32(stack[0])
	if tid == 0 || tid > maxTid {
		return sys.EINVAL
	}
	return h.threads.join(ctx, h.tidOf(m), tid)
}

// InstantiateWASIThreads adds the wasi-threads module ("wasi", with
// thread-spawn, also under its older name thread_spawn) to rt, spawning
// through th.
func InstantiateWASIThreads(ctx context.Context, rt wazero.Runtime, s *sys.System, th *Threads) error {
	_, err := wasiThreadsBuilder(rt, s, th).Instantiate(ctx)
	return err
}

// wasiThreadsBuilder is the wasi module (thread-spawn) bound to th.
func wasiThreadsBuilder(rt wazero.Runtime, s *sys.System, th *Threads) wazero.HostModuleBuilder {
	f := compat.ThreadSpawn
	spawn := api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
		tid, errno := th.spawn(startEntry(uint32(stack[0])), i32x2)
		if errno != sys.ESUCCESS {
			if errno == sys.EINTR {
				wasi_p1.StopIfCanceled(ctx, s, m) // the process is ending
				errno = sys.EAGAIN
			}
			stack[0] = uint64(uint32(-int32(errno)))
			return
		}
		stack[0] = uint64(tid)
	})
	b := rt.NewHostModuleBuilder(compat.ModuleWASIThreads)
	for _, name := range []string{f.Name, compat.ThreadSpawnOldName} {
		gf := s.HostFunc(compat.ModuleWASIThreads, name, f.Params, f.Results, spawn)
		b.NewFunctionBuilder().WithGoModuleFunction(gf, f.Params, f.Results).WithName(name).Export(name)
	}
	return b
}
