// Package compat describes the system interfaces a WebAssembly module can
// import — WASI preview1, WASIX (wasix_32v1, in its current and 2022 forms)
// and wasi-threads — and tells which of them a module uses.
//
// The tables are data: every function with its exact core-wasm signature,
// so that a host can define the whole surface in a loop and a translator
// can check an import before touching it. Signatures follow the WASIX
// reference notes (wasix-abi.md §2, taken from wasix-libc's generated import
// stubs and wasmer's lib/wasix): every errno result is an i32, pointers and
// lengths are i32 (wasm32), 64-bit values are i64.
package compat

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// Import module names.
const (
	ModulePreview1    = "wasi_snapshot_preview1"
	ModuleUnstable    = "wasi_unstable" // preview0; the same names with older layouts
	ModuleWASIX32     = "wasix_32v1"
	ModuleWASIX64     = "wasix_64v1"
	ModuleWASIThreads = "wasi"
)

// Generation tells which revision of the WASIX ABI a signature belongs to.
type Generation int

const (
	// GenerationCurrent is the ABI of current wasix-libc and wasmer (2024 on).
	GenerationCurrent Generation = iota
	// Generation2022 is the first published WASIX ABI (wasmer 3.0–3.1 era):
	// thread_local_* functions, a five-argument thread_spawn and a
	// two-argument proc_join. Current hosts do not provide these forms.
	Generation2022
)

func (g Generation) String() string {
	switch g {
	case GenerationCurrent:
		return "current"
	case Generation2022:
		return "2022"
	}
	return fmt.Sprintf("generation(%d)", int(g))
}

// Func is one importable function and its exact signature.
type Func struct {
	Module     string
	Name       string
	Params     []api.ValueType
	Results    []api.ValueType
	Generation Generation
}

// Signature prints the function type as "(i32,i64)->i32".
func (f Func) Signature() string { return Signature(f.Params, f.Results) }

// Signature prints a function type as "(i32,i64)->i32" ("->()" for none).
func Signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ",")
	}
	r := name(results)
	if len(results) != 1 {
		r = "(" + r + ")"
	}
	return "(" + name(params) + ")->" + r
}

// Matches reports whether a function type equals f's signature.
func (f Func) Matches(params, results []api.ValueType) bool {
	return slices.Equal(f.Params, params) && slices.Equal(f.Results, results)
}

// preview1Sigs lists the 46 wasi_snapshot_preview1 functions. The compact
// form is "name params results" with i=i32, I=i64 and "-" for none.
var preview1Sigs = []string{
	"args_get ii i", "args_sizes_get ii i", "environ_get ii i", "environ_sizes_get ii i",
	"clock_res_get ii i", "clock_time_get iIi i",
	"fd_advise iIIi i", "fd_allocate iII i", "fd_close i i", "fd_datasync i i",
	"fd_fdstat_get ii i", "fd_fdstat_set_flags ii i", "fd_fdstat_set_rights iII i",
	"fd_filestat_get ii i", "fd_filestat_set_size iI i", "fd_filestat_set_times iIIi i",
	"fd_pread iiiIi i", "fd_prestat_get ii i", "fd_prestat_dir_name iii i",
	"fd_pwrite iiiIi i", "fd_read iiii i", "fd_readdir iiiIi i", "fd_renumber ii i",
	"fd_seek iIii i", "fd_sync i i", "fd_tell ii i", "fd_write iiii i",
	"path_create_directory iii i", "path_filestat_get iiiii i",
	"path_filestat_set_times iiiiIIi i", "path_link iiiiiii i",
	"path_open iiiiiIIii i", "path_readlink iiiiii i", "path_remove_directory iii i",
	"path_rename iiiiii i", "path_symlink iiiii i", "path_unlink_file iii i",
	"poll_oneoff iiii i", "proc_exit i -", "proc_raise i i", "sched_yield - i",
	"random_get ii i", "sock_accept iii i", "sock_recv iiiiii i", "sock_send iiiii i",
	"sock_shutdown ii i",
}

