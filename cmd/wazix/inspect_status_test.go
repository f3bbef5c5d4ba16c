package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

// TestInspectStatus: inspect reports each import's real status from the
// compat table, for the flavour of the module that imports it.
func TestInspectStatus(t *testing.T) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	sig := func(module, name string, params []api.ValueType, results ...api.ValueType) wasmgen.Import {
		return wasmgen.Import{Module: module, Name: name, Params: params, Results: results}
	}
	from := func(fs []compat.Func, name string) wasmgen.Import {
		for _, f := range fs {
			if f.Name == name {
				return wasmgen.Import{Module: f.Module, Name: f.Name, Params: f.Params, Results: f.Results}
			}
		}
		t.Fatalf("%s not in the table", name)
		return wasmgen.Import{}
	}
	tests := []struct {
		name    string
		imports []wasmgen.Import
		want    map[string]string // module.name -> status
	}{
		{"wasix", []wasmgen.Import{
			from(compat.Preview1(), "fd_write"),
			from(compat.Preview1(), "proc_raise"), // delivers signals to a WASIX guest
			from(compat.WASIX(), "context_create"),
			from(compat.WASIX(), "proc_spawn"),
			from(compat.WASIX(), "proc_fork"),
			from(compat.WASIX(), "port_mac"),
			from(compat.WASIX(), "epoll_wait"),
			from(compat.WASIX(), "sock_recv_msg"),
			from(compat.WASIX(), "dlopen"),
			sig("wasix_32v1", "epoll_create", []api.ValueType{i64}, i32), // wrong signature
			sig("wasix_32v1", "no_such_call", nil, i32),
			sig("env", "helper", nil),
		}, map[string]string{
			"wasi_snapshot_preview1.fd_write":   "done",
			"wasi_snapshot_preview1.proc_raise": "done",
			"wasix_32v1.context_create":         "ENOSYS",
			"wasix_32v1.proc_spawn":             "ENOSYS",
			"wasix_32v1.proc_fork":              "done",
			"wasix_32v1.port_mac":               "ENOTSUP",
			"wasix_32v1.epoll_wait":             "done",
			"wasix_32v1.sock_recv_msg":          "done",
			"wasix_32v1.dlopen":                 "ENOSYS",
			"wasix_32v1.epoll_create":           "unsupported",
			"wasix_32v1.no_such_call":           "unsupported",
			"env.helper":                        "host",
		}},
		{"preview1", []wasmgen.Import{
			from(compat.Preview1(), "proc_raise"),
			from(compat.Preview1(), "fd_allocate"),
			from(compat.Preview1(), "path_open"),
		}, map[string]string{
			"wasi_snapshot_preview1.proc_raise":  "ENOSYS",
			"wasi_snapshot_preview1.fd_allocate": "partial",
			"wasi_snapshot_preview1.path_open":   "done",
		}},
		{"unstable and 2022", []wasmgen.Import{
			sig("wasi_unstable", "fd_write", []api.ValueType{i32, i32, i32, i32}, i32),
			sig("wasix_32v1", "thread_local_create", []api.ValueType{i64, i32}, i32),
			sig("wasix_32v1", "proc_join", []api.ValueType{i32, i32}, i32),
		}, map[string]string{
			"wasi_unstable.fd_write":         "done",
			"wasix_32v1.thread_local_create": "done",
			"wasix_32v1.proc_join":           "done",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := inspectModule(wasmgen.Caller(tt.imports, wasmgen.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, im := range ins.Imports {
				got[im.Module+"."+im.Name] = im.Status
				if (im.Status == "ENOSYS" || im.Status == "traps") && im.Note == "" {
					t.Errorf("%s.%s: %s without a note", im.Module, im.Name, im.Status)
				}
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s: status %q, want %q", k, got[k], want)
				}
			}
		})
	}
	// The text output shows the status and why.
	p := filepath.Join(t.TempDir(), "m.wasm")
	os.WriteFile(p, wasmgen.Caller([]wasmgen.Import{from(compat.WASIX(), "context_create")}, wasmgen.Options{}), 0o644)
	out, errOut, code := runWazixCLI(t, "inspect", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "ENOSYS (green threads are not supported)") || strings.Contains(out, "native") {
		t.Errorf("text output:\n%s", out)
	}
}
