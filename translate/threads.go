package translate

import (
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmbin"
)

// Threads through wasi-threads. A module that spawns threads keeps its
// shared memory, and every spawn function (wasi.thread-spawn, WASIX
// thread_spawn_v2 and its thread_spawn alias, the 2022 thread_spawn) becomes
// a call of wasi-threads' wasi.thread-spawn, whose host runs each thread in
// a new instance of the module and calls its wasi_thread_start(tid,
// start_arg) export (Wasmtime's crates/wasi-threads: tids from 1 up, a
// negative result on failure, the memory imported and shared).
//
// Each spawn takes a thread record in the adapter region and passes its
// address as start_arg. The module's wasi_thread_start export is replaced
// by an adapter that gives the new instance its globals (a new instance
// starts with its own, so the region's address comes from the record),
// calls the guest's entry (wasi_thread_start with the guest's start_arg,
// or the 2022 ABI's _start_thread with the user data), and marks the record
// ended when it returns. thread_join waits on that mark and thread_exit
// sets it, both with memory.atomic.wait32/notify, as futex_wait and
// futex_wake do.
//
// A record is {state u32, tid u32, kind u32, start_arg u32, user_data
// u64, region u32, park u32} then the thread's own scratch space (the
// adapters' scratch in the region would be shared by all threads).
const (
	threadSlotSize = 32 + 128 + 8*tlsKeys
	// tlsKeys is how many thread_local keys can exist at once.
	tlsKeys       = 16
	slotFree      = 0
	slotRunning   = 1
	slotEnded     = 2
	entryKindV2   = 0 // wasi_thread_start(tid, start_arg)
	entryKind2022 = 1 // _start_thread(user_data low, user_data high)
	errnoDeadlk   = 16
	errnoNotcap   = 76
	// parkNanos bounds each wait of a parked or joining thread, so that
	// hosts that end a process between instructions get their chance.
	parkNanos = 100_000_000
	// mainTid is the main thread's id, as wazix numbers it; ids go up to
	// maxTid (wasix-abi.md §2.13).
	mainTid = 1
	// libcMainTid is the id wasix-libc's musl gives the main thread
	// until it calls thread_id (__init_tls.c).
	libcMainTid = 0x3fffffff
	maxTid      = 0x1fff_ffff
	sigMax      = 31
	errnoSrch   = 71
	offParked   = 56 // a region word (after the sleep subscription) that stays 0: parked threads wait on it
)