// wasixSigs lists the wasix_32v1 functions that preview1 does not have, in
// their current form (see wasix-abi.md §2.2–§2.12).
var wasixSigs = []string{
	// file descriptors
	"fd_dup ii i", "fd_dup2 iiii i", "fd_fdflags_get ii i", "fd_fdflags_set ii i",
	"path_open2 iiiiiIIiii i",
	// pipes and event fds
	"fd_pipe ii i", "fd_event Iii i",
	// epoll
	"epoll_create i i", "epoll_ctl iiii i", "epoll_wait iiiIi i",
	// sockets
	"sock_open iiii i", "sock_pair iiiii i", "sock_bind ii i", "sock_listen ii i",
	"sock_connect ii i", "sock_accept_v2 iiii i", "sock_recv_from iiiiiii i",
	"sock_send_to iiiiii i", "sock_send_file iiIIi i", "sock_status ii i",
	"sock_addr_local ii i", "sock_addr_peer ii i", "sock_set_opt_flag iii i",
	"sock_get_opt_flag iii i", "sock_set_opt_time iii i", "sock_get_opt_time iii i",
	"sock_set_opt_size iiI i", "sock_get_opt_size iii i",
	"sock_join_multicast_v4 iii i", "sock_leave_multicast_v4 iii i",
	"sock_join_multicast_v6 iii i", "sock_leave_multicast_v6 iii i",
	"resolve iiiiii i",
	// sendmsg/recvmsg (newer than wasix-abi.md §2; read from Wasmer's
	// sock_send_msg.rs/sock_recv_msg.rs and wasix-libc's sendmsg.c/recvmsg.c)
	"sock_send_msg iiiiiiii i", "sock_recv_msg iiiiiiiiii i",
	// virtual network control
	"port_bridge iiiii i", "port_unbridge - i", "port_dhcp_acquire - i",
	"port_addr_add i i", "port_addr_remove i i", "port_addr_clear - i", "port_mac i i",
	"port_addr_list ii i", "port_gateway_set i i", "port_route_add iiii i",
	"port_route_remove i i", "port_route_clear - i", "port_route_list ii i",
	// threads, futexes, stack tricks, green threads
	"thread_spawn_v2 ii i", "thread_spawn ii i", "thread_sleep I i", "thread_id i i",
	"thread_join i i", "thread_parallelism i i", "thread_signal ii i", "thread_exit i -",
	"futex_wait iiii i", "futex_wake ii i", "futex_wake_all ii i",
	"stack_checkpoint ii i", "stack_restore iI -",
	"context_create ii i", "context_switch I i", "context_destroy I i",
	// processes and signals
	"proc_exit2 i -", "proc_fork ii i", "proc_fork_env i i", "proc_exec iiii -",
	"proc_exec2 iiiiii -", "proc_exec3 iiiiiiiii i", "proc_exec4 iiiiiiiii i",
	"proc_spawn iiiiiiiiiiiii i", "proc_spawn2 iiiiiiiiiiiiii i",
	"proc_spawn3 iiiiiiiiiiiiii i", "proc_id i i", "proc_parent ii i",
	"proc_join iii i", "proc_signal ii i", "proc_raise_interval iIi i", "proc_raise_interval2 iii i",
	"proc_signals_sizes_get i i", "proc_signals_get i i", "proc_snapshot - i",
	"callback_signal ii -",
	// terminal, current directory, clocks
	"tty_get i i", "tty_set i i", "getcwd ii i", "chdir ii i", "clock_time_set iI i",
	// dynamic linking and FFI
	"dlopen iiiiiiii i", "dlsym iiiiii i", "dl_invalid_handle i i",
	"call_dynamic iiiiii i", "closure_allocate i i", "closure_prepare iiiiiii i",
	"closure_free i i", "reflect_signature iiiiii i",
}

// wasix2022Sigs are the first-generation forms that differ from the current
// ABI (read from wasmer 3.x's lib/wasi syscalls; wasix-abi.md does not list
// them): thread_local_create(user_data u64, *key), thread_local_destroy(key),
// thread_local_set(key, value u64), thread_local_get(key, *value u64);
// thread_spawn in two five-argument shapes, by export name (method ptr, len,
// user_data u64, reactor, *tid) and later by stack addresses (user_data,
// stack_base, stack_start as u64, reactor, *tid); proc_join(*pid, *exit_code).
var wasix2022Sigs = []string{
	"thread_local_create Ii i", "thread_local_destroy i i", "thread_local_set iI i",
	"thread_local_get ii i",
	"thread_spawn iiIii i", "thread_spawn IIIii i",
	"proc_join ii i",
}

// The tables are parsed on first use: most runs need only Preview1.
var (
	preview1Table = sync.OnceValue(func() []Func { return parseTable(ModulePreview1, GenerationCurrent, preview1Sigs) })
	wasixTable    = sync.OnceValue(func() []Func {
		return append(wasixPreview1(), parseTable(ModuleWASIX32, GenerationCurrent, wasixSigs)...)
	})
	wasix2022Table = sync.OnceValue(func() []Func { return parseTable(ModuleWASIX32, Generation2022, wasix2022Sigs) })
)

// Preview1 returns every wasi_snapshot_preview1 function (46). The slice is
// shared: do not modify it.
func Preview1() []Func { return preview1Table() }

// WASIX returns every wasix_32v1 function of the current ABI: the preview1
// functions that wasmer re-exports under wasix_32v1 (with sock_accept in its
// four-argument v2 form) followed by the 97 WASIX-only functions. The slice
// is shared: do not modify it.
func WASIX() []Func { return wasixTable() }

