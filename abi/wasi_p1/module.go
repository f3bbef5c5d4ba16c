// Package wasi_p1 is our wasi_snapshot_preview1 host module (and the older
// wasi_unstable one) over the shared system state in internal/sys.
//
// Every function decodes its arguments from guest memory with bounds checks
// (a bad pointer gives EFAULT, never a host panic), calls the system, and
// encodes the results. The module owns no state: a fd opened here is the same
// fd for the WASIX module.
package wasi_p1

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/sys"
)

// Module names served by this package.
const (
	ModuleName         = "wasi_snapshot_preview1"
	UnstableModuleName = "wasi_unstable"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// host binds the functions to one system and one layout flavour.
type host struct {
	sys *sys.System
	// unstable selects wasi_unstable's layouts (filestat, whence, subscription).
	unstable bool
}

// fn is one host function: params are on stack; the errno is returned and
// written to stack[0] by the wrapper.
type fn func(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno

type def struct {
	name    string
	params  []api.ValueType
	fn      fn
	noErrno bool // proc_exit returns nothing
}

func params(t ...api.ValueType) []api.ValueType { return t }

// defs lists every preview1 function with its wasm signature.
var defs = []def{
	{name: "args_get", params: params(i32, i32), fn: argsGet},
	{name: "args_sizes_get", params: params(i32, i32), fn: argsSizesGet},
	{name: "environ_get", params: params(i32, i32), fn: environGet},
	{name: "environ_sizes_get", params: params(i32, i32), fn: environSizesGet},
	{name: "clock_res_get", params: params(i32, i32), fn: clockResGet},
	{name: "clock_time_get", params: params(i32, i64, i32), fn: clockTimeGet},
	{name: "fd_advise", params: params(i32, i64, i64, i32), fn: fdAdvise},
	{name: "fd_allocate", params: params(i32, i64, i64), fn: fdAllocate},
	{name: "fd_close", params: params(i32), fn: fdClose},
	{name: "fd_datasync", params: params(i32), fn: fdDatasync},
	{name: "fd_fdstat_get", params: params(i32, i32), fn: fdFdstatGet},
	{name: "fd_fdstat_set_flags", params: params(i32, i32), fn: fdFdstatSetFlags},
	{name: "fd_fdstat_set_rights", params: params(i32, i64, i64), fn: fdFdstatSetRights},
	{name: "fd_filestat_get", params: params(i32, i32), fn: fdFilestatGet},
	{name: "fd_filestat_set_size", params: params(i32, i64), fn: fdFilestatSetSize},
	{name: "fd_filestat_set_times", params: params(i32, i64, i64, i32), fn: fdFilestatSetTimes},
	{name: "fd_pread", params: params(i32, i32, i32, i64, i32), fn: fdPread},
	{name: "fd_prestat_get", params: params(i32, i32), fn: fdPrestatGet},
	{name: "fd_prestat_dir_name", params: params(i32, i32, i32), fn: fdPrestatDirName},
	{name: "fd_pwrite", params: params(i32, i32, i32, i64, i32), fn: fdPwrite},
	{name: "fd_read", params: params(i32, i32, i32, i32), fn: fdRead},
	{name: "fd_readdir", params: params(i32, i32, i32, i64, i32), fn: fdReaddir},
	{name: "fd_renumber", params: params(i32, i32), fn: fdRenumber},
	{name: "fd_seek", params: params(i32, i64, i32, i32), fn: fdSeek},
	{name: "fd_sync", params: params(i32), fn: fdSync},
	{name: "fd_tell", params: params(i32, i32), fn: fdTell},
	{name: "fd_write", params: params(i32, i32, i32, i32), fn: fdWrite},
	{name: "path_create_directory", params: params(i32, i32, i32), fn: pathCreateDirectory},
	{name: "path_filestat_get", params: params(i32, i32, i32, i32, i32), fn: pathFilestatGet},
	{name: "path_filestat_set_times", params: params(i32, i32, i32, i32, i64, i64, i32), fn: pathFilestatSetTimes},
	{name: "path_link", params: params(i32, i32, i32, i32, i32, i32, i32), fn: pathLink},
	{name: "path_open", params: params(i32, i32, i32, i32, i32, i64, i64, i32, i32), fn: pathOpen},
	{name: "path_readlink", params: params(i32, i32, i32, i32, i32, i32), fn: pathReadlink},
	{name: "path_remove_directory", params: params(i32, i32, i32), fn: pathRemoveDirectory},
	{name: "path_rename", params: params(i32, i32, i32, i32, i32, i32), fn: pathRename},
	{name: "path_symlink", params: params(i32, i32, i32, i32, i32), fn: pathSymlink},
	{name: "path_unlink_file", params: params(i32, i32, i32), fn: pathUnlinkFile},
	{name: "poll_oneoff", params: params(i32, i32, i32, i32), fn: pollOneoff},
	{name: "proc_exit", params: params(i32), fn: procExit, noErrno: true},
	{name: "proc_raise", params: params(i32), fn: procRaise},
	{name: "sched_yield", params: params(), fn: schedYield},
	{name: "random_get", params: params(i32, i32), fn: randomGet},
	{name: "sock_accept", params: params(i32, i32, i32), fn: sockAccept},
	{name: "sock_recv", params: params(i32, i32, i32, i32, i32, i32), fn: sockRecv},
	{name: "sock_send", params: params(i32, i32, i32, i32, i32), fn: sockSend},
	{name: "sock_shutdown", params: params(i32, i32), fn: sockShutdown},
}

// FunctionNames returns the names of every function this module exports, in
// definition order.
func FunctionNames() []string {
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.name
	}
	return names
}

// NewBuilder returns a host module builder named name (ModuleName or
// UnstableModuleName) with the functions bound to s that include selects
// (nil: every function). A runtime defines only what its guest imports:
// each host function costs a compiled trampoline at every start.
func NewBuilder(rt wazero.Runtime, name string, s *sys.System, include func(name string) bool) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder(name)
	Define(b, s, name == UnstableModuleName, include)
	return b
}

