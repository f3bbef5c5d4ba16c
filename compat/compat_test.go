package compat

import (
	"testing"

	"github.com/tetratelabs/wazero/api"
)

func TestTableSizes(t *testing.T) {
	if len(Preview1()) != 46 {
		t.Errorf("preview1 has %d functions, want 46", len(Preview1()))
	}
	if n := len(WASIX()) - len(Preview1()); n != 97 {
		t.Errorf("WASIX-only functions: %d, want 97", n)
	}
	seen := map[string]bool{}
	for _, f := range WASIX() {
		if seen[f.Name] {
			t.Errorf("duplicate wasix_32v1 function %s", f.Name)
		}
		seen[f.Name] = true
	}
}

func TestSignatures(t *testing.T) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	tests := []struct {
		module, name string
		want         string
	}{
		{ModulePreview1, "fd_write", "(i32,i32,i32,i32)->i32"},
		{ModulePreview1, "proc_exit", "(i32)->()"},
		{ModulePreview1, "sched_yield", "()->i32"},
		{ModulePreview1, "path_open", "(i32,i32,i32,i32,i32,i64,i64,i32,i32)->i32"},
		{ModulePreview1, "sock_accept", "(i32,i32,i32)->i32"},
		{ModuleWASIX32, "sock_accept", "(i32,i32,i32,i32)->i32"},
		{ModuleWASIX32, "epoll_wait", "(i32,i32,i32,i64,i32)->i32"},
		{ModuleWASIX32, "fd_event", "(i64,i32,i32)->i32"},
		{ModuleWASIX32, "proc_exit2", "(i32)->()"},
		{ModuleWASIX32, "stack_restore", "(i32,i64)->()"},
		{ModuleWASIX32, "proc_spawn2", "(i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32)->i32"},
		{ModuleWASIThreads, "thread-spawn", "(i32)->i32"},
		{ModuleWASIX32, "sock_send_msg", "(i32,i32,i32,i32,i32,i32,i32,i32)->i32"},
		{ModuleWASIX32, "sock_recv_msg", "(i32,i32,i32,i32,i32,i32,i32,i32,i32,i32)->i32"},
	}
	for _, tt := range tests {
		fs := Lookup(tt.module, tt.name)
		if len(fs) == 0 {
			t.Errorf("%s.%s not found", tt.module, tt.name)
			continue
		}
		if got := fs[0].Signature(); got != tt.want {
			t.Errorf("%s.%s = %s, want %s", tt.module, tt.name, got, tt.want)
		}
	}
	if _, ok := Find(ModuleWASIX32, "proc_join", []api.ValueType{i32, i32}, []api.ValueType{i32}); !ok {
		t.Error("two-argument proc_join (2022) not known")
	}
	if f, ok := Find(ModuleWASIX32, "thread_spawn", []api.ValueType{i64, i64, i64, i32, i32}, []api.ValueType{i32}); !ok || f.Generation != Generation2022 {
		t.Error("five-argument thread_spawn not known as 2022")
	}
}

func imp(module, name, sig string) Import {
	// sig uses the table letters: "ii:i".
	var p, r string
	for i := range sig {
		if sig[i] == ':' {
			p, r = sig[:i], sig[i+1:]
		}
	}
	if p == "" {
		p = "-"
	}
	if r == "" {
		r = "-"
	}
	return Import{Module: module, Name: name, Params: parseTypes(p), Results: parseTypes(r)}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		imports []Import
		want    string
		unknown int
		threads bool
	}{
		{"none", []Import{imp("env", "f", ":")}, "none", 0, false},
		{"preview1", []Import{imp(ModulePreview1, "fd_write", "iiii:i"), imp(ModulePreview1, "proc_exit", "i:")}, "preview1", 0, false},
		{"unstable", []Import{imp(ModuleUnstable, "fd_write", "iiii:i")}, "wasi_unstable", 0, false},
		{"wasix current", []Import{imp(ModulePreview1, "fd_write", "iiii:i"), imp(ModuleWASIX32, "epoll_create", "i:i")}, "wasix (current)", 0, false},
		{"wasix 2022", []Import{imp(ModuleWASIX32, "thread_local_create", "Ii:i")}, "wasix (2022)", 0, false},
		{"wasix threads", []Import{imp(ModuleWASIX32, "proc_exit2", "i:"), imp(ModuleWASIThreads, "thread-spawn", "i:i")}, "wasix (current) + wasi-threads", 0, true},
		{"wasix spawn v2", []Import{imp(ModuleWASIX32, "thread_spawn_v2", "ii:i")}, "wasix (current)", 0, true},
		{"wrong signature", []Import{imp(ModuleWASIX32, "epoll_create", "ii:i")}, "wasix (current)", 1, false},
		{"unknown name", []Import{imp(ModulePreview1, "nope", ":")}, "preview1", 1, false},
		{"wasix64", []Import{imp(ModuleWASIX64, "fd_dup", "iI:i")}, "wasix64 (current)", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Detect(tt.imports)
			if d.String() != tt.want {
				t.Errorf("Detect = %q, want %q", d, tt.want)
			}
			if len(d.Unknown) != tt.unknown {
				t.Errorf("unknown = %v, want %d", d.Unknown, tt.unknown)
			}
			if d.SpawnsThreads != tt.threads {
				t.Errorf("SpawnsThreads = %v", d.SpawnsThreads)
			}
		})
	}
}

// TestFindAgreesWithLookup: Find, which scans the tables without building
// Lookup's list, finds each form Lookup knows under the module asked for,
// and nothing for a signature or a name no table has.
func TestFindAgreesWithLookup(t *testing.T) {
	var tables []Func
	for _, f := range Preview1() {
		for _, m := range []string{ModulePreview1, ModuleUnstable} {
			f.Module = m
			tables = append(tables, f)
		}
	}
	tables = append(append(append(tables, WASIX()...), WASIX2022()...), ThreadSpawn)
	for _, want := range tables {
		got, ok := Find(want.Module, want.Name, want.Params, want.Results)
		if !ok {
			t.Errorf("Find(%s.%s%s) found nothing", want.Module, want.Name, want.Signature())
			continue
		}
		if got.Module != want.Module || got.Name != want.Name || got.Signature() != want.Signature() {
			t.Errorf("Find(%s.%s%s) = %s.%s%s", want.Module, want.Name, want.Signature(), got.Module, got.Name, got.Signature())
		}
		var first Func
		for _, f := range Lookup(want.Module, want.Name) {
			if f.Matches(want.Params, want.Results) {
				first = f
				break
			}
		}
		if first.Generation != got.Generation || first.Module != got.Module {
			t.Errorf("Find(%s.%s%s) and Lookup disagree: %+v, %+v", want.Module, want.Name, want.Signature(), got, first)
		}
		extra := append(append([]api.ValueType{}, want.Params...), api.ValueTypeF64)
		if _, ok := Find(want.Module, want.Name, extra, want.Results); ok {
			t.Errorf("Find(%s.%s) matched a signature with an extra f64 parameter", want.Module, want.Name)
		}
	}
	for _, m := range []string{ModulePreview1, ModuleUnstable, ModuleWASIX32, ModuleWASIThreads, "env"} {
		if _, ok := Find(m, "no_such_function", nil, nil); ok {
			t.Errorf("Find(%s.no_such_function) found something", m)
		}
	}
}