// WASIX2022 returns the first-generation forms that the current ABI replaced
// or dropped. The slice is shared: do not modify it.
func WASIX2022() []Func { return wasix2022Table() }

var (
	// ThreadSpawn is wasi-threads' wasi.thread-spawn(start_arg) -> tid or -errno.
	// Binaries from before the proposal renamed it (early 2023) import it as
	// wasi.thread_spawn (ThreadSpawnOldName), with the same signature.
	ThreadSpawn = Func{Module: ModuleWASIThreads, Name: "thread-spawn",
		Params: []api.ValueType{api.ValueTypeI32}, Results: []api.ValueType{api.ValueTypeI32}}
)

// ThreadSpawnOldName is the name wasi-threads' spawn function had before it
// became thread-spawn.
const ThreadSpawnOldName = "thread_spawn"

// wasixPreview1 is Preview1 as re-exported under wasix_32v1.
func wasixPreview1() []Func {
	out := make([]Func, len(Preview1()))
	for i, f := range Preview1() {
		f.Module = ModuleWASIX32
		if f.Name == "sock_accept" {
			f.Params = []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}
		}
		out[i] = f
	}
	return out
}

func parseTable(module string, gen Generation, rows []string) []Func {
	out := make([]Func, 0, len(rows))
	for _, row := range rows {
		parts := strings.Fields(row)
		if len(parts) != 3 {
			panic("compat: bad table row " + row) // table data is static; caught by tests
		}
		out = append(out, Func{Module: module, Name: parts[0],
			Params: parseTypes(parts[1]), Results: parseTypes(parts[2]), Generation: gen})
	}
	return out
}

func parseTypes(s string) []api.ValueType {
	if s == "-" {
		return nil
	}
	ts := make([]api.ValueType, len(s))
	for i, c := range s {
		switch c {
		case 'i':
			ts[i] = api.ValueTypeI32
		case 'I':
			ts[i] = api.ValueTypeI64
		default:
			panic("compat: bad type letter in " + s)
		}
	}
	return ts
}

// Lookup returns every known form of module.name (several for functions
// whose signature changed between generations), current forms first.
// wasi_unstable functions are looked up by their preview1 names.
func Lookup(module, name string) []Func {
	var out []Func
	switch module {
	case ModulePreview1, ModuleUnstable:
		for _, f := range Preview1() {
			if f.Name == name {
				f.Module = module
				out = append(out, f)
			}
		}
	case ModuleWASIX32:
		for _, f := range WASIX() {
			if f.Name == name {
				out = append(out, f)
			}
		}
		for _, f := range WASIX2022() {
			if f.Name == name {
				out = append(out, f)
			}
		}
	case ModuleWASIThreads:
		if name == ThreadSpawn.Name || name == ThreadSpawnOldName {
			f := ThreadSpawn
			f.Name = name
			out = append(out, f)
		}
	}
	return out
}

// Find returns the known form of module.name with exactly this signature.
// It scans the tables as Lookup does but builds no list: it runs for every
// import of every module at each start.
func Find(module, name string, params, results []api.ValueType) (Func, bool) {
	var tables [2][]Func
	switch module {
	case ModulePreview1, ModuleUnstable:
		tables[0] = Preview1()
	case ModuleWASIX32:
		tables[0], tables[1] = WASIX(), WASIX2022()
	default:
		for _, f := range Lookup(module, name) {
			if f.Matches(params, results) {
				return f, true
			}
		}
		return Func{}, false
	}
	indexes := [2]map[string][]int{preview1Index()}
	if module == ModuleWASIX32 {
		indexes = [2]map[string][]int{wasixIndex(), wasix2022Index()}
	}
	for i, t := range tables {
		for _, at := range indexes[i][name] {
			if f := t[at]; f.Matches(params, results) {
				if module == ModuleUnstable {
					f.Module = module
				}
				return f, true
			}
		}
	}
	return Func{}, false
}

// Positions of each name in the tables, for Find: a WASIX guest imports
// over a hundred functions from a table of ~150, and scanning it for each
// was most of Find's cost at every start.
var (
	preview1Index  = sync.OnceValue(func() map[string][]int { return nameIndex(Preview1()) })
	wasixIndex     = sync.OnceValue(func() map[string][]int { return nameIndex(WASIX()) })
	wasix2022Index = sync.OnceValue(func() map[string][]int { return nameIndex(WASIX2022()) })
)

func nameIndex(t []Func) map[string][]int {
	idx := make(map[string][]int, len(t))
	for i, f := range t {
		idx[f.Name] = append(idx[f.Name], i)
	}
	return idx
}
