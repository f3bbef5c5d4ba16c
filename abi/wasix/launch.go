package wasix

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/abi/wasi_p1"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/sys"
)

// Process is one guest process in a wazero runtime: its system state, the
// host modules instantiated for it alone, its memory and its threads. Any
// number of processes share one runtime and its compiled code: each one's
// host modules are registered under names of their own, and the guest's
// imports are bound to them with wazero's import resolver, so that two
// guests never see each other's fd tables or memories.
type Process struct {
	Sys     *sys.System
	Threads *Threads

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	opts     LaunchOptions
	alloc    experimental.MemoryAllocator // opts.Allocator, or the process's own
	base     context.Context              // the context processes of this tree derive from
	ctx      context.Context              // base with the import resolver
	resolve  map[string]api.Module
	mods     []api.Module
	host     *host // the WASIX host; nil for a preview1 guest
	entry    string
	// imported are the memories made for the module's memory imports:
	// Close frees them (see deferredFree).
	imported []*mappedMemory
	// hostCompiled are the compiled host modules of mods.
	hostCompiled []wazero.CompiledModule
	// execNext is the image an exec replaced this one with.
	execNext *Process
	// ownsCompiled: the module was compiled for an exec or spawn, and is
	// closed with the process.
	ownsCompiled bool

	// TmpDir is the host directory mounted at the guest's /tmp for
	// LaunchOptions.PrivateTmp ("" if none was made).
	TmpDir string
}

// LaunchOptions are the limits and outputs of a process.
type LaunchOptions struct {
	// MaxThreads bounds the live threads of the process (<= 0: default).
	MaxThreads int
	// Warn receives one-line warnings about the guest (may be nil).
	Warn io.Writer
	// MaxPages caps the guest's linear memory (0: the module's own
	// maximum): imported memories get it as their maximum, and Allocator
	// (which should enforce it) backs the memories the module defines.
	// A nil Allocator means wazix's own: reserved address space that
	// grows without copying, capped at MaxPages.
	MaxPages  uint32
	Allocator experimental.MemoryAllocator
	// MainEnded is called with the main instance when the main thread of
	// a process ends, before the instance closes.
	MainEnded func(mod api.Module)
	// Cwd is the first process's working directory (a guest path; "" =
	// "/"); processes it makes start in theirs.
	Cwd string
	// PrivateTmp gives a WASIX guest with no mount at / or /tmp a /tmp of
	// its own, as Wasmer's root has one: a new, empty host directory
	// (Process.TmpDir), which the caller removes when the guest is done.
	PrivateTmp bool
}

// threadGrace is how long a process's end waits for its other threads.
const threadGrace = 3 * time.Second

// instanceSeq makes the names host modules are registered under unique.
var instanceSeq atomic.Uint64

