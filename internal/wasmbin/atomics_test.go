package wasmbin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/wazix/wazix/internal/testtools"
)

// atomicsWAT uses every atomic instruction on an unshared memory; "run"
// leaves every result and every modified cell in memory.
func atomicsWAT() string {
	var b strings.Builder
	b.WriteString("(module (memory (export \"memory\") 1)\n")
	b.WriteString("(data (i32.const 0) \"")
	for i := 0; i < 2048; i++ {
		fmt.Fprintf(&b, "\\%02x", (i*37+11)&0xff)
	}
	b.WriteString("\")\n(func (export \"run\") (local f64 i32) (local.set 1 (i32.const 1))\n")
	// junk is a bit just above the access width: compare-exchange must
	// ignore it in the expected value.
	shapes := []struct{ t, name, suffix, junk string }{
		{"i32", "i32.atomic.rmw", "", "0"}, {"i64", "i64.atomic.rmw", "", "0"},
		{"i32", "i32.atomic.rmw8", "_u", "0x100"}, {"i32", "i32.atomic.rmw16", "_u", "0x10000"},
		{"i64", "i64.atomic.rmw8", "_u", "0x100"}, {"i64", "i64.atomic.rmw16", "_u", "0x10000"},
		{"i64", "i64.atomic.rmw32", "_u", "0x100000000"},
	}
	addr, res := 0, 4096
	next := func() (int, int) {
		addr += 16
		res += 8
		return addr, res
	}
	for _, op := range []string{"add", "sub", "and", "or", "xor", "xchg"} {
		for _, s := range shapes {
			a, r := next()
			fmt.Fprintf(&b, "(%s.store (i32.const %d) (%s.%s%s offset=8 (i32.const %d) (%s.const 0x5a5a5a5a)))\n",
				s.t, r, s.name, op, s.suffix, a, s.t)
		}
	}
	for _, s := range shapes {
		// one compare-exchange that matches (expected read first, with junk
		// above the access width) and one that does not
		a, r := next()
		load := map[string]string{"": "load", "_u": map[string]string{"i32.atomic.rmw8": "load8_u", "i32.atomic.rmw16": "load16_u",
			"i64.atomic.rmw8": "load8_u", "i64.atomic.rmw16": "load16_u", "i64.atomic.rmw32": "load32_u"}[s.name]}[s.suffix]
		fmt.Fprintf(&b, "(%s.store (i32.const %d) (%s.cmpxchg%s offset=8 (i32.const %d) (%s.or (%s.%s offset=8 (i32.const %d)) (%s.const %s)) (%s.const 99)))\n",
			s.t, r, s.name, s.suffix, a, s.t, s.t, load, a, s.t, s.junk, s.t)
		a, r = next()
		fmt.Fprintf(&b, "(%s.store (i32.const %d) (%s.cmpxchg%s (i32.const %d) (%s.const 1) (%s.const 99)))\n",
			s.t, r, s.name, s.suffix, a, s.t, s.t)
	}
	for _, l := range []struct{ t, op string }{
		{"i32", "i32.atomic.load"}, {"i64", "i64.atomic.load"}, {"i32", "i32.atomic.load8_u"}, {"i32", "i32.atomic.load16_u"},
		{"i64", "i64.atomic.load8_u"}, {"i64", "i64.atomic.load16_u"}, {"i64", "i64.atomic.load32_u"},
	} {
		a, r := next()
		fmt.Fprintf(&b, "(%s.store (i32.const %d) (%s offset=16 (i32.const %d)))\n", l.t, r, l.op, a)
	}
	for _, st := range []struct{ t, op string }{
		{"i32", "i32.atomic.store"}, {"i64", "i64.atomic.store"}, {"i32", "i32.atomic.store8"}, {"i32", "i32.atomic.store16"},
		{"i64", "i64.atomic.store8"}, {"i64", "i64.atomic.store16"}, {"i64", "i64.atomic.store32"},
	} {
		a, _ := next()
		fmt.Fprintf(&b, "(%s offset=8 (i32.const %d) (%s.const -3))\n", st.op, a, st.t)
	}
	a, r := next()
	fmt.Fprintf(&b, "(i32.store (i32.const %d) (memory.atomic.notify (i32.const %d) (i32.const 5)))\n(atomic.fence)\n", r, a)
	b.WriteString(")\n")
	// wait is separate: on an unshared memory the original traps.
	b.WriteString(`(func (export "wait32") (param i32 i32) (result i32)
  (memory.atomic.wait32 (local.get 0) (local.get 1) (i64.const 0)))
(func (export "wait64") (param i32 i64) (result i32)
  (memory.atomic.wait64 (local.get 0) (local.get 1) (i64.const -1))))`)
	return b.String()
}

func runAtomics(t *testing.T, wasm []byte, threads bool) (api.Module, []byte) {
	t.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfig()
	if threads {
		cfg = cfg.WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.ExportedFunction("run").Call(ctx); err != nil {
		t.Fatal(err)
	}
	mem, _ := mod.Memory().Read(0, 8192)
	return mod, append([]byte(nil), mem...)
}

func TestLowerAtomics(t *testing.T) {
	orig := testtools.Wat2Wasm(t, atomicsWAT())
	m, err := Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	n, err := m.LowerAtomics()
	if err != nil {
		t.Fatal(err)
	}
	if n < 60 {
		t.Errorf("lowered %d instructions, want every one of them", n)
	}
	lowered := m.Encode()
	in := decodeOK(t, lowered)
	if in.Features&FeatureThreads != 0 {
		t.Error("lowered module still uses atomics")
	}
	testtools.Validate(t, lowered)

	_, want := runAtomics(t, orig, true)
	mod, got := runAtomics(t, lowered, false) // a runtime without the threads feature
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("memory differs from the atomic original first at %d: got %x, want %x", i, got[i:i+8], want[i:i+8])
			}
		}
	}
	ctx := context.Background()
	v, _ := mod.Memory().ReadUint32Le(64)
	for _, c := range []struct {
		fn       string
		expected uint64
		want     uint64
	}{
		{"wait32", uint64(v), 2},     // equal: nobody can wake it, so "timed-out"
		{"wait32", uint64(v + 1), 1}, // "not-equal"
	} {
		res, err := mod.ExportedFunction(c.fn).Call(ctx, 64, c.expected)
		if err != nil || res[0] != c.want {
			t.Errorf("%s(expected %d) = %v, %v; want %d", c.fn, c.expected, res, err, c.want)
		}
	}
	v64, _ := mod.Memory().ReadUint64Le(64)
	if res, err := mod.ExportedFunction("wait64").Call(ctx, 64, v64^1); err != nil || res[0] != 1 {
		t.Errorf("wait64 not-equal = %v, %v", res, err)
	}
}

func decodeOK(t *testing.T, b []byte) *Info {
	t.Helper()
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return in
}
