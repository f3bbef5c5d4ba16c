package translate

import (
	"encoding/binary"
	"sync"

	"github.com/wazix/wazix/internal/wasmbin"
)

// WASI errno values used by the adapters (wasix-abi.md §3.2).
const (
	errnoBadf        = 8
	errnoExist       = 20
	errnoInval       = 28
	errnoMfile       = 33
	errnoNametoolong = 37
	errnoNoent       = 44
	errnoNospc       = 51
	errnoNosys       = 52
	errnoNotsup      = 58
	errnoPerm        = 63
	errnoRange       = 68
	errnoChild       = 12
	errnoFault       = 21
	errnoNotdir      = 54
)

// The adapter region holds the adapters' state. Normally it is one wasm page
// that the adapters take with memory.grow the first time one needs it; its
// address is kept in a global of their own. Growing lazily rather than at
// start-up matters: allocators such as wasi-libc's dlmalloc hand out all
// memory that exists when they start, and treat later growth by others as a
// foreign, non-contiguous block, which they tolerate. Go modules are the
// exception (see goLayout).
//
// regionPages is how much memory.grow takes for the region.
const regionPages = 1

// Fixed offsets of the region's scratch space.
const (
	offSub = 0  // one poll_oneoff subscription (48 B) for sleeps
	offEvt = 64 // one event (32 B)
	offNev = 96 // nevents (4 B)
	// offLowAliases counts fd table entries below aliasFDBase (u32).
	offLowAliases = 132
	// offETUsed is set once any epoll registration asked for EPOLLET.
	offETUsed = 100
	offStat   = 104 // fdstat scratch (24 B)
	// epollEntry is the size of one interest: {fd u32, events u32, data 24 B}.
	epollEntry = 32
)

// regionLayout places the adapter state inside the region.
type regionLayout struct {
	// fixedBase is 0 when the region is grown on first use, or the address
	// of memory the module is known never to use (see goLayout).
	fixedBase uint32
	aliases   uint32 // fd_dup alias table entries
	cwdMax    uint32 // longest current directory
	epolls    uint32 // epoll instances
	interests uint32 // registered fds per epoll instance

	offAliasNext, offAliases, offCwdLen, offCwd, offEpoll, epollStride uint32
	offWaitSubs, offWaitEvts, offWaitNev, offWaitOut, size             uint32
	// chdir builds the new directory at offChdirPath and reads preopen
	// names at offChdirPre, both inside the epoll_wait scratch (the two
	// never run at once).
	offChdirPath, offChdirPre uint32
	// eventfds are the fd_event instances, at offEvents: {in_use u32,
	// flags u32, counter u64} each.
	eventfds, offEvents uint32
	// pipes records of pipeRecSize at offPipes; each buffer holds pipeCap
	// bytes (a power of two), at offPipeBufs in a fixed region.
	pipes, pipeCap, offPipes, offPipeBufs uint32
	// offTTY keeps what tty_set set.
	offTTY uint32
	// offCloexec lists the fds whose CLOEXEC flag is set.
	offCloexec uint32
	// offTLSKeys holds the thread_local keys, offTLSMain the main
	// thread's values (other threads keep theirs in their records).
	offTLSKeys, offTLSMain uint32
	// threadSlots thread records of threadSlotSize bytes are at
	// offThreads.
	threadSlots, offThreads uint32
	// offSigCB says whether the guest's __wasm_signal is registered.
	offSigCB uint32
	// offTidShift holds 1 + what is added to the host's thread ids (0:
	// not decided yet; see the guest_tid helper in threads.go).
	offTidShift uint32
	// maxPollSubs is how many subscriptions the poll_oneoff wrapper can
	// pass on when it removes those of event fds (it copies them into the
	// epoll_wait scratch).
	maxPollSubs uint32
}

func newRegionLayout(fixedBase, aliases, cwdMax, epolls, interests uint32) *regionLayout {
	align8 := func(v uint32) uint32 { return (v + 7) &^ 7 }
	l := &regionLayout{fixedBase: fixedBase, aliases: aliases, cwdMax: cwdMax, epolls: epolls, interests: interests}
	l.offAliasNext = 128                           // next alias fd number (0 = not started)
	l.offAliases = 136                             // {guest fd + 1 u32, host fd u32} × aliases
	l.offCwdLen = align8(l.offAliases + 8*aliases) // current directory length, then bytes
	l.offCwd = l.offCwdLen + 4
	l.offEpoll = align8(l.offCwd + cwdMax) // instances: {in_use u32, count u32, pad 8, interests}
	l.epollStride = 16 + interests*epollEntry
	l.offWaitSubs = l.offEpoll + epolls*l.epollStride // one epoll_wait: subscriptions,
	maxWaitSubs := 2*interests + 1                    // (FD_READ and FD_WRITE per fd, one clock)
	l.offWaitEvts = l.offWaitSubs + maxWaitSubs*48    // events,
	l.offWaitNev = l.offWaitEvts + maxWaitSubs*32     // nevents,
	l.offWaitOut = l.offWaitNev + 8                   // the entry index of each reported event
	l.size = l.offWaitOut + 4*interests
	l.offChdirPath = l.offWaitSubs
	l.offChdirPre = l.offChdirPath + cwdMax
	if l.offChdirPre+cwdMax > l.size {
		l.size = l.offChdirPre + cwdMax
	}
	l.maxPollSubs = maxWaitSubs
	l.eventfds = epolls
	l.offEvents = align8(l.size)
	l.size = l.offEvents + 16*l.eventfds
	// fd_pipe: records, and in a fixed region small ring buffers (a grown
	// region takes a page per pipe on first use, see pipes.go).
	l.offPipes = align8(l.size)
	if fixedBase == 0 {
		l.pipes, l.pipeCap = 8, 65536
		l.size = l.offPipes + pipeRecSize*l.pipes
	} else {
		// the 8 KiB Go leaves free holds two small pipes
		l.pipes, l.pipeCap = 2, 512
		l.offPipeBufs = l.offPipes + pipeRecSize*l.pipes
		l.size = l.offPipeBufs + l.pipes*l.pipeCap
	}
	l.offTTY = align8(l.size) // the last tty_set (24 bytes), then a "set" flag
	l.size = l.offTTY + 32
	l.offCloexec = l.size // guest fd + 1 of each fd with CLOEXEC
	l.size += 4 * cloexecFDs
	l.offTLSKeys = align8(l.size) // {key u32, pad u32, user_data u64} × tlsKeys
	l.offTLSMain = l.offTLSKeys + 16*tlsKeys
	l.size = l.offTLSMain + 8*tlsKeys
	l.offSigCB = l.size // 1 when callback_signal registered __wasm_signal
	l.size += 8
	if fixedBase == 0 {
		// Thread records (see threads.go); Go modules never spawn threads.
		l.threadSlots = 64
		l.offTidShift = align8(l.size)
		l.size = l.offTidShift + 8
		l.offThreads = align8(l.size)
		l.size = l.offThreads + l.threadSlots*threadSlotSize
	}
	return l
}

var (
	// grownLayout is the default: one page taken with memory.grow.
	grownLayout = newRegionLayout(0, 64, 4096, 8, 64)
	// goLayout fits the 8 KiB that Go's linker reserves at 4096 for
	// wasm_exec.js's arguments (cmd/link: wasmMinDataAddr = 4096 + 8192),
	// which GOOS=wasip1 programs never touch. Go's sbrk assumes it alone
	// grows memory, so a grown page is not safe in a Go module.
	goLayout = newRegionLayout(4096, 16, 1024, 4, 16)
)

const (
	// aliasFDBase is the first fd number handed out by the fd_dup
	// emulation, far above the numbers preview1 hosts allocate.
	aliasFDBase = 0x10000
)

// WASIX epoll flags (not Linux values; wasix-abi.md §3.9).
const (
	epollIn      = 0x01
	epollOut     = 0x02
	epollRdHup   = 0x04
	epollErr     = 0x10
	epollHup     = 0x20
	epollET      = 0x40
	epollOneShot = 0x80
	// Adapter state in the high half of an interest's events word: an
	// edge-triggered interest whose EPOLLIN (EPOLLOUT) was reported and is
	// not watched again until the guest reads (writes) the fd or MODs it.
	etDoneIn  = epollIn << 16
	etDoneOut = epollOut << 16
	// epollUserBits are the bits of a registration kept from the guest.
	epollUserBits = 0xffff
)