// Launch prepares process s to run compiled in rt: it instantiates, for this
// process alone, the host modules and the memory that compiled imports.
// The guest itself is instantiated by Instantiate or Run. Close releases
// what Launch made (not s).
func Launch(ctx context.Context, rt wazero.Runtime, s *sys.System, compiled wazero.CompiledModule, opts LaunchOptions) (*Process, error) {
	p := &Process{Sys: s, rt: rt, compiled: compiled, opts: opts, base: ctx, resolve: map[string]api.Module{}, entry: "_start"}
	if s.Procs == nil {
		if e := s.JoinProcs(sys.NewProcs(0)); e != sys.ESUCCESS {
			return nil, fmt.Errorf("wazix: %w", e)
		}
	}
	p.ctx = experimental.WithImportResolver(ctx, func(name string) api.Module { return p.resolve[name] })
	imports := importsOf(compiled)
	det := compat.Detect(imports)
	th := NewThreads(p.ctx, s, rt, compiled, opts.MaxThreads, opts.Warn)
	th.call = p.call
	p.Threads = th
	// The process's own allocator (its memories' Free asks its threads);
	// the processes it makes get theirs from the same options.
	p.alloc = opts.Allocator
	// The memories a module imports (a WASIX binary's shared env.memory,
	// up to 4 GiB) are reserved address space too, not a Go buffer of the
	// maximum that the runtime clears: that cost seconds and gigabytes per
	// fork, exec and spawn. wazero frees a memory in the Close of every
	// instance that uses it, a thread's included, so these are freed by
	// Close instead (deferredFree). A module that can spawn threads keeps
	// wazero's Go buffer for them: its instances close concurrently, some
	// inside wazero (WithCloseOnContextDone), and each such Close writes the
	// shared memory's allocator field unsynchronized (a data race in wazero
	// that a mapping makes live; a Go buffer has no allocator to free).
	memAlloc := p.alloc
	if p.alloc == nil {
		mapped := canReserve() && !(spawnsThreads(imports) && len(compiled.ImportedMemories()) > 0)
		if mapped || opts.MaxPages > 0 {
			p.alloc = reservingAllocator(uint64(opts.MaxPages)*65536, th.busy, mapped)
			memAlloc = p.alloc
		}
		if mapped {
			memAlloc = deferredFree(uint64(opts.MaxPages)*65536, th.busy, &p.imported)
		}
	}
	needs := map[string]map[string]bool{} // module -> the functions imported from it
	for _, im := range imports {
		if needs[im.Module] == nil {
			needs[im.Module] = map[string]bool{}
		}
		needs[im.Module][im.Name] = true
	}
	add := func(name string, b wazero.HostModuleBuilder) error {
		compiledHost, err := b.Compile(ctx)
		if err != nil {
			return err
		}
		p.hostCompiled = append(p.hostCompiled, compiledHost)
		m, err := rt.InstantiateModule(ctx, compiledHost, auxConfig.WithName(uniqueName(name)))
		if err != nil {
			return err
		}
		p.mods = append(p.mods, m)
		p.resolve[name] = m
		return nil
	}
	fail := func(err error) (*Process, error) {
		p.Close()
		return nil, fmt.Errorf("wazix: %w", err)
	}
	for _, name := range []string{wasi_p1.ModuleName, wasi_p1.UnstableModuleName} {
		if names := needs[name]; names != nil {
			include := func(fn string) bool { return names[fn] }
			if err := add(name, wasi_p1.NewBuilder(rt, name, s, include)); err != nil {
				return fail(err)
			}
		}
	}
	if det.Flavour == compat.FlavourWASIX {
		b := rt.NewHostModuleBuilder(ModuleName)
		h := define(b, s, imports, th, false)
		if opts.PrivateTmp && s.Pid == 1 && !s.FS.HasMount("/") && !s.FS.HasMount("/tmp") {
			dir, err := mountPrivateTmp(s)
			if err != nil {
				return fail(fmt.Errorf("private /tmp: %w", err))
			}
			p.TmpDir = dir
		}
		if !hasRootPreopen(s) {
			// Wasmer's root preopen (docs/filesystem.md); a forked or
			// spawned process has its parent's.
			if e := s.FS.PreopenRoot(); e != sys.ESUCCESS {
				return fail(fmt.Errorf("preopen /: %w", e))
			}
		}
		h.process = p
		p.host = h
		if opts.Cwd != "" && s.Pid == 1 {
			cwd, e := s.FS.Chdir("/", opts.Cwd)
			if e != sys.ESUCCESS {
				return fail(fmt.Errorf("working directory %s: not a directory of the guest's tree (%w)", opts.Cwd, e))
			}
			h.proc.cwd = cwd
		}
		if err := add(ModuleName, b); err != nil {
			return fail(err)
		}
	}
	if det.WASIThreads {
		if err := add(compat.ModuleWASIThreads, wasiThreadsBuilder(rt, s, th)); err != nil {
			return fail(err)
		}
	}
	for _, mem := range compiled.ImportedMemories() {
		mod, name, _ := mem.Import()
		if p.resolve[mod] != nil {
			continue
		}
		max, hasMax := mem.Max()
		// Threaded WASIX binaries import a shared memory with a maximum.
		shared := hasMax
		if lim := opts.MaxPages; lim > 0 && (!hasMax || max > lim) {
			if mem.Min() > lim {
				return fail(fmt.Errorf("memory %s.%s needs %d pages at start, more than the limit of %d", mod, name, mem.Min(), lim))
			}
			max, hasMax = lim, true
		}
		mctx := ctx
		if memAlloc != nil {
			mctx = experimental.WithMemoryAllocator(ctx, memAlloc)
		}
		m, err := rt.InstantiateWithConfig(mctx, MemoryModule(name, mem.Min(), max, hasMax, shared),
			auxConfig.WithName(uniqueName(mod)))
		if err != nil {
			return fail(fmt.Errorf("providing memory %s.%s: %w", mod, name, err))
		}
		p.mods = append(p.mods, m)
		p.resolve[mod] = m
		if shared {
			th.wakeOnEnd(m.ExportedMemory(name))
		}
	}
	if lim := opts.MaxPages; lim > 0 {
		for _, mem := range compiled.ExportedMemories() {
			if _, _, imported := mem.Import(); !imported && mem.Min() > lim {
				return fail(fmt.Errorf("the module's memory needs %d pages at start, more than the limit of %d", mem.Min(), lim))
			}
		}
	}
	return p, nil
}

