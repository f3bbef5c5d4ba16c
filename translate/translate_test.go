package translate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/testrun"
	"github.com/wazix/wazix/internal/testtools"
	"github.com/wazix/wazix/internal/wasmbin"
)

const fixtureDir = "../fixtures/translate"

var fixtures sync.Map // name -> []byte

// fixture builds fixtures/translate/<name> (.wat with wabt, .c with clang,
// a directory with GOOS=wasip1 go build) once per test binary.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := fixtures.Load(name); ok {
		return b.([]byte)
	}
	path := filepath.Join(fixtureDir, name)
	var b []byte
	switch filepath.Ext(name) {
	case ".wat":
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b = testtools.Wat2Wasm(t, string(src))
	case ".c":
		b = testtools.Clang(t, path, fixtureDir)
	default:
		b = testtools.GoWasip1(t, path)
	}
	fixtures.Store(name, b)
	return b
}

// proof is one fixture and what it must do once translated.
type proof struct {
	fixture string
	opts    Options
	stdin   string
	// mounts are the preopened directories every host gets: guest path →
	// what to create in a fresh host directory ("name/" a directory, "name"
	// an empty file).
	mounts map[string][]string
	// doc is what the original prints under wazix today, kept as
	// documentation next to the fixture's source; the proof compares each
	// host with a fresh run of the original, not with this.
	doc testtools.Result
}

var proofs = []proof{
	{fixture: "signals.wat",
		doc: testtools.Result{Stdout: "signals ok 0\n", Exit: 7}},
	{fixture: "atomics.wat",
		doc: testtools.Result{Stdout: "atomics ok\n", Exit: 41}},
	{fixture: "indices.wat", doc: testtools.Result{Stdout: "1\n5\n7\n", Exit: 5}},
	{fixture: "epoll.c", stdin: "hello epoll\n", doc: testtools.Result{Exit: 0, Stdout: `create: 0
add stdin: 0
add again: 20
null event: 21
wait: 0 n=1 in=1 other=0 fd=0 data2=42
edge: 0 first=1 again=0 level=1
edge after MOD: 0 n=1
read: hello epoll
del unregistered: 44
del bad fd: 8
timer: 0 n=0 waited>=18ms: 1
wait on stdout: 28
close: 0
bad epfd: 8
`}},
	{fixture: "eventfd.c", doc: testtools.Result{Exit: 0, Stdout: `fd_event: 0
nonblock: 0
poll idle: 0 n=1 clock=1 waited>=9ms: 1
wake: 8
poll woken: 0 n=1 userdata=1 type=1 error=0
wake again: 8
drain: 8 value=3
drain empty: -1 errno=6
epoll add: 0
epoll idle: 0 n=0
epoll woken: 0 n=1 in=1 data2=7
epoll drain: 8 value=5
semaphore: 0 read=8 value=1 read=8 value=1 empty errno=6
short read: -1 errno=28
close: 0 write after close: -1 errno=8
`}},
	{fixture: "sigdeliver.wat", doc: testtools.Result{Exit: 0, Stdout: "raise 0 got 10\nraise 0 got 12\nself 0 got 10\n"}},
	{fixture: "abspath.c", mounts: map[string][]string{"/": {"sub/", "file"}}, doc: testtools.Result{Exit: 0, Stdout: `open /file: 0
open //file: 0
open /: 0
open file: 0
open /nope: 44
stat /sub: 0 dir=1
mkdir /made: 0
stat /made/: 0 dir=1
rename /made /moved: 0
rmdir /moved: 0
symlink file /link: 0
readlink /link: 0 file
link /file /hard: 0
unlink /link: 0 /hard: 0
`}},
	{fixture: "posix.c", mounts: map[string][]string{"/tmp": {"sub/", "file"}}, doc: testtools.Result{Exit: 3, Stdout: `signals: 0 count=0
dup: 0 distinct=1
written through the duplicate
close dup: 0
written through 9
renumber: 0 close 9: 0 close again: -1 errno=8
stderr now reaches stdout
renumber onto stderr: 0 close source: 0
getcwd size: 68 len=1
getcwd small: 68 len=1
cwd: /
close preopen: 0
chdir: 0 cwd: /tmp/sub
chdir missing: 44 file: 54 cwd: /tmp/sub
chdir ..: 0 cwd: /tmp
thread_id: 0 1
parallelism: 0 >=1: 1
sched_yield: 0
thread_sleep: 0 slept>=4ms: 1
futex changed: 0 woken=1
futex timeout: 0 woken=0
futex wake: 0 1
clock_time_set: 63
tty: 0 80x25
port_route_add: 58
`}},
	{fixture: "goepoll", stdin: "hello from go\n", mounts: map[string][]string{"/srv": {"www/"}}, doc: testtools.Result{Exit: 0, Stdout: `epoll: 0 0 20
wait: 0 1 1 0 7
read: hello from go
timer: 0 0 true
dup: 0 true
through the duplicate
cwd: 0 /srv/www
sleep: 0 true
futex: 0 0
`}},
	{fixture: "gowasix", doc: testtools.Result{Exit: 4, Stdout: "thread_id 0 1\nparallelism 0 true\nsignals 0 0\nsleep 0\nport_route_add 58\n"}},
}

