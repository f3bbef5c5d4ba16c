// Package translate rewrites a WASIX module into one that imports only
// WASI preview1, so that any conformant preview1 host (wazero, Wasmtime,
// Node's node:wasi, browser shims) can run it.
//
// Each wasix_32v1 import is handled in one of three ways (see
// docs/translate.md for the full list):
//
//   - preview1 functions that wasmer re-exports under wasix_32v1 are
//     re-pointed to wasi_snapshot_preview1;
//   - a set of WASIX functions (epoll over poll_oneoff, fd_dup, getcwd/chdir,
//     thread and futex calls for one thread, signals at start-up, proc_exit2,
//     clocks, tty_get, ...) are emulated by adapter functions added to the
//     module, which call preview1 functions;
//   - everything else becomes a stub that returns ENOSYS (52), or traps for
//     the few functions that never return. [Options.Strict] refuses instead.
//
// Adapters that keep state (the epoll interest lists, fd aliases, the
// current directory) use one page of linear memory that they take with
// memory.grow on first use; its address is kept in a global added to the
// module.
package translate

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmbin"
)

// Options control a translation.
type Options struct {
	// Strict makes Translate fail when any import would become a stub.
	Strict bool
	// KeepSharedMemory keeps an imported (shared) memory as it is. By
	// default a module that spawns no threads gets a defined, non-shared
	// memory with its atomic instructions lowered to plain ones, so that
	// hosts without the threads feature (the stock wazero CLI, Node) run
	// it; a module that spawns threads always keeps its shared memory.
	KeepSharedMemory bool
	// UnshareMemory asks for the default explicitly (the CLI's
	// --unshare-memory, from before it was the default). With it, a module
	// that spawns threads is refused rather than kept shared.
	UnshareMemory bool
}

// Action says what the translation does with one import.
type Action string

const (
	// ActionKeep: the import is left as it is (preview1 or non-system).
	ActionKeep Action = "keep"
	// ActionPreview1: a wasix_32v1 import re-pointed to wasi_snapshot_preview1.
	ActionPreview1 Action = "preview1"
	// ActionEmulated: implemented by an adapter inside the module.
	ActionEmulated Action = "emulated"
	// ActionWrapped: a preview1 import still used, but called through an
	// adapter (fd numbers made by the fd_dup or epoll emulation).
	ActionWrapped Action = "wrapped"
	// ActionStub: replaced by a function that returns an error (or traps).
	ActionStub Action = "stub"
)

// ImportReport describes what happened to one function import.
type ImportReport struct {
	Module    string `json:"module"`
	Name      string `json:"name"`
	Signature string `json:"signature"`
	Action    Action `json:"action"`
	// Target is the preview1 function a re-pointed import now names.
	Target string `json:"target,omitempty"`
	// Stub is what a stub does: "errno 52", "returns -6", "traps".
	Stub string `json:"stub,omitempty"`
}