// newThreadEmulations returns the emulations of a module that spawns threads.
func newThreadEmulations() map[string]*adapter {
	return map[string]*adapter{
		// thread_spawn_v2(start, *tid) -> errno, and its thread_spawn alias.
		"thread_spawn_v2": {params: types(i32, i32), results: types(i32), helpers: []string{"spawn", "in_bounds"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				r := f.local(i32)
				if g.entryV2 < 0 {
					f.i32(errnoNotcap).return_()
					return
				}
				f.get(0).i32(64).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
				f.get(1).i32(4).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
				f.i32(entryKindV2).get(0).i64(0).call(g.helper("spawn")).tee(r)
				f.i32(0).i32LtS().if_().i32(errnoAgain).return_().end()
				f.get(1).get(r).i32Store(0)
				f.i32(0)
			}},
		// thread_spawn(user_data, stack_base, stack_start, reactor, *tid) ->
		// errno, the 2022 ABI: the thread runs _start_thread(user_data low,
		// high); reactors are refused as Wasmer and wazix do.
		"thread_spawn_2022": {params: types(i64, i64, i64, i32, i32), results: types(i32), helpers: []string{"spawn", "in_bounds"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				r := f.local(i32)
				if g.entry2022 < 0 {
					f.i32(errnoNotcap).return_()
					return
				}
				f.get(4).i32(4).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
				f.get(3).if_().i32(errnoNotcap).return_().end()
				f.i32(entryKind2022).i32(0).get(0).call(g.helper("spawn")).tee(r)
				f.i32(0).i32LtS().if_().i32(errnoAgain).return_().end()
				f.get(4).get(r).i32Store(0)
				f.i32(0)
			}},
		// wasi.thread-spawn(start_arg) -> tid or a negative number.
		"wasi.thread-spawn": {params: types(i32), results: types(i32), helpers: []string{"spawn"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				if g.entryV2 < 0 {
					f.i32(-errnoNotcap).return_()
					return
				}
				f.i32(entryKindV2).get(0).i64(0).call(g.helper("spawn"))
			}},
		// thread_join(tid) -> errno: waits until the thread's record says it
		// ended. A tid without a record has ended (and been joined) already.
		"thread_join": {params: types(i32), results: types(i32), helpers: []string{"thread_find", "self_tid", "park"},
			build: func(g *gen, f *funcBuilder) {
				s, st := f.local(i32), f.local(i32)
				f.get(0).i32Eqz().get(0).i32(maxTid).i32GtU().i32Or().if_().i32(errnoInval).return_().end()
				f.get(0).call(g.helper("self_tid")).i32Eq().if_().i32(errnoDeadlk).return_().end()
				// the main thread ends only with the process
				f.get(0).i32(mainTid).i32Eq().if_().call(g.helper("park")).end()
				f.block().loop()
				f.get(0).call(g.helper("thread_find")).tee(s).i32Eqz().brIf(1)
				f.get(s).i32AtomicLoad(0).tee(st).i32(slotEnded).i32Eq().if_()
				f.get(s).i32(slotEnded).i32(slotFree).i32AtomicCmpxchg(0).drop()
				f.br(2)
				f.end()
				f.get(s).get(st).i64(parkNanos).memoryAtomicWait32(0).drop()
				f.br(0).end().end()
				f.i32(0)
			}},
		// thread_exit(code): in the main thread the process ends; another
		// thread marks its record ended and then waits forever, since a
		// thread can end only by returning from wasi_thread_start.
		"thread_exit": {params: types(i32), p1: []string{"proc_exit"}, helpers: []string{"thread_done", "park"},
			build: func(g *gen, f *funcBuilder) {
				s := f.local(i32)
				f.gget(g.slotGlobal).tee(s).i32Eqz().if_().get(0).call(g.p1("proc_exit")).unreachable().end()
				f.get(s).call(g.helper("thread_done"))
				f.call(g.helper("park"))
			}},
		// thread_signal(tid, sig) -> errno: the calling thread can be
		// signalled (preview1 proc_raise); another live thread only with 0,
		// since nothing can interrupt it from inside the module.
		// wasix-libc's musl calls the main thread 0x3fffffff until it asks
		// thread_id, so raise() in it signals that id: Wasmer maps it to the
		// main thread, and so does this.
		"thread_signal": {params: types(i32, i32), results: types(i32), p1: []string{"proc_raise"}, helpers: []string{"self_tid", "thread_find"},
			build: func(g *gen, f *funcBuilder) {
				s := f.local(i32)
				f.get(0).i32(libcMainTid).i32Eq().if_().i32(mainTid).set(0).end()
				f.get(1).i32(sigMax).i32GtU().if_().i32(errnoInval).return_().end()
				f.get(0).call(g.helper("self_tid")).i32Eq().if_()
				raiseRenumbered(g, f, 1)
				f.return_()
				f.end()
				f.get(0).i32(mainTid).i32Ne().if_()
				f.get(0).call(g.helper("thread_find")).tee(s).i32Eqz().if_().i32(errnoSrch).return_().end()
				f.get(s).i32AtomicLoad(0).i32(slotEnded).i32Eq().if_().i32(errnoSrch).return_().end()
				f.end()
				f.get(1).if_().i32(errnoNotsup).return_().end()
				f.i32(0)
			}},
		// thread_id(*tid) -> errno.
		"thread_id": {params: types(i32), results: types(i32), helpers: []string{"self_tid"},
			build: func(g *gen, f *funcBuilder) {
				f.get(0).call(g.helper("self_tid")).i32Store(0)
				f.i32(0)
			}},
		// futex_wait(addr, expected, *timeout, *woken) -> errno, over
		// memory.atomic.wait32: a value that differs reports woken=1 (as
		// wazix does), a timeout woken=0.
		"futex_wait": {params: types(i32, i32, i32, i32), results: types(i32), helpers: []string{"in_bounds"},
			build: func(g *gen, f *funcBuilder) {
				const addr, expected, timeout, woken = 0, 1, 2, 3
				t, r := f.local(i64), f.local(i32)
				f.get(addr).i32(3).i32And().if_().i32(errnoInval).return_().end()
				for _, c := range [][2]int32{{addr, 4}, {timeout, 16}, {woken, 1}} {
					f.get(uint32(c[0])).i32(c[1]).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
				}
				f.i64(-1).set(t)
				f.get(timeout).i32Load8U(0).i32(1).i32Eq().if_().get(timeout).i64Load(8).set(t).end()
				// Wait in slices of at most parkNanos, so that a host can end
				// the process between them; a woken or changed word ends it.
				f.block().loop()
				f.get(addr).get(expected)
				f.get(t).i64(0).i64LtS().get(t).i64(parkNanos).i64GtU().i32Or().ifI64().i64(parkNanos).else_().get(t).end()
				f.memoryAtomicWait32(0).tee(r).i32(2).i32Ne().brIf(1)
				f.get(t).i64(0).i64LtS().brIf(0)         // no timeout: wait again
				f.get(t).i64(parkNanos).i64LeU().brIf(1) // the whole timeout passed
				f.get(t).i64(parkNanos).i64Sub().set(t)
				f.br(0).end().end()
				f.get(woken).get(r).i32(2).i32Ne().i32Store8(0)
				f.i32(0)
			}},
		// futex_wake(addr, *woken) -> errno: wakes one waiter.
		"futex_wake": {params: types(i32, i32), results: types(i32), helpers: []string{"in_bounds"}, build: func(g *gen, f *funcBuilder) {
			futexWakeChecks(g, f)
			f.get(1).get(0).i32(1).memoryAtomicNotify(0).i32(0).i32Ne().i32Store8(0)
			f.i32(0)
		}},
		// futex_wake_all(addr, *woken) -> errno.
		"futex_wake_all": {params: types(i32, i32), results: types(i32), helpers: []string{"in_bounds"}, build: func(g *gen, f *funcBuilder) {
			futexWakeChecks(g, f)
			f.get(1).get(0).i32(-1).memoryAtomicNotify(0).i32(0).i32Ne().i32Store8(0)
			f.i32(0)
		}},
	}
}