// gen gives adapter bodies the final indices of what they call.
type gen struct {
	lay         *regionLayout
	p1Index     map[string]uint32
	helperIndex map[string]uint32
	baseGlobal  uint32
	// resolveFDs is set when fd_dup is emulated: every fd argument then goes
	// through the alias table.
	resolveFDs bool
	// epoll is set when epoll is emulated: reads and writes re-arm
	// edge-triggered interests (epoll_touch).
	epoll bool
	// events is set when fd_event is emulated: reads, writes, polls and
	// epoll look at event fds first.
	events bool
	// threads is set when thread_spawn becomes wasi-threads' thread-spawn
	// (threads.go): slotGlobal is the calling thread's record (0 in the
	// main thread), spawnImport the index of wasi.thread-spawn, entryV2
	// and entry2022 the guest's wasi_thread_start and _start_thread (or
	// -1).
	threads            bool
	slotGlobal         uint32
	spawnImport        uint32
	entryV2, entry2022 int64
	// tlsDestroy is the guest's _thread_local_destroy export, or -1.
	tlsDestroy int64
	// wasmSignal is the guest's __wasm_signal export when callback_signal
	// can register it (see callbackSignal), or -1.
	wasmSignal int64
	// cloexec: CLOEXEC is kept per fd (fd_close clears it).
	cloexec bool
}

// scratch pushes the base of the calling thread's scratch space (offSub,
// offEvt, offNev, offStat): the region's own, or in a threaded module the
// thread's record's.
func (g *gen) scratch(f *funcBuilder) *funcBuilder {
	if g.threads {
		return f.call(g.helper("scratch"))
	}
	return f.call(g.helper("region"))
}

// touch takes the errno of a read (mask etDoneIn) or write (etDoneOut) call
// on the guest fd in local fd, and tells epoll_touch. The errno stays on
// the stack.
func (g *gen) touch(f *funcBuilder, fd uint32, mask int32) {
	e := f.local(i32)
	f.set(e).get(fd).i32(mask).call(g.helper("epoll_touch")).get(e)
}

func (g *gen) p1(name string) uint32 { return g.p1Index[name] }
func (g *gen) helper(name string) uint32 {
	idx, ok := g.helperIndex[name]
	if !ok {
		// A translator bug: the adapter did not list the helper.
		panic("translate: adapter calls helper " + name + ", which it does not list")
	}
	return idx
}

// fdArg pushes local l as an fd, translated through the alias table when
// fd_dup is emulated.
func (g *gen) fdArg(f *funcBuilder, l uint32) {
	f.get(l)
	if g.resolveFDs {
		f.call(g.helper("resolve_fd"))
	}
}

// rootRelative rewrites the path in locals ptr and n (a guest pointer and
// length) for the host fd in local fd: an absolute path under the preopen
// named "/" loses its leading slashes (see root_skip), and "/" itself
// becomes ".".
func (g *gen) rootRelative(f *funcBuilder, fd, ptr, n uint32) {
	k := f.local(i32)
	f.get(fd).get(ptr).get(n).call(g.helper("root_skip")).tee(k).if_()
	f.get(k).get(n).i32Eq().if_()
	g.scratch(f).i32(offEvt + 12).i32Add().tee(ptr).i32('.').i32Store8(0)
	f.i32(1).set(n)
	f.else_()
	f.get(ptr).get(k).i32Add().set(ptr)
	f.get(n).get(k).i32Sub().set(n)
	f.end()
	f.end()
}

// freshFD takes the errno of a call that returned a new fd at the address
// in local ptr, and when it succeeded and the fd table is in use, passes
// that fd through fresh_fd. The errno stays on the stack.
func (g *gen) freshFD(f *funcBuilder, ptr uint32) {
	if !g.resolveFDs {
		return
	}
	e := f.local(i32)
	f.tee(e).i32Eqz().if_().get(ptr).call(g.helper("fresh_fd")).end()
	f.get(e)
}

// adapter describes one function that the translator adds to the module.
type adapter struct {
	key     string // "helper.x", "wasix_32v1.name", "wrap.name"
	params  []wasmbin.ValType
	results []wasmbin.ValType
	p1      []string // preview1 functions it calls
	helpers []string // helpers it calls
	region  bool     // uses the reserved region
	// pure adapters never touch linear memory, so modules without a memory
	// can have them.
	pure  bool
	build func(g *gen, f *funcBuilder)
}

// storeConst builds "*(ptr+off) = v; return 0".
func storeConst(off uint32, v int32) func(g *gen, f *funcBuilder) {
	return func(g *gen, f *funcBuilder) {
		f.get(0).i32(v).i32Store(off)
		f.i32(0)
	}
}

func returnConst(v int32) func(g *gen, f *funcBuilder) {
	return func(g *gen, f *funcBuilder) { f.i32(v) }
}

// The adapter tables are built on first use rather than at package
// initialisation: every run of the wazix CLI links this package, and most
// never translate.
var (
	// helpers are the functions adapters call, added to a module as needed.
	helpers map[string]*adapter
	// emulations are the wasix_32v1 functions implemented inside the module.
	emulations map[string]*adapter
	// threadEmulations replace the single-thread emulations in a module
	// that spawns threads.
	threadEmulations map[string]*adapter

	loadAdapters = sync.OnceFunc(func() {
		helpers, emulations, threadEmulations = newHelpers(), newEmulations(), newThreadEmulations()
		addEventfdAdapters()
		addPipeAdapters()
		addThreadAdapters()
		addTLSAdapters()
	})
)

