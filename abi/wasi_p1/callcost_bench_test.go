package wasi_p1_test

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wazero_wasi "github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

// Issue 13: each preview1 call through wazix's host and through wazero's
// own imports/wasi_snapshot_preview1, side by side in one process, on the
// same runtime configuration and the same guest. The guest loops over the
// host call itself (wasmgen.Options.Loop), so a figure is the cost of one
// wasm→host call, without a Go→wasm call around each one. scripts/callcost.sh
// runs these and prints the wazix/wazero ratios.

// callEnv is what one benchmark gives the guest, whichever host serves it.
type callEnv struct {
	dir    string // preopened as "/" (fd 3) when set
	args   []string
	stdin  io.Reader
	stdout io.Writer
}

// callHosts are the two hosts compared; each instantiates the guest wasm
// with env and returns it with its cleanup.
var callHosts = []struct {
	name  string
	guest func(b *testing.B, rt wazero.Runtime, c wazero.CompiledModule, env callEnv) (api.Module, func())
}{
	{"wazix", func(b *testing.B, rt wazero.Runtime, c wazero.CompiledModule, env callEnv) (api.Module, func()) {
		ctx := context.Background()
		h, err := wazixConfig(env).Instantiate(ctx, rt)
		if err != nil {
			b.Fatal(err)
		}
		m, err := h.InstantiateModule(ctx, rt, c, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			b.Fatal(err)
		}
		return m, func() { h.Close(ctx) }
	}},
	{"wazero", func(b *testing.B, rt wazero.Runtime, c wazero.CompiledModule, env callEnv) (api.Module, func()) {
		ctx := context.Background()
		wasi, err := wazero_wasi.Instantiate(ctx, rt)
		if err != nil {
			b.Fatal(err)
		}
		m, err := rt.InstantiateModule(ctx, c, wazeroConfig(env).WithStartFunctions())
		if err != nil {
			b.Fatal(err)
		}
		return m, func() { m.Close(ctx); wasi.Close(ctx) }
	}},
}

func wazixConfig(env callEnv) *wazix.Config {
	cfg := wazix.NewConfig().WithArgs(env.args...).WithStdout(io.Discard)
	if env.stdin != nil {
		cfg.WithStdin(env.stdin)
	}
	if env.stdout != nil {
		cfg.WithStdout(env.stdout)
	}
	if env.dir != "" {
		cfg.WithDir(env.dir, "/")
	}
	return cfg
}

// wazeroConfig is configured as the wazero CLI configures a guest: real
// clocks, sleep and random source (its defaults are fakes).
func wazeroConfig(env callEnv) wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(env.args...).WithStdout(io.Discard).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	if env.stdin != nil {
		cfg = cfg.WithStdin(env.stdin)
	}
	if env.stdout != nil {
		cfg = cfg.WithStdout(env.stdout)
	}
	if env.dir != "" {
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().WithDirMount(env.dir, "/"))
	}
	return cfg
}

// loopModule is the caller module with loop exports, plus "open_close",
// which path_opens and fd_closes a file n times (see openCloseFunc).
func loopModule() []byte {
	ims := make([]wasmgen.Import, len(compat.Preview1()))
	for i, f := range compat.Preview1() {
		ims[i] = wasmgen.Import{Module: f.Module, Name: f.Name, Params: f.Params, Results: f.Results}
	}
	return wasmgen.Caller(ims, wasmgen.Options{Loop: true})
}

// openCloseModule exports open_close(n, dirfd, path, path_len, rights: i64,
// fd_ptr) -> errno: n times path_open(dirfd, 0, path, path_len, 0, rights,
// 0, 0, fd_ptr) then fd_close(*fd_ptr); it returns the first errno.
func openCloseModule() []byte {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	sig := func(params ...api.ValueType) []byte {
		b := append([]byte{0x60}, wasmgen.ULEB(uint64(len(params)))...)
		return append(append(b, params...), 0x01, i32)
	}
	var types []byte
	types = append(types, 0x04)
	types = append(types, sig(i32, i32, i32, i32, i32, i64, i64, i32, i32)...) // path_open
	types = append(types, sig(i32)...)                                         // fd_close
	types = append(types, sig(i32, i32, i32, i32, i64, i32)...)                // open_close
	types = append(types, 0x60, 0x00, 0x00)                                    // _start
	var imps []byte
	imps = append(imps, 0x02)
	for i, name := range []string{"path_open", "fd_close"} {
		imps = append(imps, wasmgen.Name("wasi_snapshot_preview1")...)
		imps = append(imps, wasmgen.Name(name)...)
		imps = append(imps, 0x00, byte(i))
	}
	const r = 6                                               // the result local
	check := []byte{0x22, r, 0x04, 0x40, 0x20, r, 0x0f, 0x0b} // local.tee r; if; return r; end
	body := []byte{0x01, 0x01, i32, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01}
	body = append(body, 0x20, 1, 0x41, 0, 0x20, 2, 0x20, 3, 0x41, 0, 0x20, 4, 0x42, 0, 0x41, 0, 0x20, 5, 0x10, 0)
	body = append(body, check...)
	body = append(body, 0x20, 5, 0x28, 0x02, 0x00, 0x10, 1) // i32.load fd_ptr; fd_close
	body = append(body, check...)
	body = append(body, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x00, 0x0b)
	code := append([]byte{0x02}, wasmgen.ULEB(uint64(len(body)))...)
	code = append(code, body...)
	code = append(code, 0x02, 0x00, 0x0b) // _start
	var exps []byte
	exps = append(exps, 0x03)
	exps = append(exps, wasmgen.Name("open_close")...)
	exps = append(exps, 0x00, 2)
	exps = append(exps, wasmgen.Name("_start")...)
	exps = append(exps, 0x00, 3)
	exps = append(exps, wasmgen.Name("memory")...)
	exps = append(exps, 0x02, 0x00)
	mod := []byte("\x00asm\x01\x00\x00\x00")
	mod = append(mod, wasmgen.Section(1, types)...)
	mod = append(mod, wasmgen.Section(2, imps)...)
	mod = append(mod, wasmgen.Section(3, []byte{0x02, 0x02, 0x03})...)
	mod = append(mod, wasmgen.Section(5, []byte{0x01, 0x00, 0x01})...)
	mod = append(mod, wasmgen.Section(7, exps)...)
	mod = append(mod, wasmgen.Section(10, code)...)
	return mod
}

