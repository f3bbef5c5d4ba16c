// Package wasmgen builds small wasm modules for tests: a guest that imports
// a list of host functions and exports a wrapper for each, so that tests and
// fuzzers can call host functions through a real guest instance (host
// functions read the caller's memory).
package wasmgen

import (
	"github.com/tetratelabs/wazero/api"
)

// Import is one function to import.
type Import struct {
	Module, Name    string
	Params, Results []api.ValueType
}

// Options shape the generated module.
type Options struct {
	// SharedMemory imports env.memory as a shared memory of 1..MaxPages
	// pages instead of defining and exporting one page.
	SharedMemory bool
	MaxPages     uint32
	// Loop also exports LoopName(im) for each import returning one i32 (an
	// errno): loop(n, params...) calls the import n times and returns the
	// first non-zero result, or 0. Benchmarks use it to time host calls
	// without a Go-to-wasm call around each one.
	Loop bool
}

// LoopName is the export that calls import im in a loop (Options.Loop).
func LoopName(im Import) string { return "loop_" + im.Module + "_" + im.Name }

// loopable reports whether im gets a loop export: it returns one i32.
func loopable(im Import) bool {
	return len(im.Results) == 1 && im.Results[0] == api.ValueTypeI32
}

// WrapperName is the export that calls import i.
func WrapperName(im Import) string { return "call_" + im.Module + "_" + im.Name }

// Caller returns a module importing every function of imports, exporting
// WrapperName(im) for each (same signature, forwarding its arguments), a
// memory, and an empty _start.
func Caller(imports []Import, o Options) []byte {
	var (
		types   [][]byte
		typeIdx = map[string]int{}
		impSec  []byte
		funcSec []byte
		expSec  []byte
		codeSec []byte
	)
	typeOf := func(params, results []api.ValueType) int {
		sig := []byte{0x60}
		sig = append(sig, ULEB(uint64(len(params)))...)
		sig = append(sig, params...)
		sig = append(sig, ULEB(uint64(len(results)))...)
		sig = append(sig, results...)
		ti, ok := typeIdx[string(sig)]
		if !ok {
			ti = len(types)
			typeIdx[string(sig)] = ti
			types = append(types, sig)
		}
		return ti
	}
	n := len(imports)
	nImports := n
	if o.SharedMemory {
		nImports++
	}
	impSec = append(impSec, ULEB(uint64(nImports))...)
	for _, im := range imports {
		impSec = append(impSec, Name(im.Module)...)
		impSec = append(impSec, Name(im.Name)...)
		impSec = append(impSec, 0x00)
		impSec = append(impSec, ULEB(uint64(typeOf(im.Params, im.Results)))...)
	}
	if o.SharedMemory {
		max := o.MaxPages
		if max == 0 {
			max = 16
		}
		impSec = append(impSec, Name("env")...)
		impSec = append(impSec, Name("memory")...)
		impSec = append(impSec, 0x02, 0x03, 0x01)
		impSec = append(impSec, ULEB(uint64(max))...)
	}
	startType := typeOf(nil, nil)
	var loops []int // the imports that get a loop export
	if o.Loop {
		for i, im := range imports {
			if loopable(im) {
				loops = append(loops, i)
			}
		}
	}
	funcSec = append(funcSec, ULEB(uint64(n+1+len(loops)))...)
	expSec = append(expSec, ULEB(uint64(n+2+len(loops)))...)
	codeSec = append(codeSec, ULEB(uint64(n+1+len(loops)))...)
	for i, im := range imports {
		funcSec = append(funcSec, ULEB(uint64(typeOf(im.Params, im.Results)))...)
		expSec = append(expSec, Name(WrapperName(im))...)
		expSec = append(expSec, 0x00)
		expSec = append(expSec, ULEB(uint64(n+i))...)
		body := []byte{0x00} // no locals
		for p := range im.Params {
			body = append(body, 0x20)
			body = append(body, ULEB(uint64(p))...)
		}
		body = append(body, 0x10)
		body = append(body, ULEB(uint64(i))...)
		body = append(body, 0x0b)
		codeSec = append(codeSec, ULEB(uint64(len(body)))...)
		codeSec = append(codeSec, body...)
	}
	funcSec = append(funcSec, ULEB(uint64(startType))...)
	expSec = append(expSec, Name("_start")...)
	expSec = append(expSec, 0x00)
	expSec = append(expSec, ULEB(uint64(2*n))...)
	codeSec = append(codeSec, 0x02, 0x00, 0x0b)
	for k, i := range loops {
		im := imports[i]
		lp := append([]api.ValueType{api.ValueTypeI32}, im.Params...)
		funcSec = append(funcSec, ULEB(uint64(typeOf(lp, im.Results)))...)
		expSec = append(expSec, Name(LoopName(im))...)
		expSec = append(expSec, 0x00)
		expSec = append(expSec, ULEB(uint64(2*n+1+k))...)
		r := uint64(len(lp)) // the result local, after the params
		body := []byte{0x01, 0x01, api.ValueTypeI32}
		// block; loop; br_if 1 (n == 0)
		body = append(body, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01)
		for p := range im.Params {
			body = append(body, 0x20)
			body = append(body, ULEB(uint64(p+1))...)
		}
		body = append(body, 0x10)
		body = append(body, ULEB(uint64(i))...)
		// local.tee r; if; local.get r; return; end
		body = append(body, 0x22)
		body = append(body, ULEB(r)...)
		body = append(body, 0x04, 0x40, 0x20)
		body = append(body, ULEB(r)...)
		body = append(body, 0x0f, 0x0b)
		// n--; br 0; end; end; i32.const 0; end
		body = append(body, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x00, 0x0b)
		codeSec = append(codeSec, ULEB(uint64(len(body)))...)
		codeSec = append(codeSec, body...)
	}
	expSec = append(expSec, Name("memory")...)
	expSec = append(expSec, 0x02, 0x00)

	var typeSec []byte
	typeSec = append(typeSec, ULEB(uint64(len(types)))...)
	for _, s := range types {
		typeSec = append(typeSec, s...)
	}
	mod := []byte("\x00asm\x01\x00\x00\x00")
	mod = append(mod, Section(1, typeSec)...)
	mod = append(mod, Section(2, impSec)...)
	mod = append(mod, Section(3, funcSec)...)
	if !o.SharedMemory {
		mod = append(mod, Section(5, []byte{0x01, 0x00, 0x01})...) // one memory, min 1 page
	}
	mod = append(mod, Section(7, expSec)...)
	mod = append(mod, Section(10, codeSec)...)
	return mod
}

// ULEB encodes v as unsigned LEB128.
func ULEB(v uint64) []byte {
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

// Name encodes a wasm name (length-prefixed bytes).
func Name(s string) []byte { return append(ULEB(uint64(len(s))), s...) }

// Section encodes one section.
func Section(id byte, body []byte) []byte {
	return append(append([]byte{id}, ULEB(uint64(len(body)))...), body...)
}