// futexWakeChecks: an unaligned futex is EINVAL, one outside memory or a
// woken pointer outside memory EFAULT, as wazix answers.
func futexWakeChecks(g *gen, f *funcBuilder) {
	f.get(0).i32(3).i32And().if_().i32(errnoInval).return_().end()
	f.get(0).i32(4).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
	f.get(1).i32(1).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
}

func addThreadAdapters() {
	// in_bounds(ptr, len) -> whether [ptr, ptr+len) lies in memory.
	helpers["in_bounds"] = &adapter{params: types(i32, i32), results: types(i32), build: func(g *gen, f *funcBuilder) {
		f.get(0).i64ExtendI32U().get(1).i64ExtendI32U().i64Add()
		f.memorySize().i64ExtendI32U().i64(16).i64Shl()
		f.i64LeU()
	}}
	// park(): waits forever, in slices so that the host can end the
	// process (a thread can end only by returning from its entry).
	helpers["park"] = &adapter{helpers: []string{"region"}, build: func(g *gen, f *funcBuilder) {
		f.loop()
		f.call(g.helper("region")).i32(0).i64(parkNanos).memoryAtomicWait32(offParked).drop()
		f.br(0).end()
	}}
	// spawn(kind, start_arg, user_data) -> tid, or a negative number: takes
	// a free record (or else an ended one that nobody joined), fills it in
	// and asks the host for a thread that starts with it.
	helpers["spawn"] = &adapter{params: types(i32, i32, i64), results: types(i32), helpers: []string{"region", "guest_tid"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			const kind, arg, ud = 0, 1, 2
			b, s, k, r := f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			f.call(g.helper("region")).set(b)
			f.block() // found
			for _, from := range []int32{slotFree, slotEnded} {
				f.get(b).u(g.lay.offThreads).i32Add().set(s)
				f.i32(0).set(k)
				f.block().loop()
				f.get(k).u(g.lay.threadSlots).i32GeU().brIf(1)
				f.get(s).i32(from).i32(slotRunning).i32AtomicCmpxchg(0).i32(from).i32Eq().brIf(2)
				f.get(s).i32(threadSlotSize).i32Add().set(s)
				f.get(k).i32(1).i32Add().set(k)
				f.br(0).end().end()
			}
			f.i32(-errnoAgain).return_()
			f.end()
			f.get(s).i32(0).i32AtomicStore(4)
			f.get(s).get(kind).i32Store(8)
			f.get(s).get(arg).i32Store(12)
			f.get(s).get(ud).i64Store(16)
			f.get(s).get(b).i32Store(24)
			f.get(s).i32(0).i32Store(28)
			for off := uint32(160); off < threadSlotSize; off += 8 {
				f.get(s).i64(0).i64Store(off) // thread_local values
			}
			f.get(s).call(g.spawnImport).tee(r).i32(0).i32LtS().if_()
			f.get(s).i32(slotFree).i32AtomicStore(0)
			f.get(r).return_()
			f.end()
			f.get(r).call(g.helper("guest_tid")).set(r)
			f.get(s).get(r).i32AtomicStore(4)
			f.get(r)
		}}
	// guest_tid(host tid) -> the id the guest sees. The main thread is 1,
	// as wazix numbers it, and wazix's spawned threads 2, 3, ...; but
	// Wasmtime numbers spawned threads from 1, which would give the first
	// one the main thread's id (joining it would be EDEADLK, and libc's
	// mutex owners would mix up the two threads). So the first id the host
	// gives decides once for all: if it is 1, every host id is shifted by
	// one. The first spawn is the only one that can race with the decision
	// (its thread and its spawner see the same id), so they agree.
	helpers["guest_tid"] = &adapter{params: types(i32), results: types(i32), helpers: []string{"region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			b := f.local(i32)
			f.call(g.helper("region")).tee(b).i32(0).get(0).i32(mainTid).i32Eq().i32(1).i32Add().i32AtomicCmpxchg(g.lay.offTidShift).drop()
			f.get(0).get(b).i32AtomicLoad(g.lay.offTidShift).i32Add().i32(1).i32Sub()
		}}
	// thread_entry(tid, record): the module's wasi_thread_start.
	helpers["thread_entry"] = &adapter{params: types(i32, i32), helpers: []string{"thread_done", "guest_tid"},
		build: func(g *gen, f *funcBuilder) {
			const tid, s = 0, 1
			f.get(s).i32Load(24).gset(g.baseGlobal)
			f.get(s).gset(g.slotGlobal)
			f.get(tid).call(g.helper("guest_tid")).set(tid)
			f.get(s).get(tid).i32AtomicStore(4)
			f.get(s).i32Load(8).i32(entryKind2022).i32Eq().if_()
			if g.entry2022 >= 0 {
				f.get(s).i32Load(16).get(s).i32Load(20).call(uint32(g.entry2022))
			} else {
				f.unreachable()
			}
			f.else_()
			if g.entryV2 >= 0 {
				f.get(tid).get(s).i32Load(12).call(uint32(g.entryV2))
			} else {
				f.unreachable()
			}
			f.end()
			f.get(s).call(g.helper("thread_done"))
		}}
	// thread_done(record): the thread ended; joiners wake up.
	helpers["thread_done"] = &adapter{params: types(i32), build: func(g *gen, f *funcBuilder) {
		if g.tlsDestroy >= 0 {
			f.call(g.helper("tls_destructors"))
		}
		f.get(0).i32(slotEnded).i32AtomicStore(0)
		f.get(0).i32(-1).memoryAtomicNotify(0).drop()
	}}
	// thread_find(tid) -> the record of a live or unjoined thread, or 0.
	helpers["thread_find"] = &adapter{params: types(i32), results: types(i32), helpers: []string{"region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			s, k := f.local(i32), f.local(i32)
			f.call(g.helper("region")).u(g.lay.offThreads).i32Add().set(s)
			f.block().loop()
			f.get(k).u(g.lay.threadSlots).i32GeU().brIf(1)
			f.get(s).i32AtomicLoad(0).if_()
			f.get(s).i32AtomicLoad(4).get(0).i32Eq().if_().get(s).return_().end()
			f.end()
			f.get(s).i32(threadSlotSize).i32Add().set(s)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(0)
		}}
	// self_tid() -> the calling thread's id.
	helpers["self_tid"] = &adapter{results: types(i32), build: func(g *gen, f *funcBuilder) {
		s := f.local(i32)
		f.gget(g.slotGlobal).tee(s).i32Eqz().if_().i32(mainTid).return_().end()
		f.get(s).i32AtomicLoad(4)
	}}
	// scratch() -> the calling thread's scratch base (see gen.scratch).
	helpers["scratch"] = &adapter{results: types(i32), helpers: []string{"region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			s := f.local(i32)
			f.gget(g.slotGlobal).tee(s).if_().get(s).i32(32).i32Add().return_().end()
			f.call(g.helper("region"))
		}}
}