// Report summarises a translation; the CLI prints it on stderr.
type Report struct {
	Input    string         `json:"input_flavour"`
	Imports  []ImportReport `json:"imports"`
	Stubbed  []string       `json:"stubbed"`
	Memory   string         `json:"memory"`
	Adapters []string       `json:"adapters"`
	// AdapterRegion is set when adapters keep state in linear memory;
	// Region says where.
	AdapterRegion bool   `json:"adapter_region"`
	Region        string `json:"region,omitempty"`
	// MemoryReason says why the memory was kept or unshared.
	MemoryReason string `json:"memory_reason,omitempty"`
	// Threads says how thread spawning was translated and why ("" when the
	// module spawns none).
	Threads string `json:"threads,omitempty"`
	// FDs says how the fds the adapters make (epoll, event fds, pipes) are
	// numbered ("" when there are none).
	FDs string `json:"fds,omitempty"`
	// AtomicsLowered counts the atomic instructions replaced by plain ones
	// (when the memory is unshared; see wasmbin.Module.LowerAtomics).
	AtomicsLowered int      `json:"atomics_lowered,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
	InputBytes     int      `json:"input_bytes"`
	OutputBytes    int      `json:"output_bytes"`
}

// ErrStrict is wrapped by the error Translate returns in strict mode when
// some imports can only be stubbed.
var ErrStrict = errors.New("imports that can only be stubbed")

// Classify tells what Translate does with a function import judged on its
// own: ActionKeep, ActionPreview1, ActionEmulated or ActionStub. Whether a
// preview1 import is wrapped depends on the rest of the module (it is when
// fd_dup is emulated); the Report of a translation has the exact answer.
func Classify(module, name string, params, results []api.ValueType) Action {
	return classify(module, name, fromAPI(params), fromAPI(results))
}

func classify(module, name string, params, results []wasmbin.ValType) Action {
	loadAdapters()
	sig := wasmbin.FuncType{Params: params, Results: results}
	switch module {
	case compat.ModuleWASIX32:
		if a, ok := emulations[name]; ok && sig.Equal(a.funcType()) {
			return ActionEmulated
		}
		if name == "fd_renumber" && sig.Equal(wasmbin.FuncType{Params: types(i32, i32), Results: types(i32)}) {
			return ActionEmulated // dup2 (fdRenumberDup2): this is a WASIX module
		}
		if f, ok := compat.Find(compat.ModulePreview1, name, toAPI(params), toAPI(results)); ok && f.Name == name {
			return ActionPreview1
		}
		return ActionStub
	case compat.ModuleWASIX64, compat.ModuleWASIThreads:
		return ActionStub
	}
	return ActionKeep
}

func (a *adapter) funcType() wasmbin.FuncType {
	return wasmbin.FuncType{Params: a.params, Results: a.results}
}

// fdParams lists, for preview1 functions, which parameters are fds; they are
// wrapped when fd aliases exist. fd_close is handled separately.
func fdParams(name string) []int {
	switch name {
	case "fd_close", "poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get",
		"args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get", "clock_time_get":
		return nil
	case "fd_renumber":
		return []int{0, 1}
	case "path_link":
		return []int{0, 4}
	case "path_rename":
		return []int{0, 3}
	case "path_symlink":
		return []int{2}
	}
	if strings.HasPrefix(name, "fd_") || strings.HasPrefix(name, "path_") || strings.HasPrefix(name, "sock_") {
		return []int{0}
	}
	return nil
}

// pathParams lists, for preview1 path functions, the {fd, path pointer,
// path length} parameter indexes of each path resolved against an fd
// (path_symlink's target is stored, not resolved).
func pathParams(name string) [][3]int {
	switch name {
	case "path_create_directory", "path_readlink", "path_remove_directory", "path_unlink_file":
		return [][3]int{{0, 1, 2}}
	case "path_filestat_get", "path_filestat_set_times", "path_open":
		return [][3]int{{0, 2, 3}}
	case "path_link":
		return [][3]int{{0, 2, 3}, {4, 5, 6}}
	case "path_rename":
		return [][3]int{{0, 1, 2}, {3, 4, 5}}
	case "path_symlink":
		return [][3]int{{2, 3, 4}}
	}
	return nil
}

// stubBehaviour returns what the stub for module.name does.
func stubBehaviour(module, name string, results []wasmbin.ValType) (string, func(f *funcBuilder)) {
	if module == compat.ModuleWASIThreads && (name == compat.ThreadSpawn.Name || name == compat.ThreadSpawnOldName) &&
		len(results) == 1 && results[0] == i32 {
		// wasi-libc turns any negative result into EAGAIN: pthread_create fails cleanly.
		return "returns -6", func(f *funcBuilder) { f.i32(-6) }
	}
	if module == compat.ModuleWASIX32 && strings.HasPrefix(name, "thread_spawn") && len(results) == 1 && results[0] == i32 {
		// What wazix answers a module that cannot have threads (no shared
		// memory or no entry export); the report says which.
		return fmt.Sprintf("errno %d", errnoNotcap), func(f *funcBuilder) { f.i32(errnoNotcap) }
	}
	if len(results) == 1 && results[0] == i32 {
		errno := int32(errnoNosys)
		if module == compat.ModuleWASIX32 && name == "proc_join" {
			errno = errnoChild // no children can exist
		}
		if module == compat.ModuleWASIX32 && strings.HasPrefix(name, "port_") {
			// What Wasmer (and wazix) answer without a virtual network.
			errno = errnoNotsup
		}
		return fmt.Sprintf("errno %d", errno), func(f *funcBuilder) { f.i32(errno) }
	}
	// Functions without an errno result never return (proc_exec,
	// stack_restore, ...) or are unknown: trapping is the honest answer.
	return "traps", func(f *funcBuilder) { f.unreachable() }
}

type importPlan struct {
	im      wasmbin.Import
	sig     wasmbin.FuncType
	action  Action
	adapter *adapter // emulation, wrapper or stub
	newIdx  uint32   // index in the output import list (kept imports)
	stub    string
}

// Translate rewrites a WASIX module into a preview1-only module.
func Translate(wasm []byte, opts Options) ([]byte, *Report, error) {
	loadAdapters()
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		return nil, nil, err
	}
	in, err := m.Decode()
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{InputBytes: len(wasm), Stubbed: []string{}, Adapters: []string{}}
	if m.Custom("linking") != nil {
		return nil, rep, errors.New("a relocatable object file (it has a linking section): link it first")
	}

	var detectIn []compat.Import
	var plans []*importPlan
	for _, im := range in.Imports {
		if im.Kind != wasmbin.KindFunc {
			continue
		}
		sig := in.Types[im.TypeIndex]
		detectIn = append(detectIn, compat.Import{Module: im.Module, Name: im.Name, Params: toAPI(sig.Params), Results: toAPI(sig.Results)})
		plans = append(plans, &importPlan{im: im, sig: sig, action: classify(im.Module, im.Name, sig.Params, sig.Results)})
	}
	det := compat.Detect(detectIn)
	rep.Input = det.String()
	if det.WASIX64 {
		return nil, rep, errors.New("wasix_64v1 (memory64) modules are not supported")
	}

	// Threads: spawns become wasi-threads' thread-spawn when the module
	// can run on a wasi-threads host (threads.go).
	var memImport *wasmbin.Import
	for i := range in.Imports {
		if in.Imports[i].Kind == wasmbin.KindMemory {
			memImport = &in.Imports[i]
		}
	}
	tp := planThreads(in, det, memImport)
	rep.Threads = tp.reason
	if tp.on {
		for _, p := range plans {
			if a := threadAdapter(p.im.Module, p.im.Name, p.sig); a != nil {
				p.action = ActionEmulated
				p.adapter = a
			}
		}
	}

	// Which emulations are in use decides which preview1 imports need wrapping.
	uses := map[string]bool{}
	for _, p := range plans {
		if p.action == ActionEmulated {
			uses[p.im.Name] = true
		}
	}
	// A WASIX module's fd_renumber is dup2 (wasix-abi.md §4.10).
	dup2 := false
	wasixModule := det.Flavour == compat.FlavourWASIX
	hasMemory := len(in.Memories) > 0
	for _, im := range in.Imports {
		hasMemory = hasMemory || im.Kind == wasmbin.KindMemory
	}
	if wasixModule {
		for _, p := range plans {
			_, known := compat.Find(p.im.Module, p.im.Name, toAPI(p.sig.Params), toAPI(p.sig.Results))
			if p.im.Name == "fd_renumber" && known && (p.im.Module == compat.ModulePreview1 || p.action == ActionEmulated) {
				dup2 = true
			}
		}
	}
	// events: adapter-made fds (event fds, pipes) exist. They get the
	// lowest free numbers, as the host would give, kept from the host's
	// own through the fd table (fd_pipe.go).
	events := uses["fd_event"] || uses["fd_pipe"]
	epoll := uses["epoll_create"] || uses["epoll_ctl"] || uses["epoll_wait"]
	resolveFDs := uses["fd_dup"] || uses["fd_dup2"] || dup2 || events || epoll
	if events || epoll {
		rep.FDs = "epoll instances, event fds and pipes live in the module and take the lowest fd numbers free on the host, " +
			"as the host would give; every fd argument goes through the fd table, which keeps them apart from the host's fds"
	}

	var stubbed []string
	for _, p := range plans {
		switch p.action {
		case ActionEmulated:
			if p.adapter != nil {
				break // a thread emulation
			}
			p.adapter = emulations[p.im.Name]
			if p.im.Name == "fd_renumber" {
				p.adapter = fdRenumberDup2(epoll)
			}
		case ActionStub:
			desc, body := stubBehaviour(p.im.Module, p.im.Name, p.sig.Results)
			p.stub = desc
			p.adapter = &adapter{params: p.sig.Params, results: p.sig.Results, pure: true,
				build: func(g *gen, f *funcBuilder) { body(f) }}
			stubbed = append(stubbed, p.im.Module+"."+p.im.Name)
		case ActionPreview1, ActionKeep:
			isP1 := p.action == ActionPreview1 || p.im.Module == compat.ModulePreview1
			if !isP1 {
				break
			}
			if p.im.Name == "fd_close" && (resolveFDs || epoll || events || wasixModule && hasMemory) {
				p.action = ActionWrapped
				p.adapter = fdCloseWrapper(resolveFDs, epoll, wasixModule && hasMemory, events)
			} else if p.im.Name == "poll_oneoff" && events {
				p.action = ActionWrapped
				p.adapter = helpers["poll_oneoff_events"]
			} else if p.im.Name == "fd_renumber" && dup2 {
				p.action = ActionEmulated
				p.adapter = fdRenumberDup2(epoll)
			} else if _, known := compat.Find(compat.ModulePreview1, p.im.Name, toAPI(p.sig.Params), toAPI(p.sig.Results)); known &&
				(resolveFDs && len(fdParams(p.im.Name)) > 0 || epoll && epollTouchMask(p.im.Name) != 0 || events && isEventWrapped(p.im.Name) ||
					wasixModule && hasMemory && len(pathParams(p.im.Name)) > 0) {
				p.action = ActionWrapped
				p.adapter = fdWrapper(p.im.Name, p.sig, resolveFDs, epoll, events, wasixModule && hasMemory)
			}
		}
	}
	if opts.Strict && len(stubbed) > 0 {
		return nil, rep, fmt.Errorf("%w: %s", ErrStrict, strings.Join(stubbed, ", "))
	}
	rep.Stubbed = append(rep.Stubbed, stubbed...)

	// The adapter set: per-import adapters plus their helpers, transitively.
	type added struct {
		key string
		a   *adapter
	}
	var adapters []added
	helperSet := map[string]bool{}
	var addHelper func(name string)
	addHelper = func(name string) {
		if helperSet[name] {
			return
		}
		helperSet[name] = true
		h := helpers[name]
		for _, d := range h.helpers {
			addHelper(d)
		}
	}
	// Signals raised to the calling thread reach the guest's handler
	// entry, as Wasmer delivers them: wasix-libc registers its export
	// __wasm_signal with callback_signal, and raise() calls thread_signal.
	wasmSignal := int64(-1)
	for _, e := range in.Exports {
		if t, ok := funcType(in, e.Index); ok && e.Kind == wasmbin.KindFunc && e.Name == "__wasm_signal" &&
			t.Equal(wasmbin.FuncType{Params: types(i32)}) {
			for _, p := range plans {
				if p.action == ActionEmulated && p.im.Module == compat.ModuleWASIX32 && p.im.Name == "callback_signal" {
					p.adapter = callbackSignal()
					wasmSignal = int64(e.Index)
				}
			}
		}
	}
	needP1 := map[string]bool{}
	region := false
	for _, p := range plans {
		if p.adapter == nil {
			continue
		}
		for _, h := range p.adapter.helpers {
			addHelper(h)
		}
		if resolveFDs && p.action != ActionStub {
			addHelper("resolve_fd")
			addHelper("fresh_fd")
		}
		if epoll && p.action != ActionStub {
			addHelper("epoll_touch")
		}
		for _, n := range p.adapter.p1 {
			needP1[n] = true
		}
		region = region || p.adapter.region
	}
	// Thread-local values end with their thread, through the guest's
	// destructor when it has one.
	tlsDestroy := int64(-1)
	if tp.on && uses["thread_local_create"] {
		for _, e := range in.Exports {
			if t, ok := funcType(in, e.Index); ok && e.Kind == wasmbin.KindFunc && e.Name == "_thread_local_destroy" &&
				t.Equal(wasmbin.FuncType{Params: types(i32, i32, i32, i32)}) {
				tlsDestroy = int64(e.Index)
				addHelper("tls_destructors")
			}
		}
	}
	cloexec := uses["fd_fdflags_set"] || uses["fd_dup2"]
	if cloexec {
		addHelper("cloexec_set") // fd_close clears it
	}
	if tp.on {
		addHelper("thread_entry")
		addHelper("scratch")
		region = true
	}
	if events {
		// epoll_ctl and epoll_wait look at event fds too.
		addHelper("emu_poll")
	}
	var helperNames []string
	for n := range helperSet {
		helperNames = append(helperNames, n)
		for _, x := range helpers[n].p1 {
			needP1[x] = true
		}
		region = region || helpers[n].region
	}
	sort.Strings(helperNames)

	// New import list: non-function imports and kept/re-pointed/wrapped
	// function imports in their original order, then the preview1 functions
	// that adapters call and the module did not import.
	var newImports []wasmbin.Import
	p1Index := map[string]uint32{}
	nFuncImports := uint32(0)
	memImported := -1
	pi := 0
	for _, im := range in.Imports {
		if im.Kind != wasmbin.KindFunc {
			if im.Kind == wasmbin.KindMemory {
				memImported = len(newImports)
			}
			newImports = append(newImports, im)
			continue
		}
		p := plans[pi]
		pi++
		switch p.action {
		case ActionKeep, ActionPreview1, ActionWrapped:
			ni := im
			if p.action == ActionPreview1 || (p.action == ActionWrapped && im.Module == compat.ModuleWASIX32) {
				ni.Module = compat.ModulePreview1
			}
			p.newIdx = nFuncImports
			nFuncImports++
			newImports = append(newImports, ni)
			if ni.Module == compat.ModulePreview1 {
				if _, seen := p1Index[ni.Name]; !seen {
					if f, ok := compat.Find(compat.ModulePreview1, ni.Name, toAPI(p.sig.Params), toAPI(p.sig.Results)); ok && f.Name == ni.Name {
						p1Index[ni.Name] = p.newIdx
					}
				}
			}
		}
	}
	allTypes := append([]wasmbin.FuncType(nil), in.Types...)
	typeIndex := func(ft wasmbin.FuncType) uint32 {
		for i, t := range allTypes {
			if t.Equal(ft) {
				return uint32(i)
			}
		}
		allTypes = append(allTypes, ft)
		return uint32(len(allTypes) - 1)
	}
	var needNames []string
	for n := range needP1 {
		if _, ok := p1Index[n]; !ok {
			needNames = append(needNames, n)
		}
	}
	sort.Strings(needNames)
	for _, n := range needNames {
		f := compat.Lookup(compat.ModulePreview1, n)[0]
		newImports = append(newImports, wasmbin.Import{Module: compat.ModulePreview1, Name: n, Kind: wasmbin.KindFunc,
			TypeIndex: typeIndex(wasmbin.FuncType{Params: fromAPI(f.Params), Results: fromAPI(f.Results)})})
		p1Index[n] = nFuncImports
		nFuncImports++
	}
	spawnImport := uint32(0)
	if tp.on {
		newImports = append(newImports, wasmbin.Import{Module: compat.ModuleWASIThreads, Name: compat.ThreadSpawn.Name, Kind: wasmbin.KindFunc,
			TypeIndex: typeIndex(wasmbin.FuncType{Params: types(i32), Results: types(i32)})})
		spawnImport = nFuncImports
		nFuncImports++
	}

	// Function indices of the output: imports, the original functions, then
	// the adapters (per-import adapters first, then helpers).
	oldImported := uint32(in.ImportedFunctions())
	firstAdapter := nFuncImports + uint32(len(in.Functions))
	names := map[uint32]string{}
	for _, p := range plans {
		if p.adapter != nil {
			idx := firstAdapter + uint32(len(adapters))
			p.newIdx = idx
			adapters = append(adapters, added{key: p.im.Module + "." + p.im.Name, a: p.adapter})
			names[idx] = "wazix:" + p.im.Module + "." + p.im.Name
		}
	}
	g := &gen{lay: grownLayout, p1Index: p1Index, helperIndex: map[string]uint32{}, resolveFDs: resolveFDs, epoll: epoll, events: events,
		threads: tp.on, spawnImport: spawnImport, cloexec: cloexec, entryV2: -1, entry2022: -1, tlsDestroy: -1, wasmSignal: -1}
	for _, n := range helperNames {
		idx := firstAdapter + uint32(len(adapters))
		g.helperIndex[n] = idx
		adapters = append(adapters, added{key: "helper." + n, a: helpers[n]})
		names[idx] = "wazix:" + n
	}

	// Memory.
	var memLimits *wasmbin.Limits
	memDefined := len(in.Memories) > 0
	if memImported >= 0 {
		l := newImports[memImported].Limits
		memLimits = &l
	} else if memDefined {
		memLimits = &in.Memories[0]
	}
	if memLimits != nil && memLimits.Is64 {
		return nil, rep, errors.New("memory64 modules are not supported")
	}
	if memLimits == nil {
		for _, ad := range adapters {
			if !ad.a.pure {
				return nil, rep, fmt.Errorf("the module has no memory, which the adapter for %s needs", ad.key)
			}
		}
	}
	if opts.UnshareMemory && opts.KeepSharedMemory {
		return nil, rep, errors.New("--unshare-memory and --keep-shared-memory contradict each other")
	}
	if opts.UnshareMemory && det.SpawnsThreads {
		return nil, rep, errors.New("--unshare-memory: the module can spawn threads, which need a shared memory")
	}
	unshare := !opts.KeepSharedMemory && !det.SpawnsThreads
	// A region grown at run time needs room under the memory's maximum,
	// which small modules set at their size: one more page is allowed.
	goFixed := m.Custom("go:buildid") != nil && goRegionFree(in, memLimits)
	bumped := false
	if region && !goFixed && memLimits != nil && memLimits.HasMax && memLimits.Max+regionPages <= 65536 {
		bumped = true
		if memImported >= 0 {
			newImports[memImported].Limits.Max += regionPages
			newImports[memImported].Desc = nil // re-encoded from Limits
		} else {
			in.Memories[0].Max += regionPages
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the memory's maximum was raised by %d page(s) for the adapter region, which is grown on first use", regionPages))
	}
	switch {
	case det.SpawnsThreads:
		rep.MemoryReason = "the module spawns threads, whose instances must share the memory: it stays as it is, for hosts with wasi-threads"
	case opts.KeepSharedMemory:
		rep.MemoryReason = "--keep-shared-memory"
	default:
		rep.MemoryReason = "the module spawns no threads: a defined, non-shared memory without atomic instructions runs on hosts without the threads feature (the stock wazero CLI, Node)"
	}
	switch {
	case memImported >= 0 && unshare:
		im := newImports[memImported]
		newImports = append(newImports[:memImported], newImports[memImported+1:]...)
		l := im.Limits
		l.Shared = false
		m.SetSection(wasmbin.SecMemory, wasmbin.AppendLimits(wasmbin.AppendU32(nil, 1), l))
		rep.Memory = fmt.Sprintf("imported %s.%s (%s) turned into a defined memory (%s)", im.Module, im.Name, im.Limits, l)
	case memDefined && unshare && in.Memories[0].Shared:
		l := in.Memories[0]
		l.Shared = false
		payload := wasmbin.AppendU32(nil, uint32(len(in.Memories)))
		payload = wasmbin.AppendLimits(payload, l)
		for _, x := range in.Memories[1:] {
			payload = wasmbin.AppendLimits(payload, x)
		}
		m.SetSection(wasmbin.SecMemory, payload)
		rep.Memory = fmt.Sprintf("defined memory (%s) made non-shared", in.Memories[0])
	case memImported >= 0:
		im := newImports[memImported]
		rep.Memory = fmt.Sprintf("imported %s.%s (%s), kept: the host must provide it", im.Module, im.Name, im.Limits)
		if im.Limits.Shared {
			rep.Warnings = append(rep.Warnings, "the memory is an imported shared memory: hosts without threads support, or without an env module, cannot run it")
		} else {
			rep.Warnings = append(rep.Warnings, "the memory is imported: hosts that do not provide "+im.Module+"."+im.Name+" cannot run it")
		}
	case memDefined:
		rep.Memory = fmt.Sprintf("defined (%s)", in.Memories[0])
	default:
		rep.Memory = "none"
	}

	if bumped && memDefined {
		l := in.Memories[0]
		l.Shared = l.Shared && !unshare
		payload := wasmbin.AppendU32(nil, uint32(len(in.Memories)))
		payload = wasmbin.AppendLimits(payload, l)
		for _, x := range in.Memories[1:] {
			payload = wasmbin.AppendLimits(payload, x)
		}
		m.SetSection(wasmbin.SecMemory, payload)
	}

	// Globals: the region base, appended after every existing global.
	if region {
		importedGlobals := 0
		for _, im := range newImports {
			if im.Kind == wasmbin.KindGlobal {
				importedGlobals++
			}
		}
		g.baseGlobal = uint32(importedGlobals + len(in.Globals))
		g.slotGlobal = g.baseGlobal + 1
		rep.AdapterRegion = true
		if m.Custom("go:buildid") != nil {
			if goRegionFree(in, memLimits) {
				g.lay = goLayout
				rep.Region = fmt.Sprintf("fixed at %#x (%d bytes, the area Go's linker leaves free)", goLayout.fixedBase, goLayout.size)
			} else {
				rep.Warnings = append(rep.Warnings, "Go module whose reserved low memory is in use: the adapter region is grown, "+
					"and the Go heap, which assumes it alone grows memory, may overwrite it")
			}
		}
	}
	if g.lay == grownLayout && region {
		rep.Region = fmt.Sprintf("one %d KiB page grown on first use", regionPages*64)
	}

	if unshare {
		// Hosts without the threads feature reject atomic instructions even
		// on an unshared memory; with one thread they are plain accesses.
		n, err := m.LowerAtomics()
		if err != nil {
			return nil, rep, err
		}
		rep.AtomicsLowered = n
	}

	// Index map, then rewrite every reference.
	mapIndex := func(old uint32) uint32 {
		if old < oldImported {
			return plans[old].newIdx
		}
		return nFuncImports + (old - oldImported)
	}
	if err := m.RemapFunctions(mapIndex, names); err != nil {
		return nil, rep, err
	}
	if wasmSignal >= 0 {
		g.wasmSignal = int64(mapIndex(uint32(wasmSignal)))
	}
	if tp.on {
		for _, e := range []struct {
			in  int64
			out *int64
		}{{tp.entryV2, &g.entryV2}, {tp.entry2022, &g.entry2022}, {tlsDestroy, &g.tlsDestroy}} {
			if e.in >= 0 {
				*e.out = int64(mapIndex(uint32(e.in)))
			}
		}
		// wasi_thread_start becomes the adapter that starts the guest's entry.
		entry := g.helperIndex["thread_entry"]
		var payload []byte
		found := false
		for _, e := range in.Exports {
			if e.Kind == wasmbin.KindFunc {
				e.Index = mapIndex(e.Index)
				if e.Name == "wasi_thread_start" {
					e.Index, found = entry, true
				}
			}
			payload = wasmbin.AppendExport(payload, e)
		}
		n := len(in.Exports)
		if !found {
			payload = wasmbin.AppendExport(payload, wasmbin.Export{Name: "wasi_thread_start", Kind: wasmbin.KindFunc, Index: entry})
			n++
		}
		m.SetSection(wasmbin.SecExport, append(wasmbin.AppendU32(nil, uint32(n)), payload...))
	}
	moved := false
	for i := uint32(0); i < uint32(in.NumFunctions()); i++ {
		moved = moved || mapIndex(i) != i
	}
	if moved {
		// DWARF addresses are code-section offsets, which changed.
		var dropped []string
		for _, s := range m.Sections {
			if s.ID == wasmbin.SecCustom && strings.HasPrefix(s.Name, ".debug_") {
				dropped = append(dropped, s.Name)
			}
		}
		for _, name := range dropped {
			m.RemoveSection(wasmbin.SecCustom, name)
		}
		if len(dropped) > 0 {
			rep.Warnings = append(rep.Warnings, "dropped DWARF sections, whose code offsets the rewrite invalidates: "+strings.Join(dropped, ", "))
		}
	}

	// Emit sections.
	var funcEntries, codeEntries [][]byte
	for _, ad := range adapters {
		f := newFunc(ad.a.params, ad.a.results)
		ad.a.build(g, f)
		funcEntries = append(funcEntries, wasmbin.AppendU32(nil, typeIndex(f.typ)))
		codeEntries = append(codeEntries, wasmbin.AppendCodeBody(nil, f.body()))
		rep.Adapters = append(rep.Adapters, ad.key)
	}
	typePayload := wasmbin.AppendU32(nil, uint32(len(allTypes)))
	if s := m.Section(wasmbin.SecType); s != nil && len(allTypes) == len(in.Types) {
		typePayload = s.Payload
	} else {
		for _, t := range allTypes {
			typePayload = wasmbin.AppendFuncType(typePayload, t)
		}
	}
	if len(allTypes) > 0 {
		m.SetSection(wasmbin.SecType, typePayload)
	}
	// An unchanged import list keeps its original bytes (some linkers pad
	// their LEB128s), so a preview1-only module comes out identical.
	if newPayload := wasmbin.EncodeImports(newImports); !bytes.Equal(newPayload, wasmbin.EncodeImports(in.Imports)) {
		m.SetSection(wasmbin.SecImport, newPayload)
		if len(newImports) == 0 {
			m.RemoveSection(wasmbin.SecImport, "")
		}
	}
	if len(adapters) > 0 {
		if err := appendSection(m, wasmbin.SecFunction, funcEntries); err != nil {
			return nil, rep, err
		}
		if err := appendSection(m, wasmbin.SecCode, codeEntries); err != nil {
			return nil, rep, err
		}
	}
	if region {
		glob := wasmbin.AppendGlobal(nil, wasmbin.Global{Type: wasmbin.GlobalType{Type: i32, Mutable: true}, Init: []byte{0x41, 0x00, 0x0b}})
		globs := [][]byte{glob}
		if tp.on {
			globs = append(globs, glob) // the thread's record
		}
		if err := appendSection(m, wasmbin.SecGlobal, globs); err != nil {
			return nil, rep, err
		}
	}
	if memLimits != nil {
		hasMemExport, nameTaken := false, false
		for _, e := range in.Exports {
			hasMemExport = hasMemExport || e.Kind == wasmbin.KindMemory
			nameTaken = nameTaken || e.Name == "memory"
		}
		if !hasMemExport {
			// preview1 hosts find the guest's memory through this export.
			if nameTaken {
				rep.Warnings = append(rep.Warnings, `memory is not exported and the name "memory" is taken`)
			} else if err := appendSection(m, wasmbin.SecExport, [][]byte{wasmbin.AppendExport(nil, wasmbin.Export{Name: "memory", Kind: wasmbin.KindMemory})}); err != nil {
				return nil, rep, err
			}
		}
	}
	for _, p := range plans {
		r := ImportReport{Module: p.im.Module, Name: p.im.Name, Signature: compat.Signature(toAPI(p.sig.Params), toAPI(p.sig.Results)), Action: p.action, Stub: p.stub}
		if p.action == ActionPreview1 {
			r.Target = compat.ModulePreview1 + "." + p.im.Name
		}
		rep.Imports = append(rep.Imports, r)
	}
	out := m.Encode()
	rep.OutputBytes = len(out)

	// The output must decode: a cheap guard against a translator bug.
	if om, err := wasmbin.Parse(out); err != nil {
		return nil, rep, fmt.Errorf("internal error: output does not parse: %w", err)
	} else if _, err := om.Decode(); err != nil {
		return nil, rep, fmt.Errorf("internal error: output does not decode: %w", err)
	}
	return out, rep, nil
}

// goRegionFree reports whether a Go module leaves goLayout's addresses
// alone: its memory covers them and no active data segment overlaps them.
func goRegionFree(in *wasmbin.Info, mem *wasmbin.Limits) bool {
	lo, hi := uint64(goLayout.fixedBase), uint64(goLayout.fixedBase)+uint64(goLayout.size)
	if mem == nil || mem.Min*65536 < hi || hi > 4096+8192 {
		return false
	}
	for _, d := range in.Data {
		if !d.Active {
			continue
		}
		if !d.OffsetKnown {
			return false
		}
		if start, end := uint64(d.Offset), uint64(d.Offset)+uint64(d.Size); start < hi && end > lo {
			return false
		}
	}
	return true
}

func appendSection(m *wasmbin.Module, id byte, items [][]byte) error {
	var payload []byte
	if s := m.Section(id); s != nil {
		payload = s.Payload
	}
	p, err := wasmbin.AppendToVector(payload, items...)
	if err != nil {
		return err
	}
	m.SetSection(id, p)
	return nil
}

// epollTouchMask says which edge-triggered direction a preview1 call on
// an fd re-arms (see epoll_touch), or 0.
func epollTouchMask(name string) int32 {
	switch name {
	case "fd_read", "fd_pread", "sock_recv", "sock_accept":
		return etDoneIn
	case "fd_write", "fd_pwrite", "sock_send":
		return etDoneOut
	}
	return 0
}

// fdWrapper calls a preview1 function with its fd arguments translated
// through the fd table (when there is one), and tells the epoll adapter
// when the guest reads or writes an fd (when epoll is emulated).
func fdWrapper(name string, sig wasmbin.FuncType, resolveFDs, epoll, events, wasixRoot bool) *adapter {
	fds := map[int]bool{}
	for _, i := range fdParams(name) {
		fds[i] = true
	}
	var paths [][3]int
	if wasixRoot {
		paths = pathParams(name)
	}
	touch := int32(0)
	if epoll {
		touch = epollTouchMask(name)
	}
	// The fd a call returns may need an alias (see fresh_fd).
	newFD := map[string]uint32{"path_open": 8, "sock_accept": 2}
	ret, returnsFD := newFD[name]
	returnsFD = returnsFD && resolveFDs
	events = events && isEventWrapped(name)
	a := &adapter{params: sig.Params, results: sig.Results, p1: []string{name}, helpers: []string{"resolve_fd"},
		build: func(g *gen, f *funcBuilder) {
			if events {
				eventOp(g, f, name)
			}
			// Paths first, against the host fds (a WASIX module's absolute
			// paths under the preopen "/", see root_skip).
			hostFD := map[int]uint32{}
			for _, pp := range paths {
				l := f.local(i32)
				g.fdArg(f, uint32(pp[0]))
				f.set(l)
				hostFD[pp[0]] = l
				g.rootRelative(f, l, uint32(pp[1]), uint32(pp[2]))
			}
			for i := range sig.Params {
				if l, ok := hostFD[i]; ok {
					f.get(l)
				} else if fds[i] {
					g.fdArg(f, uint32(i))
				} else {
					f.get(uint32(i))
				}
			}
			f.call(g.p1(name))
			if returnsFD {
				e := f.local(i32)
				f.tee(e).i32Eqz().if_().get(ret).call(g.helper("fresh_fd")).end()
				f.get(e)
			}
			if touch != 0 {
				g.touch(f, 0, touch)
			}
		}}
	if returnsFD {
		a.helpers = append(a.helpers, "fresh_fd")
	}
	if len(paths) > 0 {
		a.helpers = append(a.helpers, "root_skip", "region")
		a.region = true
	}
	if touch != 0 {
		a.helpers = append(a.helpers, "epoll_touch")
	}
	if events {
		a.helpers = append(a.helpers, "event_instance", "pipe_rec", "ring_copy")
	}
	return a
}

// fdCloseWrapper closes adapter-made fds (epoll instances, fd table
// entries) in the adapter and passes every other fd to preview1 fd_close.
// With the fd table, a host fd is closed only when its last guest fd goes.
//
// In a WASIX module closing a preopen succeeds and leaves it open, as under
// wazix and wasmer (libcs that close every fd at start-up rely on it).
func fdCloseWrapper(aliases, epoll, keepPreopens, events bool) *adapter {
	a := &adapter{params: types(i32), results: types(i32), p1: []string{"fd_close"}, region: aliases || epoll || keepPreopens || events}
	if events {
		a.helpers = append(a.helpers, "event_instance", "pipe_rec", "emu_fd_free")
	}
	if keepPreopens {
		a.p1 = append(a.p1, "fd_prestat_get")
		a.helpers = append(a.helpers, "region")
	}
	if epoll {
		a.helpers = append(a.helpers, "epoll_instance", "epoll_forget", "emu_fd_free")
	}
	if aliases {
		a.helpers = append(a.helpers, "alias_find", "alias_refs", "alias_add", "alias_del", "alias_release")
	}
	a.build = func(g *gen, f *funcBuilder) {
		e, h := f.local(i32), f.local(i32)
		if epoll {
			f.get(0).call(g.helper("epoll_instance")).tee(e).if_()
			f.get(e).i32(0).i32Store(0)
			f.get(0).call(g.helper("emu_fd_free"))
			f.i32(0).return_().end()
		}
		if g.cloexec {
			f.get(0).i32(0).call(g.helper("cloexec_set"))
		}
		if events {
			f.get(0).call(g.helper("event_instance")).tee(e).if_()
			f.get(e).i32(0).i32Store(0)
			f.get(0).call(g.helper("emu_fd_free"))
			if epoll {
				f.get(0).call(g.helper("epoll_forget"))
			}
			f.i32(0).return_().end()
			f.get(0).call(g.helper("pipe_rec")).tee(e).if_()
			// clear this end's open bit and number
			f.get(0).get(e).i32Load(16).i32Eq().if_I32(1, 2).set(h)
			f.get(e).get(e).i32Load(0).get(h).i32(-1).i32Xor().i32And().i32Store(0)
			f.get(e).get(h).i32(2).i32Shl().i32Add().i32(0).i32Store(12) // fd_r at 16, fd_w at 20
			f.get(0).call(g.helper("emu_fd_free"))
			if epoll {
				f.get(0).call(g.helper("epoll_forget"))
			}
			f.i32(0).return_().end()
		}
		if aliases {
			// (no region yet: no entries)
			f.gget(g.baseGlobal).if_()
			f.get(0).call(g.helper("alias_find")).tee(e).if_()
			// an entry: drop it, then the host fd if nothing uses it
			f.get(e).i32Load(4).tee(h).i32(-1).i32Eq().if_().i32(errnoBadf).return_().end()
			f.get(e).call(g.helper("alias_del"))
			if epoll {
				f.get(0).call(g.helper("epoll_forget"))
			}
			f.get(h).call(g.helper("alias_release"))
			f.i32(0).return_()
			f.end()
			f.end()
		}
		if keepPreopens {
			g.scratch(f.get(0)).i32(offEvt).i32Add().call(g.p1("fd_prestat_get")).i32Eqz().if_().i32(0).return_().end()
		}
		if aliases {
			// the guest fd is the host fd: keep it open (a tombstone) while
			// aliases use it
			f.gget(g.baseGlobal).if_()
			f.get(0).call(g.helper("alias_refs")).if_()
			f.get(0).i32(-1).call(g.helper("alias_add")).tee(h).if_().get(h).return_().end()
			if epoll {
				f.get(0).call(g.helper("epoll_forget"))
			}
			f.i32(0).return_()
			f.end()
			f.end()
		}
		if epoll {
			f.get(0).call(g.helper("epoll_forget"))
		}
		f.get(0).call(g.p1("fd_close"))
	}
	return a
}

// fdRenumberDup2 is fd_renumber for a WASIX module, which wasix-libc's
// dup2 and dup3 call: to becomes another name of from's file (closing
// what to was), and from stays open, as under wazix and wasmer. preview1
// can only move an fd, so to becomes an fd table entry. to must be below
// aliasFDBase or already an alias (else EBADF, as for a number above the
// fd limit).
func fdRenumberDup2(epoll bool) *adapter {
	a := &adapter{params: types(i32, i32), results: types(i32), p1: []string{"fd_fdstat_get"}, region: true,
		helpers: []string{"region", "resolve_fd", "alias_find", "alias_add", "alias_release"}}
	if epoll {
		a.helpers = append(a.helpers, "epoll_forget")
	}
	a.build = func(g *gen, f *funcBuilder) {
		const from, to = 0, 1
		real, e, old := f.local(i32), f.local(i32), f.local(i32)
		f.get(from).call(g.helper("resolve_fd")).tee(real)
		g.scratch(f).i32(offStat).i32Add().call(g.p1("fd_fdstat_get")).tee(e).if_().get(e).return_().end()
		f.get(from).get(to).i32Eq().if_().i32(0).return_().end()
		if epoll {
			f.get(to).call(g.helper("epoll_forget"))
		}
		f.get(to).call(g.helper("alias_find")).tee(e).if_()
		f.get(e).i32Load(4).set(old)
		f.get(e).get(real).i32Store(4)
		f.get(old).call(g.helper("alias_release"))
		f.i32(0).return_()
		f.end()
		f.get(to).i32(aliasFDBase).i32GeU().if_().i32(errnoBadf).return_().end()
		f.get(to).get(real).call(g.helper("alias_add")).tee(e).if_().get(e).return_().end()
		f.get(to).call(g.helper("alias_release"))
		f.i32(0)
	}
	return a
}

func toAPI(ts []wasmbin.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		if len(t) == 1 {
			out[i] = t[0] // wazero's ValueType is the binary encoding
		}
	}
	return out
}

func fromAPI(ts []api.ValueType) []wasmbin.ValType {
	out := make([]wasmbin.ValType, len(ts))
	for i, t := range ts {
		out[i] = wasmbin.ValType([]byte{t})
	}
	return out
}