// newHelpers returns the helper table without the helpers the eventfd,
// pipe, thread and TLS emulations add.
func newHelpers() map[string]*adapter {
	return map[string]*adapter{
		// region() -> base address of the reserved region, growing memory on
		// first use and initialising the current directory to "/".
		"region": {results: types(i32), build: func(g *gen, f *funcBuilder) {
			p := f.local(i32)
			f.gget(g.baseGlobal).i32Eqz().if_()
			if g.lay.fixedBase != 0 {
				f.u(g.lay.fixedBase).gset(g.baseGlobal)
			} else {
				f.i32(regionPages).memoryGrow().tee(p).i32(-1).i32Eq().if_().unreachable().end()
				f.get(p).i32(16).i32Shl().gset(g.baseGlobal)
			}
			f.gget(g.baseGlobal).i32(1).i32Store(g.lay.offCwdLen)
			f.gget(g.baseGlobal).i32('/').i32Store8(g.lay.offCwd)
			f.end()
			f.gget(g.baseGlobal)
		}},
		// sleep(ns) -> errno: one relative monotonic clock subscription.
		"sleep": {params: types(i64), results: types(i32), p1: []string{"poll_oneoff", "sched_yield"},
			helpers: []string{"region"}, region: true, build: func(g *gen, f *funcBuilder) {
				b := f.local(i32)
				f.get(0).i64Eqz().if_().call(g.p1("sched_yield")).return_().end()
				g.scratch(f).set(b)
				f.get(b).i64(0).i64Store(offSub)      // userdata
				f.get(b).i64(0).i64Store(offSub + 8)  // tag CLOCK + padding
				f.get(b).i64(1).i64Store(offSub + 16) // clock id MONOTONIC + padding
				f.get(b).get(0).i64Store(offSub + 24)
				f.get(b).i64(0).i64Store(offSub + 32) // precision
				f.get(b).i64(0).i64Store(offSub + 40) // flags: relative
				f.get(b).i32(offSub).i32Add()
				f.get(b).i32(offEvt).i32Add()
				f.i32(1)
				f.get(b).i32(offNev).i32Add()
				f.call(g.p1("poll_oneoff"))
			}},
		// isatty(fd) -> 1 when fd is a character device without seek/tell rights
		// (how wasi-libc's isatty decides).
		"isatty": {params: types(i32), results: types(i32), p1: []string{"fd_fdstat_get"},
			helpers: []string{"region"}, region: true, build: func(g *gen, f *funcBuilder) {
				b := f.local(i32)
				g.scratch(f).set(b)
				f.get(0).get(b).i32(offStat).i32Add().call(g.p1("fd_fdstat_get"))
				f.if_().i32(0).return_().end()
				f.get(b).i32Load8U(offStat).i32(2).i32Eq()
				f.get(b).i64Load(offStat + 8).i64(0x24).i64And().i64Eqz()
				f.i32And()
			}},
		// root_skip(host fd, path, len) -> how many bytes of the path to
		// skip: its leading slashes when fd is a preopen named "/", else 0.
		// wasix-libc resolves an absolute path against its preopens and,
		// under the one named "/", passes it with its leading slash, which
		// Wasmer resolves from the root but every preview1 host refuses
		// (wazero EPERM, Node ENOTCAPABLE). Relative paths cost nothing.
		"root_skip": {params: types(i32, i32, i32), results: types(i32), p1: []string{"fd_prestat_get", "fd_prestat_dir_name"},
			helpers: []string{"region"}, region: true, build: func(g *gen, f *funcBuilder) {
				const fd, p, n = 0, 1, 2
				b, k := f.local(i32), f.local(i32)
				f.get(n).i32Eqz().if_().i32(0).return_().end()
				// a path outside memory is the host's to refuse (EFAULT)
				f.get(p).i32(16).i32ShrU().memorySize().i32GeU().if_().i32(0).return_().end()
				f.get(p).i32Load8U(0).i32('/').i32Ne().if_().i32(0).return_().end()
				g.scratch(f).set(b)
				f.get(fd).get(b).i32(offEvt).i32Add().call(g.p1("fd_prestat_get")).if_().i32(0).return_().end()
				f.get(b).i32Load8U(offEvt).if_().i32(0).return_().end()                  // not a directory
				f.get(b).i32Load(offEvt + 4).i32(1).i32Ne().if_().i32(0).return_().end() // a name of one byte
				f.get(fd).get(b).i32(offEvt + 8).i32Add().i32(1).call(g.p1("fd_prestat_dir_name")).if_().i32(0).return_().end()
				f.get(b).i32Load8U(offEvt + 8).i32('/').i32Ne().if_().i32(0).return_().end()
				f.block().loop()
				f.get(k).get(n).i32GeU().brIf(1)
				f.get(p).get(k).i32Add().i32(16).i32ShrU().memorySize().i32GeU().brIf(1)
				f.get(p).get(k).i32Add().i32Load8U(0).i32('/').i32Ne().brIf(1)
				f.get(k).i32(1).i32Add().set(k)
				f.br(0).end().end()
				f.get(k)
			}},
		// The fd table of the fd_dup/dup2 emulation: entries {guest fd + 1,
		// host fd} (0 = a free slot), one per guest fd number whose meaning
		// differs from the host fd of the same number. Host fd -1 is a
		// tombstone: the guest closed that number while aliases still use the
		// host fd, which stays open for them. A guest fd without an entry is
		// the host fd of the same number. The count of entries for numbers
		// below aliasFDBase (made by dup2) lets resolve_fd skip the table for
		// ordinary fds in the usual case where there are none.
		//
		// alias_find(g) -> the address of g's entry, or 0.
		"alias_find": {params: types(i32), results: types(i32), helpers: []string{"region"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				e, i := f.local(i32), f.local(i32)
				f.call(g.helper("region")).u(g.lay.offAliases).i32Add().set(e)
				f.block().loop()
				f.get(i).u(g.lay.aliases).i32GeU().brIf(1)
				f.get(e).i32Load(0).get(0).i32(1).i32Add().i32Eq().if_().get(e).return_().end()
				f.get(e).i32(8).i32Add().set(e)
				f.get(i).i32(1).i32Add().set(i)
				f.br(0).end().end()
				f.i32(0)
			}},
		// alias_refs(h) -> how many guest fds (entries) use host fd h.
		"alias_refs": {params: types(i32), results: types(i32), helpers: []string{"region"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				e, i, n := f.local(i32), f.local(i32), f.local(i32)
				f.call(g.helper("region")).u(g.lay.offAliases).i32Add().set(e)
				f.block().loop()
				f.get(i).u(g.lay.aliases).i32GeU().brIf(1)
				f.get(e).i32Load(0).if_().get(e).i32Load(4).get(0).i32Eq().if_().get(n).i32(1).i32Add().set(n).end().end()
				f.get(e).i32(8).i32Add().set(e)
				f.get(i).i32(1).i32Add().set(i)
				f.br(0).end().end()
				f.get(n)
			}},
		// alias_add(g, h) -> errno: a new entry g -> h (EMFILE when full).
		"alias_add": {params: types(i32, i32), results: types(i32), helpers: []string{"region", "alias_find"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				e, b := f.local(i32), f.local(i32)
				f.call(g.helper("region")).set(b)
				f.i32(-1).call(g.helper("alias_find")).tee(e).i32Eqz().if_().i32(errnoMfile).return_().end() // a free slot: key 0
				f.get(e).get(0).i32(1).i32Add().i32Store(0)
				f.get(e).get(1).i32Store(4)
				f.get(0).i32(aliasFDBase).i32LtU().if_().get(b).get(b).i32Load(offLowAliases).i32(1).i32Add().i32Store(offLowAliases).end()
				f.i32(0)
			}},
		// alias_del(e): frees the entry at e.
		"alias_del": {params: types(i32), helpers: []string{"region"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				b := f.local(i32)
				f.get(0).i32Load(0).i32(1).i32Sub().i32(aliasFDBase).i32LtU().if_()
				f.call(g.helper("region")).tee(b).get(b).i32Load(offLowAliases).i32(1).i32Sub().i32Store(offLowAliases)
				f.end()
				f.get(0).i64(0).i64Store(0)
			}},
		// alias_release(h): host fd h lost a user. It is closed when no entry
		// uses it any more and the guest fd of the same number means something
		// else (an entry: an alias elsewhere, or a tombstone, which goes too).
		// The host's stdio fds 0-2 are left open: closing them closes the host
		// process's own (Node's node:wasi does), and an entry for the number
		// keeps the guest from using them anyway.
		"alias_release": {params: types(i32), p1: []string{"fd_close"}, helpers: []string{"alias_find", "alias_refs", "alias_del"},
			build: func(g *gen, f *funcBuilder) {
				e := f.local(i32)
				f.get(0).i32(3).i32LtU().if_().return_().end()
				f.get(0).i32(-1).i32Eq().if_().return_().end() // a tombstone's
				f.get(0).call(g.helper("alias_refs")).if_().return_().end()
				f.get(0).call(g.helper("alias_find")).tee(e).i32Eqz().if_().return_().end()
				f.get(e).i32Load(4).i32(-1).i32Eq().if_().get(e).call(g.helper("alias_del")).end()
				f.get(0).call(g.p1("fd_close")).drop()
			}},
		// resolve_fd(fd) -> the host fd behind a guest fd (-1 for a closed
		// one, which the host answers with EBADF).
		"resolve_fd": {params: types(i32), results: types(i32), helpers: []string{"region", "alias_find"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				e := f.local(i32)
				// No region yet: no entries (and do not set it up: ordinary fd
				// calls can come before the guest's allocator has started).
				f.gget(g.baseGlobal).i32Eqz().if_().get(0).return_().end()
				f.get(0).i32(aliasFDBase).i32LtU().if_()
				f.call(g.helper("region")).i32Load(offLowAliases).i32Eqz().if_().get(0).return_().end()
				f.end()
				f.get(0).call(g.helper("alias_find")).tee(e).if_().get(e).i32Load(4).return_().end()
				f.get(0)
			}},
		// new_alias(h) -> the next alias number (from aliasFDBase up), entered
		// as an alias of host fd h, or -1 when the table is full.
		"new_alias": {params: types(i32), results: types(i32), helpers: []string{"region", "alias_add"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				b, a := f.local(i32), f.local(i32)
				f.call(g.helper("region")).set(b)
				f.get(b).i32Load(g.lay.offAliasNext).tee(a).i32Eqz().if_().i32(aliasFDBase).set(a).end()
				f.get(a).get(0).call(g.helper("alias_add")).if_().i32(-1).return_().end()
				f.get(b).get(a).i32(1).i32Add().i32Store(g.lay.offAliasNext)
				f.get(a)
			}},
		// dup(fd, *newfd) -> errno: a new alias number for the same host fd.
		"dup": {params: types(i32, i32), results: types(i32), p1: []string{"fd_fdstat_get"},
			helpers: []string{"region", "resolve_fd", "new_alias"}, region: true, build: func(g *gen, f *funcBuilder) {
				real, a, err := f.local(i32), f.local(i32), f.local(i32)
				f.get(0).call(g.helper("resolve_fd")).set(real)
				g.scratch(f.get(real)).i32(offStat).i32Add().call(g.p1("fd_fdstat_get")).tee(err)
				f.if_().get(err).return_().end()
				f.get(real).call(g.helper("new_alias")).tee(a).i32(-1).i32Eq().if_().i32(errnoMfile).return_().end()
				f.get(1).get(a).i32Store(0)
				f.i32(0)
			}},
		// fresh_fd(ptr): the host just returned a new fd at *ptr; if its number
		// is taken by an entry (dup2 made it mean another file), the guest gets
		// an alias instead.
		//
		// When the module makes fds of its own (epoll, event fds, pipes) the
		// alias is the lowest free number, as the host would have given had it
		// known them; otherwise one from aliasFDBase up.
		"fresh_fd": {params: types(i32), helpers: []string{"region", "alias_find", "new_alias", "emu_fd_alloc"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				a := f.local(i32)
				f.gget(g.baseGlobal).i32Eqz().if_().return_().end() // no region, no entries
				f.get(0).i32Load(0).call(g.helper("alias_find")).i32Eqz().if_().return_().end()
				if g.events || g.epoll {
					f.call(g.helper("emu_fd_alloc")).tee(a).i32(-1).i32Ne().if_()
					f.get(a).call(g.helper("alias_find")).get(0).i32Load(0).i32Store(4)
					f.get(0).get(a).i32Store(0)
					f.end()
					return
				}
				f.get(0).i32Load(0).call(g.helper("new_alias")).tee(a).i32(-1).i32Ne().if_().get(0).get(a).i32Store(0).end()
			}},
		// normalize_path(base, n) -> new length: rewrites the absolute path at
		// base+offCwd in place, dropping empty and "." components and resolving
		// ".." textually, so that getcwd reports what a kernel would. The write
		// cursor never passes the read cursor, so the copy is safe.
		"normalize_path": {params: types(i32, i32), results: types(i32), build: func(g *gen, f *funcBuilder) {
			const b, n = 0, 1
			out, i, start, l := f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			byteAt := func(idx uint32) { f.get(b).get(idx).i32Add().i32Load8U(g.lay.offCwd) }
			f.block().loop() // components
			// skip slashes
			f.block().loop()
			f.get(i).get(n).i32GeU().brIf(1)
			byteAt(i)
			f.i32('/').i32Ne().brIf(1)
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			f.get(i).get(n).i32GeU().brIf(1)
			// the component is [start, i)
			f.get(i).set(start)
			f.block().loop()
			f.get(i).get(n).i32GeU().brIf(1)
			byteAt(i)
			f.i32('/').i32Eq().brIf(1)
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			f.get(i).get(start).i32Sub().set(l)
			f.block() // handled
			// "." : nothing
			f.get(l).i32(1).i32Eq().if_()
			byteAt(start)
			f.i32('.').i32Eq().brIf(1)
			f.end()
			// "..": drop the last component of the output
			f.get(l).i32(2).i32Eq().if_()
			byteAt(start)
			f.i32('.').i32Eq().if_()
			f.get(b).get(start).i32Add().i32Load8U(g.lay.offCwd + 1).i32('.').i32Eq().if_()
			f.block().loop()
			f.get(out).i32Eqz().brIf(1)
			f.get(b).get(out).i32Add().i32Load8U(g.lay.offCwd - 1).i32('/').i32Eq().brIf(1)
			f.get(out).i32(1).i32Sub().set(out)
			f.br(0).end().end()
			f.get(out).if_().get(out).i32(1).i32Sub().set(out).end()
			f.br(4) // handled
			f.end().end().end()
			// otherwise append "/" and the component
			f.get(b).get(out).i32Add().i32('/').i32Store8(g.lay.offCwd)
			f.get(out).i32(1).i32Add().set(out)
			f.block().loop()
			f.get(start).get(i).i32GeU().brIf(1)
			f.get(b).get(out).i32Add()
			byteAt(start)
			f.i32Store8(g.lay.offCwd)
			f.get(out).i32(1).i32Add().set(out)
			f.get(start).i32(1).i32Add().set(start)
			f.br(0).end().end()
			f.end() // handled
			f.br(0).end().end()
			f.get(out).i32Eqz().if_().get(b).i32('/').i32Store8(g.lay.offCwd).i32(1).set(out).end()
			f.get(out)
		}},
		// check_dir(b, n) -> errno: whether the normalised absolute path of n
		// bytes at b+offChdirPath is a directory, as wazix's chdir decides: "/"
		// always is; otherwise the preopen (fds 3 and up, until EBADF) whose
		// name, made absolute and normalised, is the longest prefix of the path
		// answers path_filestat_get (following symlinks) for the rest of it.
		// No such preopen is ENOENT, anything but a directory ENOTDIR.
		"check_dir": {params: types(i32, i32), results: types(i32), helpers: []string{"normalize_path"},
			p1: []string{"fd_prestat_get", "fd_prestat_dir_name", "path_filestat_get"}, build: func(g *gen, f *funcBuilder) {
				const b, n = 0, 1
				fd, rc, nl, pl, best, bestLen, rel, j, bestRel := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32),
					f.local(i32), f.local(i32), f.local(i32), f.local(i32)
				path, pre := g.lay.offChdirPath, g.lay.offChdirPre
				f.get(n).i32(1).i32Eq().if_().i32(0).return_().end()
				f.i32(-1).set(best)
				f.i32(3).set(fd)
				f.block().loop() // preopens
				f.get(fd).i32(3 + 4096).i32GeU().brIf(1)
				f.get(fd).get(b).i32(offEvt).i32Add().call(g.p1("fd_prestat_get")).tee(rc).i32(errnoBadf).i32Eq().brIf(1)
				f.block() // next
				f.get(rc).brIf(0)
				f.get(b).i32Load8U(offEvt).brIf(0) // not a directory preopen
				f.get(b).i32Load(offEvt + 4).tee(nl).i32(1).i32Add().u(g.lay.cwdMax).i32GtU().brIf(0)
				f.get(b).i32('/').i32Store8(pre)
				f.get(fd).get(b).u(pre + 1).i32Add().get(nl).call(g.p1("fd_prestat_dir_name")).brIf(0)
				f.get(b).u(pre - g.lay.offCwd).i32Add().get(nl).i32(1).i32Add().call(g.helper("normalize_path")).tee(pl)
				f.get(bestLen).i32LeS().brIf(0) // not longer than the best match
				// rel = where the rest of the path starts, if pre is a prefix
				f.get(pl).i32(1).i32Eq().if_()
				f.i32(1).set(rel)
				f.else_()
				f.get(pl).get(n).i32GtU().brIf(1)
				f.get(pl).get(n).i32LtU().if_()
				f.get(b).get(pl).i32Add().i32Load8U(path).i32('/').i32Ne().brIf(2)
				f.get(pl).i32(1).i32Add().set(rel)
				f.else_()
				f.get(n).set(rel)
				f.end()
				f.i32(0).set(j)
				f.block().loop()
				f.get(j).get(pl).i32GeU().brIf(1)
				f.get(b).get(j).i32Add().i32Load8U(path).get(b).get(j).i32Add().i32Load8U(pre).i32Ne().brIf(3) // next
				f.get(j).i32(1).i32Add().set(j)
				f.br(0).end().end()
				f.end()
				f.get(fd).set(best)
				f.get(pl).set(bestLen)
				f.get(rel).set(bestRel)
				f.end() // next
				f.get(fd).i32(1).i32Add().set(fd)
				f.br(0).end().end()
				f.get(best).i32(0).i32LtS().if_().i32(errnoNoent).return_().end()
				// the rest of the path, or "." for the preopen itself
				f.get(best).i32(1) // LOOKUP_SYMLINK_FOLLOW
				f.get(bestRel).get(n).i32Eq().if_I32Fn(func() {
					f.get(b).i32('.').i32Store8(pre)
					f.get(b).u(pre).i32Add()
				}, func() {
					f.get(b).u(path).i32Add().get(bestRel).i32Add()
				})
				f.get(bestRel).get(n).i32Eq().if_I32(1, 0).get(n).get(bestRel).i32Sub().i32Add()
				f.get(b) // filestat at offset 0 (64 bytes: the sleep scratch)
				f.call(g.p1("path_filestat_get")).tee(rc).if_().get(rc).return_().end()
				f.get(b).i32Load8U(16).i32(3).i32Ne().if_().i32(errnoNotdir).return_().end()
				f.i32(0)
			}},
		// epoll_forget(fd): drop fd from every interest list, as Linux does when
		// a registered fd is closed (wasmer keeps stale entries; a reused fd
		// number would inherit them).
		"epoll_forget": {params: types(i32), helpers: []string{"region"}, region: true, build: func(g *gen, f *funcBuilder) {
			const fd = 0
			inst, k, cnt, i, e, last := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			f.gget(g.baseGlobal).i32Eqz().if_().return_().end() // no region, no epoll instance
			f.call(g.helper("region")).u(g.lay.offEpoll).i32Add().set(inst)
			f.block().loop() // instances
			f.get(k).u(g.lay.epolls).i32GeU().brIf(1)
			f.get(inst).i32Load(0).if_()
			f.get(inst).i32Load(4).set(cnt)
			f.i32(0).set(i)
			f.block().loop() // entries
			f.get(i).get(cnt).i32GeU().brIf(1)
			f.get(inst).i32(16).i32Add().get(i).i32(epollEntry).i32Mul().i32Add().tee(e)
			f.i32Load(0).get(fd).i32Eq().if_()
			// move the last entry into this slot and look at the slot again
			f.get(cnt).i32(1).i32Sub().set(cnt)
			f.get(inst).get(cnt).i32Store(4)
			f.get(inst).i32(16).i32Add().get(cnt).i32(epollEntry).i32Mul().i32Add().set(last)
			for off := uint32(0); off < epollEntry; off += 8 {
				f.get(e).get(last).i64Load(off).i64Store(off)
			}
			f.br(1) // continue without advancing i
			f.end()
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			f.end()
			f.get(inst).u(g.lay.epollStride).i32Add().set(inst)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
		}},
		// not_epoll(fd) -> the errno for an fd that is not an epoll instance:
		// EBADF (what fd_fdstat_get answers) when it is not open, else EINVAL,
		// as Linux's epoll_ctl and epoll_wait answer.
		"not_epoll": {params: types(i32), results: types(i32), p1: []string{"fd_fdstat_get"}, helpers: []string{"region"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				e := f.local(i32)
				if g.events {
					// an event fd or a pipe end is open
					f.get(0).i32(0).call(g.helper("emu_poll")).i32(-1).i32Ne().if_().i32(errnoInval).return_().end()
				}
				g.fdArg(f, 0)
				g.scratch(f).i32(offStat).i32Add().call(g.p1("fd_fdstat_get")).tee(e)
				f.if_().get(e).return_().end()
				f.i32(errnoInval)
			}},
		// epoll_touch(fd, mask): the guest read (mask etDoneIn) or wrote
		// (etDoneOut) fd: its edge-triggered interests watch that direction
		// again. Nothing to do until some registration asked for EPOLLET; it
		// never sets the region up itself, since reads and writes can come
		// before the guest's allocator has started (see regionPages).
		"epoll_touch": {params: types(i32, i32), region: true, build: func(g *gen, f *funcBuilder) {
			const fd, mask = 0, 1
			b, inst, k, e, end := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			f.gget(g.baseGlobal).tee(b).i32Eqz().if_().return_().end()
			f.get(b).i32Load(offETUsed).i32Eqz().if_().return_().end()
			f.get(b).u(g.lay.offEpoll).i32Add().set(inst)
			f.block().loop() // instances
			f.get(k).u(g.lay.epolls).i32GeU().brIf(1)
			f.get(inst).i32Load(0).if_()
			f.get(inst).i32(16).i32Add().tee(e).get(inst).i32Load(4).i32(epollEntry).i32Mul().i32Add().set(end)
			f.block().loop() // entries
			f.get(e).get(end).i32GeU().brIf(1)
			f.get(e).i32Load(0).get(fd).i32Eq().if_()
			f.get(e).get(e).i32Load(4).get(mask).i32(-1).i32Xor().i32And().i32Store(4)
			f.end()
			f.get(e).i32(epollEntry).i32Add().set(e)
			f.br(0).end().end()
			f.end()
			f.get(inst).u(g.lay.epollStride).i32Add().set(inst)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
		}},
		// epoll_instance(fd) -> address of the epoll instance, or 0.
		// An instance's first word is its fd number (0: free). It never sets
		// the region up: without a region there is no instance.
		"epoll_instance": {params: types(i32), results: types(i32), region: true,
			build: func(g *gen, f *funcBuilder) {
				k, p := f.local(i32), f.local(i32)
				f.gget(g.baseGlobal).tee(p).i32Eqz().if_().i32(0).return_().end()
				f.get(0).i32Eqz().if_().i32(0).return_().end()
				f.get(p).u(g.lay.offEpoll).i32Add().set(p)
				f.block().loop()
				f.get(k).u(g.lay.epolls).i32GeU().brIf(1)
				f.get(p).i32Load(0).get(0).i32Eq().if_().get(p).return_().end()
				f.get(p).u(g.lay.epollStride).i32Add().set(p)
				f.get(k).i32(1).i32Add().set(k)
				f.br(0).end().end()
				f.i32(0)
			}},
	}
}