// threadPlan says how a module that spawns threads is translated.
type threadPlan struct {
	on                 bool
	reason             string
	entryV2, entry2022 int64 // function indices in the input, or -1
}

// planThreads decides whether thread spawning becomes wasi-threads: the
// module must export a thread entry and import a shared memory, which
// every thread's instance gets.
func planThreads(in *wasmbin.Info, det compat.Detection, memImport *wasmbin.Import) threadPlan {
	p := threadPlan{entryV2: -1, entry2022: -1}
	if !det.SpawnsThreads {
		return p
	}
	entrySig := wasmbin.FuncType{Params: types(i32, i32)}
	for _, e := range in.Exports {
		if e.Kind != wasmbin.KindFunc {
			continue
		}
		if t, ok := funcType(in, e.Index); ok && t.Equal(entrySig) {
			switch e.Name {
			case "wasi_thread_start":
				p.entryV2 = int64(e.Index)
			case "_start_thread":
				p.entry2022 = int64(e.Index)
			}
		}
	}
	switch {
	case memImport == nil || !memImport.Limits.Shared:
		p.reason = "the module spawns threads but does not import a shared memory, which wasi-threads hosts give every thread: spawns fail with EAGAIN"
	case p.entryV2 < 0 && p.entry2022 < 0:
		p.reason = "the module spawns threads but exports no wasi_thread_start or _start_thread (i32, i32) entry: spawns fail with EAGAIN"
	default:
		p.on = true
		p.reason = "every spawn calls wasi-threads' wasi.thread-spawn; wasi_thread_start is an adapter that starts the guest's entry, " +
			"and thread_join, thread_exit and the futexes run in the module over memory.atomic.wait32/notify. " +
			"Runs on hosts with wasi-threads (wazix run, wasmtime -S threads), not on hosts without threads"
	}
	return p
}