// instanceContext is the context main instances are made with: the
// process context, with the memory allocator that enforces MaxPages.
func (p *Process) instanceContext() context.Context {
	ctx := p.Threads.Context()
	if p.alloc != nil {
		ctx = experimental.WithMemoryAllocator(ctx, p.alloc)
	}
	return ctx
}

// hasRootPreopen reports whether s's fd table has a preopen named "/".
func hasRootPreopen(s *sys.System) bool {
	for fd := 0; fd < s.Table.Len(); fd++ {
		if e, errno := s.Table.Get(uint32(fd)); errno == sys.ESUCCESS && e.Preopen == "/" {
			return true
		}
	}
	return false
}

func uniqueName(name string) string {
	return "wazix#" + strconv.FormatUint(instanceSeq.Add(1), 10) + "." + name
}

// spawnsThreads reports whether imports include a thread-spawning function.
func spawnsThreads(imports []compat.Import) bool {
	for _, im := range imports {
		if IsThreadSpawn(im.Module, im.Name) {
			return true
		}
	}
	return false
}

// IsThreadSpawn reports whether the import module.name spawns threads:
// wasi-threads' thread-spawn (or its old name) or a WASIX thread_spawn form.
func IsThreadSpawn(module, name string) bool {
	switch module {
	case compat.ModuleWASIThreads:
		return name == compat.ThreadSpawn.Name || name == compat.ThreadSpawnOldName
	case compat.ModuleWASIX32:
		return name == "thread_spawn" || name == "thread_spawn_v2"
	}
	return false
}

// importsOf lists the function imports of compiled.
// The list is shared: callers must not modify it. It is remembered for the
// last few compiled modules, as a host that runs one module many times
// lists its imports at every start and wazero allocates the types of each
// at every call (~8% of an in-process start). The memory holds the module:
// the modules wazix compiles itself (exec, spawn) are forgotten when their
// process closes them (forgetImports).
func importsOf(compiled wazero.CompiledModule) []compat.Import {
	importsSeen.Lock()
	ims, ok := importsSeen.m[compiled]
	importsSeen.Unlock()
	if ok {
		return ims
	}
	fns := compiled.ImportedFunctions()
	ims = make([]compat.Import, 0, len(fns))
	for _, f := range fns {
		mod, name, _ := f.Import()
		ims = append(ims, compat.Import{Module: mod, Name: name, Params: f.ParamTypes(), Results: f.ResultTypes()})
	}
	importsSeen.Lock()
	if importsSeen.m == nil || len(importsSeen.m) >= maxImportsSeen {
		// Bounded: a long-lived host that compiles module after module
		// drops its references to the older ones.
		importsSeen.m = map[wazero.CompiledModule][]compat.Import{}
	}
	importsSeen.m[compiled] = ims
	importsSeen.Unlock()
	return ims
}

// importsSeen is importsOf's memory; see there.
var importsSeen struct {
	sync.Mutex
	m map[wazero.CompiledModule][]compat.Import
}

const maxImportsSeen = 8

// forgetImports drops compiled from importsOf's memory, before it is
// closed.
func forgetImports(compiled wazero.CompiledModule) {
	importsSeen.Lock()
	delete(importsSeen.m, compiled)
	importsSeen.Unlock()
}

// Context is the context the guest's instances run with: the process
// context (canceled when the process ends) with the import resolver.
func (p *Process) Context() context.Context { return p.Threads.Context() }

// Instantiate instantiates the guest as the process's main thread with cfg
// (whose start functions run).
func (p *Process) Instantiate(cfg wazero.ModuleConfig) (api.Module, error) {
	return p.rt.InstantiateModule(p.instanceContext(), p.compiled, cfg)
}

// mainConfig instantiates a main instance without running anything but the
// start section: Run calls the entry itself, so that a fork can unwind it.
var mainConfig = auxConfig.WithName("").WithStartFunctions()

// auxConfig is the base of every module configuration here. wazix's host
// serves random_get itself, so wazero's random source goes unused; set, it
// spares the deterministic default, which seeds a math/rand source (~5% of
// an in-process start) for every module instantiated.
var auxConfig = wazero.NewModuleConfig().WithRandSource(crand.Reader)

// Run instantiates the guest and runs its _start to the end of the process
// (see the package wazix's Host.Run), following execs: it returns the
// process that ran last (an exec replaces the process image with a new
// Process, which keeps the pid and the fds), its exit code and its error:
// a trap, or nil.
func (p *Process) Run() (*Process, uint32, error) {
	return p.runChain(nil, p.entry, nil)
}