// newEmulations returns the emulation table without those of the eventfd,
// pipe and TLS files.
func newEmulations() map[string]*adapter {
	return map[string]*adapter{
		"proc_exit2": {params: types(i32), p1: []string{"proc_exit"}, pure: true, build: func(g *gen, f *funcBuilder) {
			f.get(0).call(g.p1("proc_exit")).unreachable()
		}},
		// Ending the only thread ends the process.
		"thread_exit": {params: types(i32), p1: []string{"proc_exit"}, pure: true, build: func(g *gen, f *funcBuilder) {
			f.get(0).call(g.p1("proc_exit")).unreachable()
		}},
		// Signals at start-up: no inherited dispositions, handler registration
		// accepted (wasix-libc's _start exits with 71 if these fail).
		"proc_signals_sizes_get": {params: types(i32), results: types(i32), build: storeConst(0, 0)},
		"proc_signals_get":       {params: types(i32), results: types(i32), pure: true, build: returnConst(0)},
		"callback_signal":        {params: types(i32, i32), pure: true, build: func(g *gen, f *funcBuilder) {}},
		"proc_snapshot":          {results: types(i32), pure: true, build: returnConst(0)},
		// Single process, single thread.
		"proc_id":            {params: types(i32), results: types(i32), build: storeConst(0, 1)},
		"thread_id":          {params: types(i32), results: types(i32), build: storeConst(0, 1)},
		"thread_parallelism": {params: types(i32), results: types(i32), build: storeConst(0, 1)},
		"proc_parent": {params: types(i32, i32), results: types(i32), build: func(g *gen, f *funcBuilder) {
			f.get(1).i32(0).i32Store(0).i32(0)
		}},
		"thread_sleep": {params: types(i64), results: types(i32), helpers: []string{"sleep"}, build: func(g *gen, f *funcBuilder) {
			f.get(0).call(g.helper("sleep"))
		}},
		// futex_wait(addr, expected, *timeout, *woken): nobody else can change
		// *addr, so a matching value either times out (sleep) or, with no
		// timeout, returns a spurious wake-up instead of deadlocking.
		"futex_wait": {params: types(i32, i32, i32, i32), results: types(i32), helpers: []string{"sleep", "in_bounds"},
			build: func(g *gen, f *funcBuilder) {
				f.get(0).i32(3).i32And().if_().i32(errnoInval).return_().end()
				for _, c := range [][2]int32{{0, 4}, {2, 16}, {3, 1}} {
					f.get(uint32(c[0])).i32(c[1]).call(g.helper("in_bounds")).i32Eqz().if_().i32(errnoFault).return_().end()
				}
				f.get(0).i32Load(0).get(1).i32Ne().if_().get(3).i32(1).i32Store8(0).i32(0).return_().end()
				f.get(2).i32Load8U(0).i32(1).i32Eq().if_().get(2).i64Load(8).call(g.helper("sleep")).drop().end()
				f.get(3).i32(0).i32Store8(0).i32(0)
			}},
		// futex_wake[_all](addr, *woken): nobody waits; woken=1 as wazix and
		// Wasmer answer (older wasix-libc wakes in a loop until woken is set).
		"futex_wake": {params: types(i32, i32), results: types(i32), helpers: []string{"in_bounds"}, build: func(g *gen, f *funcBuilder) {
			futexWakeChecks(g, f)
			f.get(1).i32(1).i32Store8(0).i32(0)
		}},
		"futex_wake_all": {params: types(i32, i32), results: types(i32), helpers: []string{"in_bounds"}, build: func(g *gen, f *funcBuilder) {
			futexWakeChecks(g, f)
			f.get(1).i32(1).i32Store8(0).i32(0)
		}},
		// CLOEXEC is meaningless without exec.
		// fd_fdflags_get(fd, *flags) / fd_fdflags_set(fd, flags): CLOEXEC (bit
		// 0, the only flag) is kept per guest fd, for programs that read it
		// back; nothing execs. Other bits are EINVAL, as wazix answers.
		"fd_fdflags_get": {params: types(i32, i32), results: types(i32), helpers: []string{"cloexec_find"}, build: func(g *gen, f *funcBuilder) {
			f.get(1).get(0).call(g.helper("cloexec_find")).i32(0).i32Ne().i32Store16(0).i32(0)
		}},
		"fd_fdflags_set": {params: types(i32, i32), results: types(i32), helpers: []string{"cloexec_set"}, region: true, build: func(g *gen, f *funcBuilder) {
			f.get(1).i32(0xfffe).i32And().if_().i32(errnoInval).return_().end()
			f.get(0).get(1).i32(1).i32And().call(g.helper("cloexec_set"))
			f.i32(0)
		}},
		"path_open2": {params: types(i32, i32, i32, i32, i32, i64, i64, i32, i32, i32), results: types(i32),
			p1: []string{"path_open"}, helpers: []string{"root_skip", "region"}, region: true, build: func(g *gen, f *funcBuilder) {
				rfd := f.local(i32)
				g.fdArg(f, 0)
				f.set(rfd)
				g.rootRelative(f, rfd, 2, 3)
				f.get(rfd)
				for l := uint32(1); l <= 7; l++ {
					f.get(l)
				}
				f.get(9).call(g.p1("path_open"))
				g.freshFD(f, 9)
			}},
		"clock_time_set": {params: types(i32, i64), results: types(i32), pure: true, build: returnConst(errnoPerm)},
		"proc_raise": {params: types(i32), results: types(i32), p1: []string{"proc_raise"}, build: func(g *gen, f *funcBuilder) {
			raiseRenumbered(g, f, 0)
		}},
		// thread_signal(tid, sig): the only thread is the caller.
		"thread_signal": {params: types(i32, i32), results: types(i32), p1: []string{"proc_raise"}, build: func(g *gen, f *funcBuilder) {
			raiseRenumbered(g, f, 1)
		}},
		"sock_accept":    sockAccept(),
		"sock_accept_v2": sockAccept(),
		// tty_get: an 80x25 terminal; the *_tty flags come from fd_fdstat_get.
		"tty_get": {params: types(i32), results: types(i32), helpers: []string{"isatty"}, region: true, build: func(g *gen, f *funcBuilder) {
			b := f.local(i32)
			f.get(0).i32(80).i32Store(0)
			f.get(0).i32(25).i32Store(4)
			f.get(0).i64(0).i64Store(8)
			for fd := uint32(0); fd < 3; fd++ {
				f.get(0).i32(int32(fd)).call(g.helper("isatty")).i32Store8(16 + fd)
			}
			f.get(0).i32(1).i32Store8(19)
			f.get(0).i32(1).i32Store8(20)
			f.get(0).i32(1).i32Store8(21)
			f.get(0).i32(0).i32Store16(22)
			// what tty_set set, but whether fds are terminals
			f.gget(g.baseGlobal).tee(b).if_()
			f.get(b).i32Load(g.lay.offTTY + 24).if_()
			f.get(0).get(b).i64Load(g.lay.offTTY).i64Store(0)
			f.get(0).get(b).i64Load(g.lay.offTTY + 8).i64Store(8)
			for off := uint32(19); off < 22; off++ {
				f.get(0).get(b).i32Load8U(g.lay.offTTY + off).i32Store8(off)
			}
			f.end()
			f.end()
			f.i32(0)
		}},
		// tty_set(*tty): kept for tty_get; nothing reaches the host.
		"tty_set": {params: types(i32), results: types(i32), helpers: []string{"region"}, region: true, build: func(g *gen, f *funcBuilder) {
			b := f.local(i32)
			f.call(g.helper("region")).set(b)
			for off := uint32(0); off < 24; off += 8 {
				f.get(b).get(0).i64Load(off).i64Store(g.lay.offTTY + off)
			}
			f.get(b).i32(1).i32Store(g.lay.offTTY + 24)
			f.i32(0)
		}},
		// getcwd(buf, *len): wasmer's protocol — always report the length,
		// ERANGE when the buffer is too small, EINVAL for a null buffer.
		"getcwd": {params: types(i32, i32), results: types(i32), helpers: []string{"region"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				b, n, capacity, i := f.local(i32), f.local(i32), f.local(i32), f.local(i32)
				f.call(g.helper("region")).set(b)
				f.get(b).i32Load(g.lay.offCwdLen).set(n)
				f.get(1).i32Load(0).set(capacity)
				f.get(1).get(n).i32Store(0)
				f.get(capacity).get(n).i32LtU().if_().i32(errnoRange).return_().end()
				f.get(0).i32Eqz().if_().i32(errnoInval).return_().end()
				f.block().loop()
				f.get(i).get(n).i32GeU().brIf(1)
				f.get(0).get(i).i32Add().get(b).get(i).i32Add().i32Load8U(g.lay.offCwd).i32Store8(0)
				f.get(i).i32(1).i32Add().set(i)
				f.br(0).end().end()
				f.get(capacity).get(n).i32GtU().if_().get(0).get(n).i32Add().i32(0).i32Store8(0).end()
				f.i32(0)
			}},
		// chdir(path, len): joins path to the current directory textually
		// (absolute paths replace it), normalises the result, checks that it
		// names a directory (check_dir) and only then makes it current.
		"chdir": {params: types(i32, i32), results: types(i32), helpers: []string{"region", "normalize_path", "check_dir"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				b, n, i, err := f.local(i32), f.local(i32), f.local(i32), f.local(i32)
				tmp := g.lay.offChdirPath
				f.get(1).i32Eqz().if_().i32(errnoNoent).return_().end()
				f.call(g.helper("region")).set(b)
				f.get(0).i32Load8U(0).i32('/').i32Ne().if_()
				// relative: start from the current directory and a slash
				f.get(b).i32Load(g.lay.offCwdLen).set(n)
				f.block().loop()
				f.get(i).get(n).i32GeU().brIf(1)
				f.get(b).get(i).i32Add().get(b).get(i).i32Add().i32Load8U(g.lay.offCwd).i32Store8(tmp)
				f.get(i).i32(1).i32Add().set(i)
				f.br(0).end().end()
				f.get(b).get(n).i32Add().i32('/').i32Store8(tmp)
				f.get(n).i32(1).i32Add().set(n)
				f.end()
				f.get(n).get(1).i32Add().u(g.lay.cwdMax).i32GtU().if_().i32(errnoNametoolong).return_().end()
				f.i32(0).set(i)
				f.block().loop()
				f.get(i).get(1).i32GeU().brIf(1)
				f.get(b).get(n).i32Add().get(i).i32Add().get(0).get(i).i32Add().i32Load8U(0).i32Store8(tmp)
				f.get(i).i32(1).i32Add().set(i)
				f.br(0).end().end()
				f.get(n).get(1).i32Add().set(n)
				f.get(b).u(tmp - g.lay.offCwd).i32Add().get(n).call(g.helper("normalize_path")).set(n)
				f.get(b).get(n).call(g.helper("check_dir")).tee(err).if_().get(err).return_().end()
				f.i32(0).set(i)
				f.block().loop()
				f.get(i).get(n).i32GeU().brIf(1)
				f.get(b).get(i).i32Add().get(b).get(i).i32Add().i32Load8U(tmp).i32Store8(g.lay.offCwd)
				f.get(i).i32(1).i32Add().set(i)
				f.br(0).end().end()
				f.get(b).get(n).i32Store(g.lay.offCwdLen)
				f.i32(0)
			}},
		"fd_dup": {params: types(i32, i32), results: types(i32), helpers: []string{"dup"}, build: func(g *gen, f *funcBuilder) {
			f.get(0).get(1).call(g.helper("dup"))
		}},
		// fd_dup2(fd, min_fd, cloexec, *newfd): alias numbers are above any
		// host fd, so they satisfy min_fd in practice; cloexec is meaningless.
		// fd_dup2(fd, min_fd, cloexec, *newfd).
		"fd_dup2": {params: types(i32, i32, i32, i32), results: types(i32), helpers: []string{"dup", "cloexec_set"}, build: func(g *gen, f *funcBuilder) {
			e := f.local(i32)
			f.get(0).get(3).call(g.helper("dup")).tee(e).if_().get(e).return_().end()
			f.get(2).i32(1).i32And().if_().get(3).i32Load(0).i32(1).call(g.helper("cloexec_set")).end()
			f.i32(0)
		}},
		"epoll_create": {params: types(i32), results: types(i32), helpers: []string{"region", "emu_fd_alloc"}, region: true,
			build: func(g *gen, f *funcBuilder) {
				p, k, n := f.local(i32), f.local(i32), f.local(i32)
				f.call(g.helper("region")).u(g.lay.offEpoll).i32Add().set(p)
				f.block().loop()
				f.get(k).u(g.lay.epolls).i32GeU().brIf(1)
				f.get(p).i32Load(0).i32Eqz().if_()
				f.call(g.helper("emu_fd_alloc")).tee(n).i32(0).i32LtS().if_().i32(errnoMfile).return_().end()
				f.get(p).get(n).i32Store(0).get(p).i32(0).i32Store(4)
				f.get(0).get(n).i32Store(0)
				f.i32(0).return_()
				f.end()
				f.get(p).u(g.lay.epollStride).i32Add().set(p)
				f.get(k).i32(1).i32Add().set(k)
				f.br(0).end().end()
				f.i32(errnoMfile)
			}},
		"epoll_ctl":  epollCtl(),
		"epoll_wait": epollWait(),
	}
}