// funcType returns the type of function idx (imported or defined).
func funcType(in *wasmbin.Info, idx uint32) (wasmbin.FuncType, bool) {
	n := uint32(0)
	for _, im := range in.Imports {
		if im.Kind != wasmbin.KindFunc {
			continue
		}
		if n == idx {
			return in.Types[im.TypeIndex], true
		}
		n++
	}
	if d := idx - n; idx >= n && d < uint32(len(in.Functions)) {
		return in.Types[in.Functions[d]], true
	}
	return wasmbin.FuncType{}, false
}

// threadAdapter returns the threaded emulation of an import, if any.
func threadAdapter(module, name string, sig wasmbin.FuncType) *adapter {
	key := name
	switch {
	case module == compat.ModuleWASIThreads && (name == compat.ThreadSpawn.Name || name == compat.ThreadSpawnOldName):
		key = "wasi.thread-spawn"
	case module != compat.ModuleWASIX32:
		return nil
	case name == "thread_spawn" && sig.Equal(wasmbin.FuncType{Params: types(i64, i64, i64, i32, i32), Results: types(i32)}):
		key = "thread_spawn_2022"
	case name == "thread_spawn":
		key = "thread_spawn_v2"
	}
	a, ok := threadEmulations[key]
	if !ok || !sig.Equal(a.funcType()) {
		return nil
	}
	return a
}