// callCase is one host call measured: setup prepares the environment and,
// once the guest exists, its memory; fn and args are the loop export called.
type callCase struct {
	name  string
	fn    string
	env   func(b *testing.B) callEnv
	setup func(b *testing.B, m api.Module) []uint64 // the loop's arguments after n
	wasm  func() []byte                             // loopModule unless set
}

// BenchmarkCallCost is issue 13's side-by-side table: Case/wazix and
// Case/wazero in turn, each per host call.
func BenchmarkCallCost(b *testing.B) {
	for _, c := range callCases {
		b.Run(c.name, func(b *testing.B) {
			for _, h := range callHosts {
				b.Run(h.name, func(b *testing.B) { runCallCase(b, c, h.guest) })
			}
		})
	}
}

func runCallCase(b *testing.B, c callCase, guest func(*testing.B, wazero.Runtime, wazero.CompiledModule, callEnv) (api.Module, func())) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	defer rt.Close(ctx)
	wasm := loopModule
	if c.wasm != nil {
		wasm = c.wasm
	}
	compiled, err := rt.CompileModule(ctx, wasm())
	if err != nil {
		b.Fatal(err)
	}
	env := callEnv{}
	if c.env != nil {
		env = c.env(b)
	}
	m, done := guest(b, rt, compiled, env)
	defer done()
	args := c.setup(b, m)
	fn := m.ExportedFunction(c.fn)
	if fn == nil {
		b.Fatalf("no export %s", c.fn)
	}
	params := append([]uint64{0}, args...)
	// Calls from Go in batches, so that the Go→wasm call is amortised.
	const batch = 1000
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(b.N-done, batch)
		params[0] = uint64(k)
		res, err := fn.Call(ctx, params...)
		if err != nil || res[0] != 0 {
			b.Fatalf("%s: errno %v, %v", c.fn, res, err)
		}
		done += k
	}
	b.StopTimer()
}

const p1 = "loop_wasi_snapshot_preview1_"

// openFile path_opens name under the preopen (fd 3) with rights and returns
// the new fd; the guest's memory at 1024 holds the path.
func openFile(b *testing.B, m api.Module, name string, oflags uint64, rights uint64) uint64 {
	m.Memory().Write(1024, []byte(name))
	res, err := m.ExportedFunction("call_wasi_snapshot_preview1_path_open").Call(context.Background(),
		3, 0, 1024, uint64(len(name)), oflags, rights, 0, 0, 2048)
	if err != nil || res[0] != 0 {
		b.Fatalf("path_open %s: %v %v", name, res, err)
	}
	fd, _ := m.Memory().ReadUint32Le(2048)
	return uint64(fd)
}

// oneByteIovec writes an iovec of one byte at 0 (buffer at 16).
func oneByteIovec(m api.Module) {
	m.Memory().WriteUint32Le(0, 16)
	m.Memory().WriteUint32Le(4, 1)
}

const (
	rightFdRead  = 1 << 1
	rightFdWrite = 1 << 6
)

// pipeEnv connects the guest's stdin or stdout to a pipe that a goroutine
// keeps full (stdin) or drains (stdout), so that 1-byte calls never block.
func pipeEnv(b *testing.B, stdin bool) callEnv {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(); w.Close() })
	buf := make([]byte, 64<<10)
	if stdin {
		go func() {
			for {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}()
		return callEnv{stdin: r}
	}
	go func() {
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	return callEnv{stdout: w}
}

func dirEnv(b *testing.B) callEnv { return callEnv{dir: b.TempDir()} }

// fileEnv preopens a new directory holding name, size bytes long.
func fileEnv(b *testing.B, name string, size int64) callEnv {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, name), size); err != nil {
		b.Fatal(err)
	}
	return callEnv{dir: dir}
}