// raiseRenumbered calls preview1 proc_raise with the signal in local l
// converted from WASIX (Linux) numbering: preview1 has no SIGSTKFLT (16), so
// every signal above it is one lower.
func raiseRenumbered(g *gen, f *funcBuilder, l uint32) {
	if g.wasmSignal >= 0 {
		// The guest registered __wasm_signal: deliver the signal there (it
		// runs the handler, or libc's default action), WASIX numbering.
		f.gget(g.baseGlobal).if_()
		f.gget(g.baseGlobal).i32Load(g.lay.offSigCB).i32(1).i32Eq().if_()
		f.get(l).call(uint32(g.wasmSignal))
		f.i32(0).return_()
		f.end()
		f.end()
	}
	f.get(l).i32(16).i32Eq().if_().i32(errnoInval).return_().end()
	f.get(l).get(l).i32(16).i32GtU().i32Sub()
	f.call(g.p1("proc_raise"))
}

// callbackSignal is callback_signal(name, len) in a module that exports
// __wasm_signal: it records whether that export is the one registered
// (wasix-libc names "__wasm_signal_blocked" while signals are blocked: then
// a raise goes to the host's proc_raise, as without a handler entry).
func callbackSignal() *adapter {
	return &adapter{params: types(i32, i32), helpers: []string{"region"}, region: true, build: func(g *gen, f *funcBuilder) {
		const p, n = 0, 1
		b := f.local(i32)
		f.call(g.helper("region")).set(b)
		f.get(b).i32(0).i32Store(g.lay.offSigCB)
		f.get(n).i32(13).i32Ne().if_().return_().end()
		// a name outside memory registers nothing (and does not trap here)
		f.get(p).i32(-16).i32GeU().if_().return_().end()
		f.get(p).i32(12).i32Add().i32(16).i32ShrU().memorySize().i32GeU().if_().return_().end()
		// "__wasm_signal": 8, 4 and 1 bytes, little-endian
		f.get(p).i64Load(0).i64(int64(binary.LittleEndian.Uint64([]byte("__wasm_s")))).i64Ne().if_().return_().end()
		f.get(p).i32Load(8).i32(int32(binary.LittleEndian.Uint32([]byte("igna")))).i32Ne().if_().return_().end()
		f.get(p).i32Load8U(12).i32('l').i32Ne().if_().return_().end()
		f.get(b).i32(1).i32Store(g.lay.offSigCB)
	}}
}

