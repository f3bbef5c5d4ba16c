package wasix_test

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
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

func toImports(fs []compat.Func) []wasmgen.Import {
	out := make([]wasmgen.Import, len(fs))
	for i, f := range fs {
		out[i] = wasmgen.Import{Module: f.Module, Name: f.Name, Params: f.Params, Results: f.Results}
	}
	return out
}

// surfaces are the two full WASIX import surfaces: the current ABI, and the
// 2022 one (its forms replacing the current ones of the same name). Both
// also import preview1, wasi.thread-spawn and a shared env.memory.
func surfaces() map[string][]wasmgen.Import {
	current := append(toImports(compat.Preview1()), toImports(compat.WASIX())...)
	current = append(current, toImports([]compat.Func{compat.ThreadSpawn})...)
	old := map[string]bool{}
	for _, f := range compat.WASIX2022() {
		old[f.Name] = true
	}
	var gen2022 []wasmgen.Import
	for _, im := range current {
		if !(im.Module == compat.ModuleWASIX32 && old[im.Name]) {
			gen2022 = append(gen2022, im)
		}
	}
	seen := map[string]bool{}
	for _, f := range compat.WASIX2022() {
		if seen[f.Name] {
			continue // thread_spawn has two 2022 shapes; one import per name
		}
		seen[f.Name] = true
		gen2022 = append(gen2022, toImports([]compat.Func{f})...)
	}
	return map[string][]wasmgen.Import{"current": current, "2022": gen2022}
}

// TestEveryFunctionInstantiates runs a module that imports every wasix_32v1
// function (of each generation) with wazix run's machinery: it must load.
func TestEveryFunctionInstantiates(t *testing.T) {
	for name, ims := range surfaces() {
		t.Run(name, func(t *testing.T) {
			wasm := wasmgen.Caller(ims, wasmgen.Options{SharedMemory: true})
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
			defer rt.Close(ctx)
			compiled, err := rt.CompileModule(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			if missing := wazix.CheckImports(compiled); len(missing) > 0 {
				t.Fatalf("missing: %v", missing)
			}
			host, err := wazix.NewConfig().Instantiate(ctx, rt)
			if err != nil {
				t.Fatal(err)
			}
			defer host.Close(ctx)
			code, err := host.Run(ctx, rt, compiled)
			if err != nil || code != 0 {
				t.Fatalf("code %d err %v", code, err)
			}
		})
	}
}

// FuzzWASIXFunctions calls every wasix_32v1 function with random arguments
// over random memory: the host must never panic. Functions that end the
// guest (exits, exec, stack_restore) and ones that block are allowed to.
func FuzzWASIXFunctions(f *testing.F) {
	ims := surfaces()["current"]
	f.Add(uint16(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), []byte("seed"))
	f.Add(uint16(60), uint64(3), uint64(1), uint64(0), uint64(8), uint64(0xffffffff), []byte{1, 2, 3})
	ctx := context.Background()
	rtc := wazix.NewRuntimeConfig().WithCompilationCache(wazero.NewCompilationCache())
	wasm := wasmgen.Caller(ims, wasmgen.Options{SharedMemory: true, MaxPages: 4})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint16, a0, a1, a2, a3, a4 uint64, mem []byte) {
		im := ims[int(which)%len(ims)]
		rt := wazero.NewRuntimeWithConfig(ctx, rtc)
		defer rt.Close(ctx)
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		host, err := wazix.NewConfig().WithStdin(strings.NewReader("in")).WithStdout(io.Discard).
			WithStderr(io.Discard).WithDir(dir, "/").Instantiate(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		defer host.Close(ctx)
		m, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		m.Memory().Write(0, mem)
		fn := m.ExportedFunction(wasmgen.WrapperName(im))
		raw := []uint64{a0, a1, a2, a3, a4, a0 ^ a1, a2 ^ a3, a1 ^ a4, a0 + a2, a1 + a3, a2 + a4, a3 ^ a0, a4 + a0, a1, a2}
		args := make([]uint64, len(im.Params))
		for i, typ := range im.Params {
			args[i] = raw[i%len(raw)]
			if typ == api.ValueTypeI32 {
				args[i] = uint64(uint32(args[i]))
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = fn.Call(cctx, args...)
		if err == nil || errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return
		}
		switch im.Name {
		case "proc_exit", "proc_exit2", "thread_exit", "proc_exec", "proc_exec2", "stack_restore",
			"proc_raise", "thread_signal", "proc_signal":
			return // these end the guest (exit, a default signal action) or trap by design
		}
		t.Fatalf("%s.%s%v: %v", im.Module, im.Name, args, err)
	})
}
