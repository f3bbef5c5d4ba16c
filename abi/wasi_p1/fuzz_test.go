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
)

// callerModule builds a guest that imports every preview1 function and
// exports a wrapper "call_<name>" for each, plus one page of memory, so that
// host functions can be called with arbitrary arguments through a real guest
// (host functions read the caller's memory).
func callerModule(t testing.TB, rt wazero.Runtime) []byte {
	// Learn the signatures from our own host module.
	ctx := context.Background()
	host := wasi_p1.NewBuilder(rt, "probe", nil)
	compiled, err := host.Compile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defs := compiled.ExportedFunctions()
	var (
		types   [][]byte
		typeIdx = map[string]int{}
		imports []byte
		funcs   []byte
		exports []byte
		codes   []byte
		n       int
	)
	names := wasi_p1.FunctionNames()
	for i, name := range names {
		d := defs[name]
		sig := []byte{0x60}
		sig = append(sig, uleb(uint64(len(d.ParamTypes())))...)
		sig = append(sig, d.ParamTypes()...)
		sig = append(sig, uleb(uint64(len(d.ResultTypes())))...)
		sig = append(sig, d.ResultTypes()...)
		ti, ok := typeIdx[string(sig)]
		if !ok {
			ti = len(types)
			typeIdx[string(sig)] = ti
			types = append(types, sig)
		}
		imports = append(imports, str(wasi_p1.ModuleName)...)
		imports = append(imports, str(name)...)
		imports = append(imports, 0x00)
		imports = append(imports, uleb(uint64(ti))...)
		funcs = append(funcs, uleb(uint64(ti))...)
		exports = append(exports, str("call_"+name)...)
		exports = append(exports, 0x00)
		exports = append(exports, uleb(uint64(len(names)+i))...)
		var body []byte
		body = append(body, 0x00) // no locals
		for p := range d.ParamTypes() {
			body = append(body, 0x20)
			body = append(body, uleb(uint64(p))...)
		}
		body = append(body, 0x10)
		body = append(body, uleb(uint64(i))...)
		body = append(body, 0x0b)
		codes = append(codes, uleb(uint64(len(body)))...)
		codes = append(codes, body...)
		n++
	}
	exports = append(exports, str("memory")...)
	exports = append(exports, 0x02, 0x00)
	var typeSec []byte
	typeSec = append(typeSec, uleb(uint64(len(types)))...)
	for _, s := range types {
		typeSec = append(typeSec, s...)
	}
	mod := []byte("\x00asm\x01\x00\x00\x00")
	mod = append(mod, section(1, typeSec)...)
	mod = append(mod, section(2, append(uleb(uint64(n)), imports...))...)
	mod = append(mod, section(3, append(uleb(uint64(n)), funcs...))...)
	mod = append(mod, section(5, []byte{0x01, 0x00, 0x01})...) // one memory, min 1 page
	mod = append(mod, section(7, append(uleb(uint64(n+1)), exports...))...)
	mod = append(mod, section(10, append(uleb(uint64(n)), codes...))...)
	return mod
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func str(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
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
		m, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		m.Memory().Write(0, mem)
		fn := m.ExportedFunction("call_" + name)
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
	m, err := rt.Instantiate(ctx, callerModule(t, rt))
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.ExportedFunction("call_args_sizes_get").Call(ctx, 0, 4)
	if err != nil || res[0] != 0 {
		t.Fatalf("args_sizes_get: %v %v", res, err)
	}
	argc, _ := m.Memory().ReadUint32Le(0)
	size, _ := m.Memory().ReadUint32Le(4)
	if argc != 2 || size != 5 {
		t.Fatalf("argc %d size %d, want 2 5", argc, size)
	}
	// Out of range: EFAULT, no panic.
	res, err = m.ExportedFunction("call_args_sizes_get").Call(ctx, 0xfffffffe, 4)
	if err != nil || res[0] != 21 {
		t.Fatalf("args_sizes_get out of range: %v %v", res, err)
	}
}