// sockAccept adapts the four-argument accept (fd, flags, *fd, *addr_port)
// to preview1's three arguments; the peer address is reported as UNSPEC.
func sockAccept() *adapter {
	return &adapter{params: types(i32, i32, i32, i32), results: types(i32), p1: []string{"sock_accept"},
		build: func(g *gen, f *funcBuilder) {
			e := f.local(i32)
			g.fdArg(f, 0)
			f.get(1).get(2).call(g.p1("sock_accept"))
			g.freshFD(f, 2)
			if g.epoll {
				g.touch(f, 0, etDoneIn)
			}
			f.tee(e)
			f.i32Eqz().if_()
			f.get(3).i64(0).i64Store(0).get(3).i64(0).i64Store(8).get(3).i32(0).i32Store(16)
			f.end()
			f.get(e)
		}}
}

// epollCtl registers interest. Both op numberings are accepted (wasix-abi.md
// §4.1): 0 ADD, 1 ADD-or-MOD (WASIX MOD and Linux ADD), 2 DEL, 3 MOD. The
// checks come in wazix's order: the epoll fd (EBADF, EINVAL), op (EINVAL),
// a null event for other ops than DEL (EFAULT), fd == epfd (EINVAL), fd not
// open (EBADF), a regular file or directory (EPERM), then EEXIST for ADD of
// a registered fd and ENOENT for DEL or MOD of an unregistered one.
func epollCtl() *adapter {
	return &adapter{params: types(i32, i32, i32, i32), results: types(i32), p1: []string{"fd_fdstat_get"},
		helpers: []string{"epoll_instance", "not_epoll", "region"}, region: true, build: func(g *gen, f *funcBuilder) {
			const epfd, op, fd, ev = 0, 1, 2, 3
			inst, cnt, i, e, err := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			f.get(epfd).call(g.helper("epoll_instance")).tee(inst).i32Eqz().if_().get(epfd).call(g.helper("not_epoll")).return_().end()
			f.get(op).i32(3).i32GtU().if_().i32(errnoInval).return_().end()
			f.get(op).i32(2).i32Ne().if_().get(ev).i32Eqz().if_().i32(errnoFault).return_().end().end()
			f.get(fd).get(epfd).i32Eq().if_().i32(errnoInval).return_().end()
			// fd must be open; regular files and directories are refused as
			// on Linux (their readiness never changes). Event fds are the
			// adapter's own.
			if g.events {
				f.get(fd).i32(0).call(g.helper("emu_poll")).i32(-1).i32Eq().if_()
			}
			g.fdArg(f, fd)
			g.scratch(f).i32(offStat).i32Add().call(g.p1("fd_fdstat_get")).tee(err)
			f.if_().get(err).return_().end()
			f.get(op).i32(2).i32Ne().if_()
			g.scratch(f).i32Load8U(offStat).tee(err).i32(4).i32Eq().get(err).i32(3).i32Eq().i32Or()
			f.if_().i32(errnoPerm).return_().end()
			f.end()
			if g.events {
				f.end()
			}
			f.get(inst).i32Load(4).set(cnt)
			// find the entry for fd: i = index, or cnt when absent
			f.get(inst).i32(16).i32Add().set(e)
			f.block().loop()
			f.get(i).get(cnt).i32GeU().brIf(1)
			f.get(e).i32Load(0).get(fd).i32Eq().brIf(1)
			f.get(e).i32(epollEntry).i32Add().set(e)
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			// DEL: move the last entry into the hole.
			f.get(op).i32(2).i32Eq().if_()
			f.get(i).get(cnt).i32GeU().if_().i32(errnoNoent).return_().end()
			f.get(inst).get(cnt).i32(1).i32Sub().tee(cnt).i32Store(4)
			f.get(inst).i32(16).i32Add().get(cnt).i32(epollEntry).i32Mul().i32Add().set(err) // err = last entry address
			for off := uint32(0); off < epollEntry; off += 8 {
				f.get(e).get(err).i64Load(off).i64Store(off)
			}
			f.i32(0).return_()
			f.end()
			f.get(i).get(cnt).i32LtU().if_()
			f.get(op).i32Eqz().if_().i32(errnoExist).return_().end()
			f.else_()
			f.get(op).i32(3).i32Eq().if_().i32(errnoNoent).return_().end()
			f.get(cnt).u(g.lay.interests).i32GeU().if_().i32(errnoNospc).return_().end()
			f.get(inst).get(cnt).i32(1).i32Add().i32Store(4)
			f.end()
			f.get(e).get(fd).i32Store(0)
			f.get(e).get(ev).i32Load(0).i32(epollUserBits).i32And().i32Store(4) // MOD also re-arms an edge
			f.get(ev).i32Load(0).i32(epollET).i32And().if_().call(g.helper("region")).i32(1).i32Store(offETUsed).end()
			for off := uint32(8); off < 32; off += 8 {
				f.get(e).get(ev).i64Load(off).i64Store(off)
			}
			f.i32(0)
		}}
}

