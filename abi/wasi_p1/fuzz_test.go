package wasi_p1_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/abi/wasi_p1"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

// callerModule is a guest that imports every preview1 function and exports
// a wrapper call_wasi_snapshot_preview1_<name> for each, plus a memory.
func callerModule(testing.TB, wazero.Runtime) []byte {
	ims := make([]wasmgen.Import, len(compat.Preview1()))
	for i, f := range compat.Preview1() {
		ims[i] = wasmgen.Import{Module: f.Module, Name: f.Name, Params: f.Params, Results: f.Results}
	}
	return wasmgen.Caller(ims, wasmgen.Options{})
}

// FuzzHostFunctions calls each host function with random arguments over
// random memory. The host must never panic; proc_exit is the only function
// allowed to end the call with an error.
func FuzzHostFunctions(f *testing.F) {
	names := wasi_p1.FunctionNames()
	f.Add(uint8(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), []byte("seed"))
	f.Add(uint8(26), uint64(1), uint64(0xfff0), uint64(3), uint64(8), uint64(0), uint64(0), []byte{})
	f.Add(uint8(37), uint64(0), uint64(100), uint64(1), uint64(200), uint64(0), uint64(0), make([]byte, 64))
	f.Add(uint8(31), uint64(3), uint64(1), uint64(0), uint64(3), uint64(0), uint64(0xffffffff), []byte("../etc"))

	ctx := context.Background()
	cache := wazero.NewCompilationCache()
	rtc := wazix.NewRuntimeConfig().WithCompilationCache(cache)
	rt := wazero.NewRuntimeWithConfig(ctx, rtc)
	wasm := callerModule(f, rt)
	rt.Close(ctx)
	dir := f.TempDir()

	f.Fuzz(func(t *testing.T, which uint8, a0, a1, a2, a3, a4, a5 uint64, mem []byte) {
		name := names[int(which)%len(names)]
		rt := wazero.NewRuntimeWithConfig(ctx, rtc)
		defer rt.Close(ctx)
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		host, err := wazix.NewConfig().WithStdin(strings.NewReader("in")).WithStdout(io.Discard).
			WithStderr(io.Discard).WithDir(dir, "/").WithArgs("a", "b").Instantiate(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		defer host.Close(ctx)
		m, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		m.Memory().Write(0, mem)
		fn := m.ExportedFunction("call_wasi_snapshot_preview1_" + name)
		args := []uint64{a0, a1, a2, a3, a4, a5, a0 ^ a1, a2 ^ a3, a4 ^ a5}[:len(fn.Definition().ParamTypes())]
		for i, typ := range fn.Definition().ParamTypes() {
			if typ == api.ValueTypeI32 {
				args[i] = uint64(uint32(args[i]))
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = fn.Call(cctx, args...)
		if err != nil && name != "proc_exit" && !errors.Is(cctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("%s%v: %v", name, args, err)
		}
	})
}

// TestCallerModule checks the generated module itself, so that the fuzz
// target exercises what it claims.
func TestCallerModule(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	defer rt.Close(ctx)
	host, err := wazix.NewConfig().WithArgs("x", "yz").WithStdout(io.Discard).Instantiate(ctx, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(ctx)
	compiled, err := rt.CompileModule(ctx, callerModule(t, rt))
	if err != nil {
		t.Fatal(err)
	}
	m, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.ExportedFunction("call_wasi_snapshot_preview1_args_sizes_get").Call(ctx, 0, 4)
	if err != nil || res[0] != 0 {
		t.Fatalf("args_sizes_get: %v %v", res, err)
	}
	argc, _ := m.Memory().ReadUint32Le(0)
	size, _ := m.Memory().ReadUint32Le(4)
	if argc != 2 || size != 5 {
		t.Fatalf("argc %d size %d, want 2 5", argc, size)
	}
	// Out of range: EFAULT, no panic.
	res, err = m.ExportedFunction("call_wasi_snapshot_preview1_args_sizes_get").Call(ctx, 0xfffffffe, 4)
	if err != nil || res[0] != 21 {
		t.Fatalf("args_sizes_get out of range: %v %v", res, err)
	}
}
