// Package wasix is our wasix_32v1 host module: Wasmer's WASIX extensions of
// preview1 (epoll, pipes, event fds, fd_dup, cwd, signals, tty, sockets,
// threads, processes) over the same system state as abi/wasi_p1, so that a fd
// made by one ABI works through the other.
//
// Every wasix_32v1 function is defined, with the exact signature the guest
// imports (the current ABI, or the 2022 forms for older binaries), so that
// real binaries instantiate. Functions not implemented yet return ENOSYS;
// docs/compat.md lists each function's status.
package wasix

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/abi/wasi_p1"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/sys"
)

// ModuleName is the import module name of 32-bit WASIX.
const ModuleName = compat.ModuleWASIX32

// fn is a host function returning an errno (written to stack[0]).
type fn func(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno

// voidFn is a host function without results (exits, thread_exit, ...).
type voidFn func(h *host, ctx context.Context, m api.Module, stack []uint64)

// The tables of implementations are built on first use (by define), not at
// package initialisation: a preview1 guest never needs them.
var (
	// impls are the implemented functions of the current ABI, by name.
	impls map[string]fn
	// voidImpls are the implemented functions that return nothing.
	voidImpls map[string]voidFn
	// impls2022 are the functions of the 2022 ABI whose form differs.
	impls2022 map[string]fn
	implsOnce sync.Once
)

// loadImpls fills the tables once. exec and spawn start processes, which
// define these tables' functions: a plain sync.Once (rather than a package
// variable's initializer) keeps Go's initialization order acyclic.
func loadImpls() {
	implsOnce.Do(func() {
		impls, voidImpls, impls2022 = newImpls(), newVoidImpls(), newImpls2022()
		impls["proc_exec3"] = procExec3
		impls["proc_spawn2"] = procSpawn2
		impls["proc_spawn3"] = procSpawn3
		impls["proc_exec4"] = procExec4
		impls["stack_checkpoint"] = stackCheckpoint
		voidImpls["stack_restore"] = stackRestore
		voidImpls["proc_exec"] = procExec
		voidImpls["proc_exec2"] = procExec2
	})
}

// newImpls returns the implemented functions of the current ABI.
func newImpls() map[string]fn {
	return map[string]fn{
		// file descriptors (fd.go)
		"fd_dup":         fdDup,
		"fd_dup2":        fdDup2,
		"fd_fdflags_get": fdFdflagsGet,
		"fd_fdflags_set": fdFdflagsSet,
		"path_open2":     pathOpen2,
		"fd_pipe":        fdPipe,
		"fd_event":       fdEvent,
		// epoll (epoll.go)
		"epoll_create": epollCreate,
		"epoll_ctl":    epollCtl,
		"epoll_wait":   epollWait,
		// processes and signals (proc.go)
		"proc_id":                procID,
		"proc_fork":              procFork,
		"proc_fork_env":          procForkEnv,
		"proc_join":              procJoin,
		"proc_parent":            procParent,
		"proc_signal":            procSignal,
		"proc_raise_interval":    procRaiseInterval,
		"proc_raise_interval2":   procRaiseInterval2,
		"proc_signals_sizes_get": procSignalsSizesGet,
		"proc_signals_get":       procSignalsGet,
		"proc_snapshot":          procSnapshot,
		"thread_signal":          threadSignal,
		// thread spawning (threads.go)
		"thread_spawn_v2": threadSpawnV2,
		"thread_spawn":    threadSpawnV2,
		"thread_join":     threadJoin,
		// threads and time (thread.go)
		"thread_sleep":       threadSleep,
		"thread_id":          threadID,
		"thread_parallelism": threadParallelism,
		"futex_wait":         futexWait,
		"futex_wake":         futexWake,
		"futex_wake_all":     futexWakeAll,
		"clock_time_set":     clockTimeSet,
		// sockets (sock_net.go, sock_opt.go, resolve.go, port.go)
		"sock_open":               sockOpen,
		"sock_pair":               sockPair,
		"sock_bind":               sockBind,
		"sock_listen":             sockListen,
		"sock_connect":            sockConnect,
		"sock_accept_v2":          sockAcceptV2,
		"sock_recv_from":          sockRecvFrom,
		"sock_send_to":            sockSendTo,
		"sock_send_file":          sockSendFile,
		"sock_send_msg":           sockSendMsg,
		"sock_recv_msg":           sockRecvMsg,
		"sock_status":             sockStatus,
		"sock_addr_local":         sockAddrLocal,
		"sock_addr_peer":          sockAddrPeer,
		"sock_set_opt_flag":       sockSetOptFlag,
		"sock_get_opt_flag":       sockGetOptFlag,
		"sock_set_opt_time":       sockSetOptTime,
		"sock_get_opt_time":       sockGetOptTime,
		"sock_set_opt_size":       sockSetOptSize,
		"sock_get_opt_size":       sockGetOptSize,
		"sock_join_multicast_v4":  multicastV4(true),
		"sock_leave_multicast_v4": multicastV4(false),
		"sock_join_multicast_v6":  multicastV6(true),
		"sock_leave_multicast_v6": multicastV6(false),
		"resolve":                 resolve,
		"port_addr_list":          portAddrList,
		// terminal and current directory (tty.go, cwd.go)
		"tty_get": ttyGet,
		"tty_set": ttySet,
		"getcwd":  getcwd,
		"chdir":   chdir,
	}
}

// newVoidImpls returns the implemented functions that return nothing.
func newVoidImpls() map[string]voidFn {
	return map[string]voidFn{
		"proc_exit2":      procExit2,
		"callback_signal": callbackSignal,
		"thread_exit":     threadExit,
	}
}

// errnoOfUnimplemented is what a defined but unimplemented function returns.
// Wasmer returns ENOTSUP for the virtual-network port_* calls when no
// virtual network is attached; everything else is ENOSYS.
func errnoOfUnimplemented(name string) sys.Errno {
	if len(name) > 5 && name[:5] == "port_" {
		return sys.ENOTSUP
	}
	return sys.ENOSYS
}

// host binds the functions to one system and one process.
type host struct {
	sys     *sys.System
	proc    *process
	threads *Threads
	fdPass  *fdPassing // guest fds in flight in SCM_RIGHTS messages (sock_msg.go)
	process *Process   // set by Launch; nil when Define is used directly
}

// Define adds every wasix_32v1 function bound to s to b. imports are the
// guest's imports: where the guest imports an older form of a function (the
// 2022 ABI), that form is defined instead of the current one. Threads are
// spawned through th.
func Define(b wazero.HostModuleBuilder, s *sys.System, imports []compat.Import, th *Threads) error {
	define(b, s, imports, th, true)
	return nil
}

// define is Define; with all false it defines only the functions imports
// name (Launch: each host function costs a compiled trampoline at every
// start, and a guest links only what it imports).
func define(b wazero.HostModuleBuilder, s *sys.System, imports []compat.Import, th *Threads, all bool) *host {
	loadImpls()
	h := &host{sys: s, proc: newProcess(s), threads: th, fdPass: newFdPassing(s)}
	th.onThreadEnd = h.proc.threadEnded
	th.onThreadReturn = h.destroyThreadLocals
	s.WASIX = true
	s.Raise = h.raise
	s.ExitSignal = h.exitSignal
	s.Signal = h.signalFromOutside
	s.Deliver = h.deliverPending
	s.Handler = func(sig uint32) bool {
		h.proc.mu.Lock()
		defer h.proc.mu.Unlock()
		return h.proc.handler != "" && sig != sigKILL
	}

	// The preview1 functions, re-exported under wasix_32v1; sock_accept is
	// the four-argument v2 form here.
	imported := map[string]bool{}
	for _, im := range imports {
		if im.Module == ModuleName {
			imported[im.Name] = true
		}
	}
	wasi_p1.DefineIn(b, ModuleName, s, false, func(name string) bool {
		return name != "sock_accept" && (all || imported[name])
	})

	forms := map[string]compat.Func{}
	for _, f := range compat.WASIX() {
		if f.Name != "sock_accept" && isPreview1(f.Name) || !all && !imported[f.Name] {
			continue
		}
		forms[f.Name] = f
	}
	for _, im := range imports {
		if im.Module != ModuleName || im.Name != "sock_accept" && isPreview1(im.Name) {
			continue
		}
		if f, ok := compat.Find(ModuleName, im.Name, im.Params, im.Results); ok {
			forms[f.Name] = f
		}
	}
	for name, f := range forms {
		b.NewFunctionBuilder().
			WithGoModuleFunction(s.HostFunc(ModuleName, name, f.Params, f.Results, h.wrap(f)), f.Params, f.Results).
			WithName(name).
			Export(name)
	}
	return h
}

func isPreview1(name string) bool {
	for _, f := range compat.Preview1() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// wrap turns the implementation of f (or an ENOSYS stub) into a wazero host
// function, delivering pending signals after each call.
func (h *host) wrap(f compat.Func) api.GoModuleFunc {
	if f.Generation == compat.Generation2022 {
		if f.Name == "thread_spawn" {
			// Two five-argument shapes: (name, len, user_data, ...) and
			// (user_data, stack_base, stack_start, ...).
			if f.Params[0] == api.ValueTypeI64 {
				return h.errnoFunc(threadSpawn2022)
			}
			return h.errnoFunc(threadSpawnByName2022)
		}
		if impl, ok := impls2022[f.Name]; ok {
			return h.errnoFunc(impl)
		}
		return h.errnoFunc(func(*host, context.Context, api.Module, []uint64) sys.Errno { return sys.ENOSYS })
	}
	if len(f.Results) == 0 {
		if impl, ok := voidImpls[f.Name]; ok {
			return func(ctx context.Context, m api.Module, stack []uint64) { impl(h, ctx, m, stack) }
		}
		return h.unsupportedVoid(f.Name)
	}
	if f.Name == "sock_accept" {
		return h.errnoFunc(sockAcceptV2)
	}
	if impl, ok := impls[f.Name]; ok {
		return h.errnoFunc(impl)
	}
	errno := errnoOfUnimplemented(f.Name)
	return h.errnoFunc(func(*host, context.Context, api.Module, []uint64) sys.Errno { return errno })
}

func (h *host) errnoFunc(impl fn) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		if h.sys.Ended() {
			// Another thread ended the process: this one stops before
			// doing anything more.
			wasi_p1.StopIfCanceled(ctx, h.sys, m)
		}
		errno := impl(h, ctx, m, stack)
		if errno == sys.EINTR || errno == sys.ECANCELED || h.sys.Ended() {
			wasi_p1.StopIfCanceled(ctx, h.sys, m)
		}
		h.deliverPending(ctx, m)
		stack[0] = uint64(errno)
	}
}

// unsupportedVoid is the stub of a function without results that is not
// implemented: it cannot return an errno, so it traps with a clear message
// (proc_exec, proc_exec2, stack_restore).
func (h *host) unsupportedVoid(name string) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		panic(fmt.Errorf("wasix_32v1.%s is not supported by wazix", name))
	}
}