// epollWait turns the interest list into one poll_oneoff call: an FD_READ
// subscription per fd watching EPOLLIN/EPOLLRDHUP, an FD_WRITE per fd
// watching EPOLLOUT, and a relative monotonic clock for a finite timeout.
// Events are coalesced per fd (one epoll_event with all bits), ERR and HUP
// are always reported, and EPOLLONESHOT entries are disarmed after firing.
// poll_oneoff reports levels; edge-triggered (EPOLLET) interests get edges
// from per-interest state: a reported direction is not watched again until
// the guest calls a read (write) function on the fd, which is when an edge
// program drains it, or MODs the registration.
func epollWait() *adapter {
	return &adapter{params: types(i32, i32, i32, i64, i32), results: types(i32), p1: []string{"poll_oneoff"},
		helpers: []string{"epoll_instance", "not_epoll", "region"}, region: true, build: func(g *gen, f *funcBuilder) {
			const epfd, events, maxevents, timeout, nevents = 0, 1, 2, 3, 4
			inst, b, cnt, i, e, s, nsubs, err, n, k, ev, bits, j, nout, o :=
				f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32),
				f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			emuSeen, capped := f.local(i32), f.local(i32)
			f.get(epfd).call(g.helper("epoll_instance")).tee(inst).i32Eqz().if_().get(epfd).call(g.helper("not_epoll")).return_().end()
			f.get(maxevents).i32(0).i32LeS().if_().i32(errnoInval).return_().end()
			f.call(g.helper("region")).set(b)
			f.loop() // again: a threaded module's wait for nothing
			f.get(inst).i32Load(4).set(cnt)
			f.get(b).u(g.lay.offWaitSubs).i32Add().set(s)
			f.get(inst).i32(16).i32Add().set(e)
			f.i32(0).set(i).i32(0).set(nsubs).i32(0).set(nout).i32(0).set(k).i32(0).set(j).i32(0).set(emuSeen).i32(0).set(capped)

			f.block().loop()
			f.get(i).get(cnt).i32GeU().brIf(1)
			f.block() // next entry
			if g.events {
				// An adapter-made fd (event fd, pipe end) is ready as
				// emu_poll says: ready entries are reported here and the host
				// is asked not to wait.
				f.get(e).i32Load(0).i32(0).call(g.helper("emu_poll")).i32(-1).i32Ne().if_()
				f.i32(1).set(emuSeen)
				f.i32(0).set(bits)
				f.get(e).i32Load(0).i32(1).call(g.helper("emu_poll")).tee(ev).i32(2).i32And().if_().i32(epollHup).set(bits).end()
				f.get(e).i32Load(4).i32(epollIn | etDoneIn).i32And().i32(epollIn).i32Eq().if_()
				f.get(ev).i32(1).i32And().if_().get(bits).i32(epollIn).i32Or().set(bits).end()
				f.end()
				f.get(e).i32Load(0).i32(2).call(g.helper("emu_poll")).tee(ev).i32(2).i32And().if_().get(bits).i32(epollErr).i32Or().set(bits).end()
				f.get(e).i32Load(4).i32(epollOut | etDoneOut).i32And().i32(epollOut).i32Eq().if_()
				f.get(ev).i32(1).i32And().if_().get(bits).i32(epollOut).i32Or().set(bits).end()
				f.end()
				f.get(e).i32Load(4).i32Eqz().if_().i32(0).set(bits).end() // disarmed (EPOLLONESHOT)
				f.get(bits).i32(0).i32Ne().get(nout).get(maxevents).i32LtU().i32And().if_()
				f.get(b).get(nout).i32(2).i32Shl().i32Add().get(i).i32Store(g.lay.offWaitOut)
				f.get(events).get(nout).i32(5).i32Shl().i32Add().tee(o).get(bits).i32Store(0)
				f.get(o).i32(0).i32Store(4)
				for off := uint32(8); off < 32; off += 8 {
					f.get(o).get(e).i64Load(off).i64Store(off)
				}
				f.get(nout).i32(1).i32Add().set(nout)
				f.i64(0).set(timeout)
				f.end()
				f.br(1) // next entry
				f.end()
			}
			f.get(e).i32Load(4).i32(epollIn | epollRdHup).i32And().i32(0).i32Ne()
			f.get(e).i32Load(4).i32(etDoneIn).i32And().i32Eqz().i32And().if_()
			f.get(s).get(i).i32(1).i32Shl().i32Store(0).get(s).i32(0).i32Store(4)
			f.get(s).i64(1).i64Store(8) // FD_READ
			f.get(s).get(e).i32Load(0)
			if g.resolveFDs {
				f.call(g.helper("resolve_fd"))
			}
			f.i32Store(16)
			f.get(s).i32(48).i32Add().set(s)
			f.get(nsubs).i32(1).i32Add().set(nsubs)
			f.end()
			f.get(e).i32Load(4).i32(epollOut | etDoneOut).i32And().i32(epollOut).i32Eq().if_()
			f.get(s).get(i).i32(1).i32Shl().i32(1).i32Or().i32Store(0).get(s).i32(0).i32Store(4)
			f.get(s).i64(2).i64Store(8) // FD_WRITE
			f.get(s).get(e).i32Load(0)
			if g.resolveFDs {
				f.call(g.helper("resolve_fd"))
			}
			f.i32Store(16)
			f.get(s).i32(48).i32Add().set(s)
			f.get(nsubs).i32(1).i32Add().set(nsubs)
			f.end()
			f.end() // next entry
			f.get(e).i32(epollEntry).i32Add().set(e)
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			// A finite timeout becomes a clock subscription (userdata all ones).
			// With threads, adapter fds can change while the host waits: the
			// wait is cut into slices (see pollOneoffEvents).
			if g.threads {
				f.get(emuSeen).get(timeout).i64(-1).i64Eq().get(timeout).i64(pollSliceNanos).i64GtU().i32Or().i32And().set(capped)
			}
			f.get(timeout).i64(-1).i64Ne().get(capped).i32Or().if_()
			f.get(s).i64(-1).i64Store(0)
			f.get(s).i64(0).i64Store(8)
			f.get(s).i64(1).i64Store(16) // MONOTONIC
			f.get(s)
			f.get(capped).ifI64().i64(pollSliceNanos).else_().get(timeout).end()
			f.i64Store(24)
			f.get(s).i64(0).i64Store(32)
			f.get(s).i64(0).i64Store(40)
			f.get(nsubs).i32(1).i32Add().set(nsubs)
			f.end()
			// Nothing to wait for: report no events rather than block forever.
			// With threads, another thread may register an fd: wait and
			// look again.
			f.get(nsubs).i32Eqz().if_()
			if g.threads {
				f.get(timeout).i64(-1).i64Eq().if_()
				f.call(g.helper("region")).i32(0).i64(parkNanos).memoryAtomicWait32(offParked).drop()
				f.br(2) // again
				f.end()
			}
			f.get(nevents).i32(0).i32Store(0).i32(0).return_()
			f.end()
			f.get(b).u(g.lay.offWaitSubs).i32Add()
			f.get(b).u(g.lay.offWaitEvts).i32Add()
			f.get(nsubs)
			f.get(b).u(g.lay.offWaitNev).i32Add()
			f.call(g.p1("poll_oneoff")).tee(err).if_().get(err).return_().end()
			f.get(b).i32Load(g.lay.offWaitNev).set(n)
			f.get(b).u(g.lay.offWaitEvts).i32Add().set(ev)
			f.block().loop()
			f.get(k).get(n).i32GeU().brIf(1)
			f.block()
			f.get(ev).i32Load8U(10).i32Eqz().brIf(0) // clock event
			f.get(ev).i32Load(0).i32(1).i32ShrU().tee(i).get(cnt).i32GeU().brIf(0)
			f.get(inst).i32(16).i32Add().get(i).i32(epollEntry).i32Mul().i32Add().set(e)
			// bits = IN or OUT, plus ERR and HUP from the event
			f.get(ev).i32Load(0).i32(1).i32And().if_I32(epollOut, epollIn).set(bits)
			f.get(ev).i32Load16U(8).if_().get(bits).i32(epollErr).i32Or().set(bits).end()
			f.get(ev).i32Load16U(24).i32(1).i32And().if_().get(bits).i32(epollHup).i32Or().set(bits).end()
			f.get(bits).get(e).i32Load(4).i32(epollErr | epollHup).i32Or().i32And().tee(bits).i32Eqz().brIf(0)
			// coalesce with an earlier event for the same entry
			f.i32(0).set(j)
			f.block().loop()
			f.get(j).get(nout).i32GeU().brIf(1)
			f.get(b).get(j).i32(2).i32Shl().i32Add().i32Load(g.lay.offWaitOut).get(i).i32Eq().if_()
			f.get(events).get(j).i32(5).i32Shl().i32Add().tee(o).get(o).i32Load(0).get(bits).i32Or().i32Store(0)
			f.br(3) // next event
			f.end()
			f.get(j).i32(1).i32Add().set(j)
			f.br(0).end().end()
			f.get(nout).get(maxevents).i32GeU().brIf(0)
			f.get(b).get(nout).i32(2).i32Shl().i32Add().get(i).i32Store(g.lay.offWaitOut)
			f.get(events).get(nout).i32(5).i32Shl().i32Add().tee(o).get(bits).i32Store(0)
			f.get(o).i32(0).i32Store(4)
			for off := uint32(8); off < 32; off += 8 {
				f.get(o).get(e).i64Load(off).i64Store(off)
			}
			f.get(nout).i32(1).i32Add().set(nout)
			f.end()
			f.get(ev).i32(32).i32Add().set(ev)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			// EPOLLONESHOT: disarm what was reported until the next MOD.
			// EPOLLET: stop watching the reported directions until the
			// guest reads or writes the fd (epoll_touch) or MODs it.
			f.i32(0).set(j)
			f.block().loop()
			f.get(j).get(nout).i32GeU().brIf(1)
			f.get(inst).i32(16).i32Add().get(b).get(j).i32(2).i32Shl().i32Add().i32Load(g.lay.offWaitOut).i32(epollEntry).i32Mul().i32Add().tee(e)
			f.i32Load(4).i32(epollOneShot).i32And().if_().get(e).i32(0).i32Store(4).else_()
			f.get(e).i32Load(4).i32(epollET).i32And().if_()
			f.get(e).get(e).i32Load(4)
			f.get(events).get(j).i32(5).i32Shl().i32Add().i32Load(0).i32(epollIn | epollOut).i32And().i32(16).i32Shl()
			f.i32Or().i32Store(4)
			f.end().end()
			f.get(j).i32(1).i32Add().set(j)
			f.br(0).end().end()
			if g.threads {
				// a slice passed with nothing to report: look again
				f.get(capped).get(nout).i32Eqz().i32And().if_()
				f.get(timeout).i64(-1).i64Ne().if_().get(timeout).i64(pollSliceNanos).i64Sub().set(timeout).end()
				f.br(1) // again
				f.end()
			}
			f.end() // again
			f.get(nevents).get(nout).i32Store(0)
			f.i32(0)
		}}
}

// if_I32Fn selects between two i32 computations on the condition on the stack.
func (f *funcBuilder) if_I32Fn(then, els func()) *funcBuilder {
	f.ifI32()
	then()
	f.else_()
	els()
	return f.end()
}

// if_I32 selects between two constants on the i32 condition on the stack.
func (f *funcBuilder) if_I32(then, els int32) *funcBuilder {
	return f.ifI32().i32(then).else_().i32(els).end()
}