// runChain runs the process from the main instance mod (nil: a new one) and
// its export entry to the end, then each image an exec replaced it with.
func (p *Process) runChain(mod api.Module, entry string, args []uint64) (*Process, uint32, error) {
	for {
		var err error
		if mod == nil {
			mod, err = p.rt.InstantiateModule(p.instanceContext(), p.compiled, mainConfig)
		}
		if err == nil && p.compiled.ExportedFunctions()[entry] != nil {
			_, err = p.call(p.Threads.Context(), mod, entry, args...)
		}
		code, err := p.finish(mod, err)
		next := p.execNext
		if next == nil {
			return p, code, err
		}
		// The old image goes; its fds go to the new one.
		next.Sys.TakeOver(p.Sys)
		p.Close()
		p.Sys.Close()
		p, mod, entry, args = next, nil, next.entry, nil
	}
}

// startChild runs the child process p in a goroutine of its own, from its
// main instance mod (nil: a new one) and export entry, to its end: then the
// process table gets its exit status for the parent's proc_join, and what
// it held is released.
func (p *Process) startChild(mod api.Module, entry string, args []uint64) {
	p.Sys.Procs.Started()
	go func() {
		defer p.Sys.Procs.Done()
		last, code, err := p.runChain(mod, entry, args)
		last.Close()
		last.Sys.Procs.Exited(last.Sys, exitStatus(last.Sys, code, err))
		last.Sys.Close()
	}()
}

// finish ends the process after its main thread returned with err.
func (p *Process) finish(mod api.Module, err error) (uint32, error) {
	code, err := MainStatus(err)
	p.Sys.End(code, err)
	p.Threads.MainDone()
	if !p.Threads.Wait(threadGrace) && p.opts.Warn != nil {
		fmt.Fprintf(p.opts.Warn, "wazix: %d guest threads did not stop within %v of the exit (computing without host calls; see NewRuntimeConfig)\n",
			p.Threads.Live(), threadGrace)
	}
	if mod != nil {
		if p.opts.MainEnded != nil {
			p.opts.MainEnded(mod)
		}
		p.Sys.CloseInstance(context.Background(), mod, 0)
	}
	code, err, _ = p.Sys.ExitStatus()
	return code, err
}

// MainStatus turns the result of running _start into an exit code and error.
func MainStatus(err error) (uint32, error) {
	if err == nil {
		return 0, nil
	}
	var exit *wsys.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() == wsys.ExitCodeContextCanceled || exit.ExitCode() == wsys.ExitCodeDeadlineExceeded {
			return exit.ExitCode(), err
		}
		return exit.ExitCode(), nil
	}
	return 1, err
}

// Close closes the host modules and memories made for the process.
func (p *Process) Close() {
	for i := len(p.mods) - 1; i >= 0; i-- {
		_ = p.mods[i].Close(context.Background())
	}
	p.mods = nil
	for _, m := range p.imported {
		m.release()
	}
	p.imported = nil
	// The host modules were compiled for this process alone (their
	// functions are bound to it): the runtime would keep them otherwise.
	for _, c := range p.hostCompiled {
		_ = c.Close(context.Background())
	}
	p.hostCompiled = nil
	if p.ownsCompiled {
		forgetImports(p.compiled)
		_ = p.compiled.Close(context.Background())
		p.ownsCompiled = false
	}
}

// MemoryModule is a module that defines one memory with the given limits
// and exports it as name. A shared memory must have a maximum.
func MemoryModule(name string, min, max uint32, hasMax, shared bool) []byte {
	limits := []byte{0x00}
	limits = appendULEB(limits, uint64(min))
	if hasMax {
		limits[0] = 0x01 // with a maximum
		if shared {
			limits[0] = 0x03
		}
		limits = appendULEB(limits, uint64(max))
	}
	memSec := append([]byte{0x01}, limits...)
	exp := appendULEB([]byte{0x01}, uint64(len(name)))
	exp = append(exp, name...)
	exp = append(exp, 0x02, 0x00)
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 0x05)
	b = appendULEB(b, uint64(len(memSec)))
	b = append(b, memSec...)
	b = append(b, 0x07)
	b = appendULEB(b, uint64(len(exp)))
	return append(b, exp...)
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// mountPrivateTmp mounts a new, empty host directory at the guest's /tmp
// (no preopen: wasix-libc reaches it through the root) and returns its
// host path.
func mountPrivateTmp(s *sys.System) (string, error) {
	dir, err := os.MkdirTemp("", "wazix-tmp-")
	if err != nil {
		return "", err
	}
	f, err := sys.OpenDir(dir)
	if err != nil {
		os.Remove(dir)
		return "", err
	}
	defer f.Close() // the mount keeps a fd of its own
	if err := s.FS.Mount("/tmp", f); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}