// Define adds the preview1 functions bound to s that include selects (nil:
// all) to b. unstable selects wasi_unstable's layouts.
func Define(b wazero.HostModuleBuilder, s *sys.System, unstable bool, include func(name string) bool) {
	module := ModuleName
	if unstable {
		module = UnstableModuleName
	}
	DefineIn(b, module, s, unstable, include)
}

// DefineIn is Define for a builder of module (the name a tracer shows); the
// WASIX module re-exports the preview1 functions this way.
func DefineIn(b wazero.HostModuleBuilder, module string, s *sys.System, unstable bool, include func(name string) bool) {
	h := &host{sys: s, unstable: unstable}
	for _, d := range defs {
		if include != nil && !include(d.name) {
			continue
		}
		var results []api.ValueType
		var gf api.GoModuleFunction
		if d.noErrno {
			f := d.fn
			gf = api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) { f(h, ctx, m, stack) })
		} else {
			results = []api.ValueType{i32}
			gf = &hostFunc{h: h, fn: d.fn}
			if d.name == "clock_time_get" {
				gf = &clockFunc{h: h}
			}
		}
		if s.Wrap != nil {
			// Tracing sees every call through the wrapper it returns.
			gf = s.HostFunc(module, d.name, d.params, results, gf.Call)
		}
		b.NewFunctionBuilder().WithGoModuleFunction(gf, d.params, results).WithName(d.name).Export(d.name)
	}
}

// hostFunc is one host function returning an errno, as wazero calls it: an
// api.GoModuleFunction itself, not a closure behind GoModuleFunc's Call,
// which is one more indirect call on every host call.
type hostFunc struct {
	h  *host
	fn fn
}

// Call implements api.GoModuleFunction.
func (f *hostFunc) Call(ctx context.Context, m api.Module, stack []uint64) {
	s := f.h.sys
	if s.Ended() {
		// Another thread ended the process: this one stops before doing
		// anything more.
		f.h.stopIfCanceled(ctx, m)
	}
	errno := f.fn(f.h, ctx, m, stack)
	if errno == sys.EINTR || errno == sys.ECANCELED || s.Ended() {
		f.h.stopIfCanceled(ctx, m)
	}
	if s.SigPending.Load() != 0 && s.Deliver != nil {
		// A WASIX guest's signals are delivered on return from any host
		// call, preview1's included.
		s.Deliver(ctx, m)
	}
	stack[0] = uint64(errno)
}

// clockFunc is hostFunc for clock_time_get, the call guests make most
// (Go's runtime reads the clock several times per scheduling round): the
// same checks around the monotonic clock read inline, instead of a call
// through a function value.
type clockFunc struct{ h *host }

// Call implements api.GoModuleFunction.
func (f *clockFunc) Call(ctx context.Context, m api.Module, stack []uint64) {
	s := f.h.sys
	if s.Ended() {
		f.h.stopIfCanceled(ctx, m)
	}
	var errno sys.Errno
	if u32(stack[0]) == sys.ClockMonotonic {
		errno = putU64(m.Memory(), u32(stack[2]), s.Monotonic())
	} else {
		errno = clockTimeGet(f.h, ctx, m, stack)
	}
	if s.Ended() {
		f.h.stopIfCanceled(ctx, m)
	}
	if s.SigPending.Load() != 0 && s.Deliver != nil {
		s.Deliver(ctx, m)
	}
	stack[0] = uint64(errno)
}

// StopIfCanceled ends the guest m when ctx is done or s is closed; see
// stopIfCanceled. The WASIX module shares it.
func StopIfCanceled(ctx context.Context, s *sys.System, m api.Module) {
	(&host{sys: s}).stopIfCanceled(ctx, m)
}

// stopIfCanceled ends the guest when its context is done or its system is
// closed. A blocking call returns early in that case; ending the guest from
// inside the host call stops it at once, without wazero's per-loop context
// checks (WithCloseOnContextDone), which slow Go guests several times.
func (h *host) stopIfCanceled(ctx context.Context, m api.Module) {
	code := uint32(0)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		code = wsys.ExitCodeDeadlineExceeded
	case ctx.Err() != nil:
		code = wsys.ExitCodeContextCanceled
	case h.sys != nil && (h.sys.Closed() || h.sys.Ended()):
		// The process ended (another thread exited or trapped): this
		// thread stops; the process's exit status is what End recorded.
		code = wsys.ExitCodeContextCanceled
	default:
		return
	}
	h.sys.CloseInstance(ctx, m, code)
	panic(wsys.NewExitError(code))
}

// Instantiate adds wasi_snapshot_preview1 and wasi_unstable bound to s to rt.
func Instantiate(ctx context.Context, rt wazero.Runtime, s *sys.System) error {
	for _, name := range []string{ModuleName, UnstableModuleName} {
		if _, err := NewBuilder(rt, name, s, nil).Instantiate(ctx); err != nil {
			return err
		}
	}
	return nil
}