var callCases = []callCase{
	{name: "clock_time_get", fn: p1 + "clock_time_get",
		setup: func(*testing.B, api.Module) []uint64 { return []uint64{1, 0, 0} }},
	{name: "fd_write/file", fn: p1 + "fd_write", env: dirEnv,
		setup: func(b *testing.B, m api.Module) []uint64 {
			oneByteIovec(m)
			return []uint64{openFile(b, m, "w", 1 /* creat */, rightFdWrite), 0, 1, 8}
		}},
	{name: "fd_read/file", fn: p1 + "fd_read",
		env: func(b *testing.B) callEnv {
			// A sparse file of b.N bytes: every 1-byte read gets a byte.
			return fileEnv(b, "r", int64(b.N)+1)
		},
		setup: func(b *testing.B, m api.Module) []uint64 {
			oneByteIovec(m)
			return []uint64{openFile(b, m, "r", 0, rightFdRead), 0, 1, 8}
		}},
	{name: "fd_write/pipe", fn: p1 + "fd_write", env: func(b *testing.B) callEnv { return pipeEnv(b, false) },
		setup: func(b *testing.B, m api.Module) []uint64 { oneByteIovec(m); return []uint64{1, 0, 1, 8} }},
	{name: "fd_read/pipe", fn: p1 + "fd_read", env: func(b *testing.B) callEnv { return pipeEnv(b, true) },
		setup: func(b *testing.B, m api.Module) []uint64 { oneByteIovec(m); return []uint64{0, 0, 1, 8} }},
	{name: "poll_oneoff/timer", fn: p1 + "poll_oneoff",
		setup: func(b *testing.B, m api.Module) []uint64 {
			writeSub(m.Memory(), 0, 1, 0, 0, 0) // monotonic, relative, due now
			return []uint64{0, 4096, 1, 8192}
		}},
	{name: "poll_oneoff/fd", fn: p1 + "poll_oneoff",
		env: func(b *testing.B) callEnv { return pipeEnv(b, true) }, // stdin always readable
		setup: func(b *testing.B, m api.Module) []uint64 {
			writeSub(m.Memory(), 0, 1, 1, 0, 0) // fd_read on stdin
			return []uint64{0, 4096, 1, 8192}
		}},
	{name: "path_open+fd_close", fn: "open_close", wasm: openCloseModule,
		env: func(b *testing.B) callEnv { return fileEnv(b, "x", 0) },
		setup: func(b *testing.B, m api.Module) []uint64 {
			m.Memory().Write(1024, []byte("x"))
			return []uint64{3, 1024, 1, rightFdRead, 2048}
		}},
	{name: "random_get", fn: p1 + "random_get",
		setup: func(*testing.B, api.Module) []uint64 { return []uint64{64, 16} }},
	{name: "args_get", fn: p1 + "args_get",
		env:   func(*testing.B) callEnv { return callEnv{args: []string{"prog", "-v", "input.txt"}} },
		setup: func(*testing.B, api.Module) []uint64 { return []uint64{0, 64} }},
}

// BenchmarkStartup is start-up to an empty _start in process: the guest is
// compiled once on one runtime; each op creates the host state and the
// host modules, instantiates the guest, runs _start and closes it all. For
// wazix that is Config.Instantiate + Host.Run + Host.Close; for wazero
// wasi_snapshot_preview1.Instantiate (which builds the host module, as
// Host.Run does) + InstantiateModule + both Closes.
func BenchmarkStartup(b *testing.B) {
	ctx := context.Background()
	b.Run("wazix", func(b *testing.B) {
		rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
		defer rt.Close(ctx)
		compiled := mustCompileWasm(b, rt, loopModule())
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h, err := wazixConfig(callEnv{args: []string{"prog"}}).Instantiate(ctx, rt)
			if err != nil {
				b.Fatal(err)
			}
			if code, err := h.Run(ctx, rt, compiled); code != 0 || err != nil {
				b.Fatal(code, err)
			}
			h.Close(ctx)
		}
	})
	b.Run("wazero", func(b *testing.B) {
		rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
		defer rt.Close(ctx)
		compiled := mustCompileWasm(b, rt, loopModule())
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			wasi, err := wazero_wasi.Instantiate(ctx, rt)
			if err != nil {
				b.Fatal(err)
			}
			m, err := rt.InstantiateModule(ctx, compiled, wazeroConfig(callEnv{args: []string{"prog"}}))
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
			wasi.Close(ctx)
		}
	})
}

func mustCompileWasm(b *testing.B, rt wazero.Runtime, wasm []byte) wazero.CompiledModule {
	c, err := rt.CompileModule(context.Background(), wasm)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
