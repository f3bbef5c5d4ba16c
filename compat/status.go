package compat

import "strings"

// Status is what wazix does when a guest calls a function. docs/compat.md
// shows the same statuses; TestDocsMatchStatus keeps the two in step, and
// abi/wasix's TestStatusesHold calls every function to check them.
type Status string

const (
	// StatusDone: implemented and tested end to end.
	StatusDone Status = "done"
	// StatusPartial: implemented, with limits the docs state.
	StatusPartial Status = "partial"
	// StatusENOSYS: defined so that binaries load, but it only returns ENOSYS.
	StatusENOSYS Status = "ENOSYS"
	// StatusENOTSUP: defined, but it only returns ENOTSUP (what Wasmer answers
	// for virtual-network control without a virtual network).
	StatusENOTSUP Status = "ENOTSUP"
	// StatusTraps: defined, but it has no errno result to fail with, so it
	// traps.
	StatusTraps Status = "traps"
)

// Implemented reports whether calling the function does what it is for
// (done or partial), rather than failing whatever the arguments.
func (s Status) Implemented() bool { return s == StatusDone || s == StatusPartial }

// Errno is the errno a stub returns on every call (52 ENOSYS, 58 ENOTSUP),
// or 0 for other statuses.
func (s Status) Errno() uint32 {
	switch s {
	case StatusENOSYS:
		return 52
	case StatusENOTSUP:
		return 58
	}
	return 0
}

// statusNote is a function's status under wazix and why, when it is not
// plainly done.
type statusNote struct {
	Status Status
	Note   string
}

const (
	noteNoVNet  = "virtual network control: no virtual network"
	noteNoGreen = "green threads are not supported"
	noteNoDL    = "dynamic linking and FFI are not supported"
)

// preview1Status returns the status of a preview1 function that is not done
// for a preview1 guest. A WASIX guest gets all of them done (fd_allocate
// works, proc_raise delivers signals). These are switches, not maps, so that
// nothing is built when the program starts.
func preview1Status(fn string) (statusNote, bool) {
	switch fn {
	case "fd_allocate":
		return statusNote{StatusPartial, "ENOTSUP for preview1 guests, as wasmtime"}, true
	case "proc_raise":
		return statusNote{StatusENOSYS, "a preview1 host has no signal handlers to run"}, true
	}
	return statusNote{}, false
}

// wasixStatus returns the status of a current-ABI WASIX-only function that
// is not done.
func wasixStatus(fn string) (statusNote, bool) {
	switch fn {
	case "port_bridge", "port_unbridge", "port_dhcp_acquire", "port_addr_add", "port_addr_remove", "port_addr_clear", "port_mac", "port_gateway_set", "port_route_add", "port_route_remove", "port_route_clear", "port_route_list":
		return statusNote{StatusENOTSUP, noteNoVNet}, true
	case "context_create", "context_switch", "context_destroy":
		return statusNote{StatusENOSYS, noteNoGreen}, true
	case "proc_spawn":
		return statusNote{StatusENOSYS, "the legacy spawn is not implemented; wasix-libc uses proc_spawn2"}, true
	case "dlopen", "dlsym", "dl_invalid_handle", "call_dynamic", "closure_allocate", "closure_prepare", "closure_free", "reflect_signature":
		return statusNote{StatusENOSYS, noteNoDL}, true
	}
	return statusNote{}, false
}

// StatusOf returns what wazix does with f, and why when it is not done.
// wasixGuest says whether the importing module is a WASIX module: preview1
// functions follow WASIX semantics there (see compat.md).
func StatusOf(f Func, wasixGuest bool) (Status, string) {
	switch f.Module {
	case ModulePreview1, ModuleUnstable:
		if s, ok := preview1Status(f.Name); ok && !wasixGuest {
			return s.Status, s.Note
		}
	case ModuleWASIX32:
		if f.Generation == GenerationCurrent {
			if s, ok := wasixStatus(f.Name); ok {
				return s.Status, s.Note
			}
		}
	}
	return StatusDone, ""
}

// Stubbed lists the functions of a table whose status (for a guest of the
// given kind) is one of the stub statuses: ENOSYS, ENOTSUP or traps.
func Stubbed(fs []Func, wasixGuest bool) []Func {
	var out []Func
	for _, f := range fs {
		if s, _ := StatusOf(f, wasixGuest); !s.Implemented() {
			out = append(out, f)
		}
	}
	return out
}

// isStatus reports whether s names a status (for parsing docs).
func isStatus(s string) bool {
	switch Status(strings.TrimSpace(s)) {
	case StatusDone, StatusPartial, StatusENOSYS, StatusENOTSUP, StatusTraps:
		return true
	}
	return false
}