// TestProof translates each fixture and checks that the result validates,
// imports nothing but preview1, and gives the same stdout and exit code as
// the original run under wazix (WASIX semantics), on every host available:
// the stock wazero CLI, Node's node:wasi, wazero as a library and wazix.
func TestProof(t *testing.T) {
	for _, p := range proofs {
		t.Run(p.fixture, func(t *testing.T) {
			if strings.HasPrefix(p.fixture, "go") && testing.Short() {
				t.Skip("builds a Go guest")
			}
			orig := fixture(t, p.fixture)
			out, rep, err := Translate(orig, p.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OutputBytes != len(out) {
				t.Errorf("report says %d output bytes, got %d", rep.OutputBytes, len(out))
			}
			checkPreview1Only(t, out)
			if p.fixture == "atomics.wat" && rep.AtomicsLowered != 8 {
				t.Errorf("atomics lowered: %d, want 8", rep.AtomicsLowered)
			}
			if p.fixture == "goepoll" && !strings.Contains(rep.Region, "fixed at 0x1000") {
				t.Errorf("Go module: region %q, want the fixed low area", rep.Region)
			}
			mounts := makeMounts(t, p.mounts)
			want := runWazix(t, orig, p.stdin, mounts...)
			if want != p.doc {
				t.Errorf("the original under wazix no longer prints what the table documents:\n%s(exit %d)\ndocumented:\n%s(exit %d)",
					want.Stdout, want.Exit, p.doc.Stdout, p.doc.Exit)
			}
			provePreview1Hosts(t, out, p.stdin, mounts, want)
		})
	}
}

// makeMounts creates one host directory per guest path, with the entries
// asked for.
func makeMounts(t *testing.T, spec map[string][]string) []testtools.Mount {
	t.Helper()
	var mounts []testtools.Mount
	for guest, entries := range spec {
		dir := t.TempDir()
		for _, e := range entries {
			p := filepath.Join(dir, strings.TrimSuffix(e, "/"))
			var err error
			if strings.HasSuffix(e, "/") {
				err = os.MkdirAll(p, 0o755)
			} else {
				err = os.WriteFile(p, nil, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		mounts = append(mounts, testtools.Mount{Host: dir, Guest: guest})
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Guest < mounts[j].Guest })
	return mounts
}

// provePreview1Hosts checks a translated module against want, the result
// of the original module under wazix, on every available host.
func provePreview1Hosts(t *testing.T, wasm []byte, stdin string, mounts []testtools.Mount, want testtools.Result) {
	t.Helper()
	t.Run("wasm-validate", func(t *testing.T) { testtools.Validate(t, wasm) })
	hosts := []struct {
		name string
		run  func(testing.TB, []byte, string, ...testtools.Mount) testtools.Result
	}{
		{"wazero", testtools.RunWazero},
		{"node", testtools.RunNode},
		{"wazero-library", runWazeroLibrary}, // needs no tool: runs even where the CLIs are absent
		{"wazix", runWazix},
	}
	for _, h := range hosts {
		t.Run(h.name, func(t *testing.T) {
			got := h.run(t, wasm, stdin, mounts...)
			if got.Stdout != want.Stdout {
				t.Errorf("stdout:\n%s\nwant (the original under wazix):\n%s", got.Stdout, want.Stdout)
			}
			if got.Exit != want.Exit {
				t.Errorf("exit code %d, want %d (the original under wazix)", got.Exit, want.Exit)
			}
		})
	}
}

// runWazix runs a module in process under wazix (WASIX semantics for a
// WASIX module, preview1 for a translated one), with stdin as a pipe, as
// `wazix run` gets it from a shell pipeline.
func runWazix(t testing.TB, wasm []byte, stdin string, mounts ...testtools.Mount) testtools.Result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString(stdin); err != nil { // fixtures' stdin fits the pipe buffer
		t.Fatal(err)
	}
	w.Close()
	o := testrun.Options{Stdin: r}
	for _, m := range mounts {
		o.Dirs = append(o.Dirs, [2]string{m.Host, m.Guest})
	}
	res := testrun.Run(t, wasm, o)
	if res.Err != nil {
		t.Fatalf("wazix: %v\nstdout:\n%s", res.Err, res.Stdout)
	}
	if res.Stderr != "" {
		t.Logf("wazix stderr:\n%s", res.Stderr)
	}
	return testtools.Result{Stdout: res.Stdout, Exit: int(res.Code)}
}

func checkPreview1Only(t *testing.T, wasm []byte) {
	t.Helper()
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range in.Imports {
		if im.Kind == wasmbin.KindFunc && im.Module != compat.ModulePreview1 {
			t.Errorf("output still imports %s.%s", im.Module, im.Name)
		}
		if im.Kind == wasmbin.KindFunc {
			ft := in.Types[im.TypeIndex]
			if _, ok := compat.Find(im.Module, im.Name, toAPI(ft.Params), toAPI(ft.Results)); !ok {
				t.Errorf("output imports %s.%s with a signature preview1 does not have", im.Module, im.Name)
			}
		}
	}
	if _, ok := exportedMemory(in); !ok {
		t.Error("output does not export its memory")
	}
}

func exportedMemory(in *wasmbin.Info) (uint32, bool) {
	for _, e := range in.Exports {
		if e.Kind == wasmbin.KindMemory && e.Name == "memory" {
			return e.Index, true
		}
	}
	return 0, false
}

func TestReportActions(t *testing.T) {
	_, rep, err := Translate(fixture(t, "posix.c"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		"wasix_32v1.fd_dup":                    ActionEmulated,
		"wasix_32v1.getcwd":                    ActionEmulated,
		"wasix_32v1.sched_yield":               ActionPreview1,
		"wasix_32v1.port_route_add":            ActionStub,
		"wasix_32v1.proc_exit2":                ActionEmulated,
		"wasi_snapshot_preview1.fd_write":      ActionWrapped, // fds may be aliases from fd_dup
		"wasi_snapshot_preview1.fd_close":      ActionWrapped,
		"wasix_32v1.clock_time_get":            ActionPreview1,
		"wasi_snapshot_preview1.fd_fdstat_get": ActionWrapped,
		"wasi_snapshot_preview1.fd_renumber":   ActionEmulated, // dup2 in a WASIX module
	}
	got := map[string]ImportReport{}
	for _, im := range rep.Imports {
		got[im.Module+"."+im.Name] = im
	}
	// Whether libc's exit path (and so preview1's proc_exit) is linked
	// depends on the toolchain; when it is, it is kept as it is.
	if im, ok := got["wasi_snapshot_preview1.proc_exit"]; ok && im.Action != ActionKeep {
		t.Errorf("wasi_snapshot_preview1.proc_exit: action %q, want %q", im.Action, ActionKeep)
	}
	for name, action := range want {
		if got[name].Action != action {
			t.Errorf("%s: action %q, want %q", name, got[name].Action, action)
		}
	}
	if got["wasix_32v1.port_route_add"].Stub != "errno 58" {
		t.Errorf("port_route_add stub = %q", got["wasix_32v1.port_route_add"].Stub)
	}
	if got["wasix_32v1.sched_yield"].Target != "wasi_snapshot_preview1.sched_yield" {
		t.Errorf("sched_yield target = %q", got["wasix_32v1.sched_yield"].Target)
	}
	if len(rep.Stubbed) != 1 || rep.Stubbed[0] != "wasix_32v1.port_route_add" {
		t.Errorf("stubbed = %v", rep.Stubbed)
	}
	if !rep.AdapterRegion {
		t.Error("posix.c uses getcwd and fd_dup, which need the adapter region")
	}
}

func TestStrict(t *testing.T) {
	_, _, err := Translate(fixture(t, "posix.c"), Options{Strict: true})
	if !errors.Is(err, ErrStrict) || !strings.Contains(err.Error(), "wasix_32v1.port_route_add") {
		t.Fatalf("err = %v, want ErrStrict naming port_route_add", err)
	}
	if _, _, err := Translate(fixture(t, "signals.wat"), Options{Strict: true}); err != nil {
		t.Fatalf("signals.wat needs no stub, but strict failed: %v", err)
	}
}

func TestMemory(t *testing.T) {
	t.Run("shared import kept", func(t *testing.T) {
		out, rep, err := Translate(fixture(t, "signals.wat"), Options{KeepSharedMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.AtomicsLowered != 0 {
			t.Errorf("--keep-shared-memory lowered %d atomics", rep.AtomicsLowered)
		}
		in := decode(t, out)
		var mem *wasmbin.Import
		for i := range in.Imports {
			if in.Imports[i].Kind == wasmbin.KindMemory {
				mem = &in.Imports[i]
			}
		}
		if mem == nil || mem.Module != "env" || mem.Name != "memory" || !mem.Limits.Shared {
			t.Fatalf("env.memory import not kept as shared: %+v", mem)
		}
		if len(rep.Warnings) == 0 {
			t.Error("no warning about the shared memory import")
		}
		if _, ok := exportedMemory(in); !ok {
			t.Error("imported memory is not exported as memory")
		}
		testtools.Validate(t, out)
	})
	t.Run("unshared by default", func(t *testing.T) {
		def, rep, err := Translate(fixture(t, "signals.wat"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.MemoryReason, "spawns no threads") {
			t.Errorf("memory reason %q does not say why", rep.MemoryReason)
		}
		out, _, err := Translate(fixture(t, "signals.wat"), Options{UnshareMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(def, out) {
			t.Error("--unshare-memory is not the same as the default")
		}
		if _, _, err := Translate(fixture(t, "signals.wat"), Options{UnshareMemory: true, KeepSharedMemory: true}); err == nil {
			t.Error("both memory options accepted")
		}
		in := decode(t, out)
		// 16 pages and one for the adapter region (callback_signal keeps
		// whether __wasm_signal is registered there)
		if len(in.Memories) != 1 || in.Memories[0].Shared || in.Memories[0].Min != 1 || in.Memories[0].Max != 17 {
			t.Fatalf("memories = %+v, want one defined non-shared memory 1..17", in.Memories)
		}
		for _, im := range in.Imports {
			if im.Kind == wasmbin.KindMemory {
				t.Errorf("memory still imported: %s.%s", im.Module, im.Name)
			}
		}
	})
	t.Run("threads refuse unshare", func(t *testing.T) {
		_, _, err := Translate(fixture(t, "threads.wat"), Options{UnshareMemory: true})
		if err == nil || !strings.Contains(err.Error(), "spawn threads") {
			t.Fatalf("err = %v, want a refusal because of threads", err)
		}
		out, rep, err := Translate(fixture(t, "threads.wat"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]ImportReport{}
		for _, im := range rep.Imports {
			got[im.Module+"."+im.Name] = im
		}
		if a := got["wasi.thread-spawn"].Action; a != ActionEmulated {
			t.Errorf("wasi.thread-spawn: %q, want emulated (a spawn adapter)", a)
		}
		if !strings.Contains(rep.Threads, "wasi.thread-spawn") || !strings.Contains(rep.MemoryReason, "spawns threads") {
			t.Errorf("report does not say why: threads %q, memory %q", rep.Threads, rep.MemoryReason)
		}
		in := decode(t, out)
		spawnImported, memShared := false, false
		for _, im := range in.Imports {
			spawnImported = spawnImported || im.Module == "wasi" && im.Name == "thread-spawn"
			memShared = memShared || im.Kind == wasmbin.KindMemory && im.Limits.Shared
		}
		if !spawnImported || !memShared {
			t.Errorf("output must import wasi.thread-spawn (%v) and a shared memory (%v)", spawnImported, memShared)
		}
		testtools.Validate(t, out)
	})
	t.Run("threads without an entry", func(t *testing.T) {
		wasm := testtools.Wat2Wasm(t, `(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasix_32v1" "thread_spawn_v2" (func $spawn2 (param i32 i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "_start") (drop (call $spawn (i32.const 0))) (drop (call $spawn2 (i32.const 0) (i32.const 0)))))`)
		_, rep, err := Translate(wasm, Options{})
		if err != nil {
			t.Fatal(err)
		}
		stubs := map[string]string{}
		for _, im := range rep.Imports {
			stubs[im.Name] = im.Stub
		}
		if stubs["thread-spawn"] != "returns -6" || stubs["thread_spawn_v2"] != "errno 76" {
			t.Errorf("stubs = %v, want -6 for wasi.thread-spawn and ENOTCAPABLE for thread_spawn_v2", stubs)
		}
		if !strings.Contains(rep.Threads, "exports no wasi_thread_start") {
			t.Errorf("threads reason %q", rep.Threads)
		}
	})
}

func decode(t *testing.T, wasm []byte) *wasmbin.Info {
	t.Helper()
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestExportedImportFollows calls, in process, an export that named an
// emulated import: after translation it must reach the adapter.
func TestExportedImportFollows(t *testing.T) {
	out, _, err := Translate(fixture(t, "indices.wat"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction("thread_id").Call(ctx, 300)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := mod.Memory().ReadUint32Le(300)
	if res[0] != 0 || v != 1 {
		t.Errorf("thread_id export: errno %d, tid %d; want 0, 1", res[0], v)
	}
}

// TestPreview1Unchanged: a module with nothing to translate keeps its
// imports and code; only the memory export may be added.
func TestPreview1Unchanged(t *testing.T) {
	src := `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 0))))`
	in := testtools.Wat2Wasm(t, src)
	out, rep, err := Translate(in, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(in) {
		t.Error("a preview1-only module was changed")
	}
	if len(rep.Adapters) != 0 || len(rep.Stubbed) != 0 {
		t.Errorf("report: adapters %v stubbed %v", rep.Adapters, rep.Stubbed)
	}
}

// TestGoPreview1Unchanged: the same for a Go program, whose linker pads
// LEB128 sizes, so any re-encoding would show.
func TestGoPreview1Unchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hi\n\ngo 1.21\n"), 0o644)
	in := testtools.GoWasip1(t, dir)
	out, _, err := Translate(in, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) {
		t.Error("a preview1-only Go module was changed")
	}
}

// TestNoMemory: adapters that touch no memory work in a module without one;
// the others are refused with a clear error.
func TestNoMemory(t *testing.T) {
	build := func(name, sig string) []byte {
		m := &wasmbin.Module{}
		params, results, _ := strings.Cut(sig, ":")
		ft := wasmbin.FuncType{}
		for range params {
			ft.Params = append(ft.Params, wasmbin.I32)
		}
		for range results {
			ft.Results = append(ft.Results, wasmbin.I32)
		}
		m.SetSection(wasmbin.SecType, wasmbin.AppendFuncType(wasmbin.AppendU32(nil, 1), ft))
		m.SetSection(wasmbin.SecImport, wasmbin.EncodeImports([]wasmbin.Import{{Module: "wasix_32v1", Name: name, Kind: wasmbin.KindFunc}}))
		m.SetSection(wasmbin.SecExport, wasmbin.AppendExport(wasmbin.AppendU32(nil, 1), wasmbin.Export{Name: "f", Kind: wasmbin.KindFunc}))
		return m.Encode()
	}
	if _, _, err := Translate(build("proc_exit2", "i:"), Options{}); err != nil {
		t.Errorf("proc_exit2 without memory: %v", err)
	}
	if _, _, err := Translate(build("fd_close", "i:i"), Options{}); err != nil {
		t.Errorf("fd_close without memory: %v", err)
	}
	if _, _, err := Translate(build("sock_open", "iiii:i"), Options{}); err != nil {
		t.Errorf("a stub without memory: %v", err)
	}
	// sendmsg/recvmsg: known, stubbed with ENOSYS like the other WASIX-only socket calls.
	for _, c := range [][2]string{{"sock_send_msg", "iiiiiiii:i"}, {"sock_recv_msg", "iiiiiiiiii:i"}} {
		_, rep, err := Translate(build(c[0], c[1]), Options{})
		if err != nil || len(rep.Imports) != 1 || rep.Imports[0].Action != ActionStub || rep.Imports[0].Stub != "errno 52" {
			t.Errorf("%s: err %v report %+v", c[0], err, rep)
		}
	}
	if _, _, err := Translate(build("thread_id", "i:i"), Options{}); err == nil || !strings.Contains(err.Error(), "no memory") {
		t.Errorf("thread_id without memory: err = %v, want a refusal", err)
	}
}

func TestHostileInputNeverPanics(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("\x00asm\x01\x00\x00\x00\x02\xff\xff\xff\xff\x0f"), []byte("junk")} {
		if _, _, err := Translate(in, Options{}); err == nil {
			t.Errorf("Translate(%q) succeeded", in)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	// Seeds: the WAT fixtures, compiled when wabt is installed.
	if testtools.Find("wat2wasm") != "" {
		for _, name := range []string{"signals.wat", "indices.wat", "threads.wat"} {
			f.Add(fixture(f, name))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := Translate(b, Options{})
		if err != nil {
			return
		}
		if _, err := wasmbin.Parse(out); err != nil {
			t.Fatalf("output does not parse: %v", err)
		}
	})
}

func TestGoRegionFree(t *testing.T) {
	mem := &wasmbin.Limits{Min: 1}
	seg := func(off, size uint32) wasmbin.DataSegment {
		return wasmbin.DataSegment{Active: true, Offset: off, OffsetKnown: true, Size: size}
	}
	tests := []struct {
		name string
		data []wasmbin.DataSegment
		mem  *wasmbin.Limits
		want bool
	}{
		{"Go layout: data from 12288", []wasmbin.DataSegment{seg(12288, 100)}, mem, true},
		{"data inside the area", []wasmbin.DataSegment{seg(5000, 10)}, mem, false},
		{"data ending inside", []wasmbin.DataSegment{seg(0, 4100)}, mem, false},
		{"passive data is fine", []wasmbin.DataSegment{{Active: false, Size: 1 << 20}}, mem, true},
		{"unknown offset", []wasmbin.DataSegment{{Active: true}}, mem, false},
		{"no memory", nil, nil, false},
	}
	for _, tt := range tests {
		if got := goRegionFree(&wasmbin.Info{Data: tt.data}, tt.mem); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if goLayout.fixedBase+goLayout.size > 4096+8192 {
		t.Errorf("goLayout needs %d bytes, more than the 8 KiB Go leaves free", goLayout.size)
	}
	if grownLayout.size > regionPages*65536 {
		t.Errorf("grownLayout needs %d bytes, more than %d pages", grownLayout.size, regionPages)
	}
}

// runWazeroLibrary runs a preview1 module in process with wazero's own
// preview1 implementation and real clocks.
func runWazeroLibrary(t testing.TB, wasm []byte, stdin string, mounts ...testtools.Mount) testtools.Result {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var stdout bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStdin(strings.NewReader(stdin)).WithStdout(&stdout).
		WithSysNanotime().WithSysNanosleep().WithSysWalltime().WithArgs("guest")
	fsc := wazero.NewFSConfig()
	for _, m := range mounts {
		fsc = fsc.WithDirMount(m.Host, m.Guest)
	}
	cfg = cfg.WithFSConfig(fsc)
	_, err := rt.InstantiateWithConfig(ctx, wasm, cfg)
	res := testtools.Result{Stdout: stdout.String()}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		res.Exit = int(exit.ExitCode())
	case err != nil:
		t.Fatalf("wazero: %v", err)
	}
	return res
}

// TestWASIXFdRenumberIsDup2: wasix_32v1.fd_renumber (and the preview1 one
// in a WASIX module) becomes the dup2 adapter; in a preview1 module the
// import stays.
func TestWASIXFdRenumberIsDup2(t *testing.T) {
	if a := Classify("wasix_32v1", "fd_renumber", []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}); a != ActionEmulated {
		t.Errorf("Classify(wasix_32v1.fd_renumber) = %q, want emulated", a)
	}
	for _, module := range []string{"wasix_32v1", "wasi_snapshot_preview1"} {
		src := `(module
  (import "` + module + `" "fd_renumber" (func $renumber (param i32 i32) (result i32)))
  (import "wasix_32v1" "thread_id" (func $tid (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $renumber (i32.const 1) (i32.const 9))) (drop (call $tid (i32.const 0)))))`
		out, rep, err := Translate(testtools.Wat2Wasm(t, src), Options{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range rep.Imports {
			if im.Name == "fd_renumber" && im.Action != ActionEmulated {
				t.Errorf("%s.fd_renumber: %q, want emulated", module, im.Action)
			}
		}
		for _, im := range decode(t, out).Imports {
			if im.Name == "fd_renumber" {
				t.Errorf("%s: output still imports fd_renumber", module)
			}
		}
		testtools.Validate(t, out)
	}
}
