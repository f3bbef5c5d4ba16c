package wasmbin

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wazix/wazix/internal/testtools"
)

// featuresWAT uses every feature the rewriter must see through, and refers to
// functions from every place a function index can appear.
const featuresWAT = `(module
  (type $t0 (func (param i32) (result i32)))
  (type $pair (func (result i32 i64)))
  (import "a" "f0" (func $imp0 (param i32) (result i32)))
  (import "a" "f1" (func $imp1))
  (import "env" "memory" (memory 1 10 shared))
  (table $tab 4 funcref)
  (table $tab2 2 externref)
  (global $g (mut i32) (i32.const 0))
  (global $fr funcref (ref.func $inner))
  (tag $exn (param i32))
  (elem (i32.const 0) $inner $imp0)
  (elem func $outer $imp1)
  (elem declare func $decl)
  (elem (table $tab) (i32.const 2) funcref (ref.func $inner) (ref.null func))
  (elem funcref (ref.func $outer))
  (data (i32.const 100) "abc")
  (data "passive")
  (func $inner (type $t0) (local i64 v128)
    (local.get 0))
  (func $decl (result i32) (i32.const 7))
  (func $outer (param i32) (result i32)
    (local $v v128)
    (drop (call $imp0 (local.get 0)))
    (call $imp1)
    (drop (ref.func $decl))
    (drop (call_indirect (type $t0) (i32.const 1) (i32.const 0)))
    (drop (i32.extend8_s (i32.const 1)))
    (drop (i32.trunc_sat_f32_s (f32.const 1.5)))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))
    (memory.copy (i32.const 0) (i32.const 0) (i32.const 0))
    (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 0))
    (data.drop 1)
    (table.init 1 (i32.const 0) (i32.const 0) (i32.const 0))
    (elem.drop 1)
    (drop (table.grow $tab2 (ref.null extern) (i32.const 1)))
    (local.set $v (v128.const i32x4 1 2 3 4))
    (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))
    (drop (i32x4.extract_lane 2 (local.get $v)))
    (local.set $v (v128.load8_lane offset=3 1 (i32.const 0) (local.get $v)))
    (drop (i32.atomic.rmw.add offset=8 (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
    (atomic.fence)
    (block $b (result i32 i64) (call $pair_fn))
    (drop) (drop)
    (try (do (throw $exn (i32.const 1))) (catch $exn (drop)) (catch_all))
    (try (do (nop)) (delegate 0))
    (block $bt (br_table $bt $bt (i32.const 0)))
    (select (result i32) (i32.const 1) (i32.const 2) (i32.const 0))
    (drop)
    (return_call $inner (local.get 0)))
  (func $pair_fn (type $pair) (i32.const 1) (i64.const -1))
  (func $start (global.set $g (i32.const 1)))
  (start $start)
  (export "outer" (func $outer))
  (export "tab" (table $tab))
  (export "inner" (func $inner)))
`

func TestFeaturesModuleDecodes(t *testing.T) {
	wasm := testtools.Wat2Wasm(t, featuresWAT)
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	want := []Feature{FeatureSignExt, FeatureSatConv, FeatureBulkMemory, FeatureRefTypes,
		FeatureMultiValue, FeatureTailCalls, FeatureSIMD, FeatureThreads, FeatureLegacyExceptions, FeatureExceptions}
	for _, f := range want {
		if in.Features&f == 0 {
			t.Errorf("feature %s not detected (got %s)", f, in.Features)
		}
	}
	if in.ImportedFunctions() != 2 || len(in.Functions) != 5 || in.NumFunctions() != 7 {
		t.Errorf("function counts: imported %d defined %d", in.ImportedFunctions(), len(in.Functions))
	}
	if !in.HasStart || in.Start != 6 {
		t.Errorf("start = %d,%v; want 6", in.Start, in.HasStart)
	}
	if got := in.FunctionNames[4]; got != "outer" {
		t.Errorf("name of function 4 = %q, want outer", got)
	}
	if got := m.Encode(); !bytes.Equal(got, wasm) {
		t.Error("Encode after Parse changed the bytes")
	}
}

// TestRemapShift inserts an imported function at index 0, which shifts every
// other function by one, and checks that each kind of reference followed.
func TestRemapShift(t *testing.T) {
	wasm := testtools.Wat2Wasm(t, featuresWAT)
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	typeIdx := uint32(len(in.Types))
	tp, _ := AppendToVector(m.Section(SecType).Payload, AppendFuncType(nil, FuncType{}))
	m.SetSection(SecType, tp)
	ims := append([]Import{{Module: "new", Name: "first", Kind: KindFunc, TypeIndex: typeIdx}}, in.Imports...)
	m.SetSection(SecImport, EncodeImports(ims))
	if err := m.RemapFunctions(func(i uint32) uint32 { return i + 1 }, map[uint32]string{0: "first"}); err != nil {
		t.Fatal(err)
	}
	out := m.Encode()
	testtools.Validate(t, out)

	m2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	in2, err := m2.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if in2.Start != in.Start+1 {
		t.Errorf("start = %d, want %d", in2.Start, in.Start+1)
	}
	for name, old := range map[string]uint32{"outer": 4, "inner": 2} {
		if got, _ := in2.ExportedFunction(name); got != old+1 {
			t.Errorf("export %s = %d, want %d", name, got, old+1)
		}
	}
	for i := range in.Bodies {
		var a, b []uint32
		for _, r := range in.Bodies[i].refs {
			a = append(a, r.index+1)
		}
		for _, r := range in2.Bodies[i].refs {
			b = append(b, r.index)
		}
		if !equalU32(a, b) {
			t.Errorf("body %d references %v, want %v", i, b, a)
		}
	}
	if in2.FunctionNames[5] != "outer" || in2.FunctionNames[0] != "first" {
		t.Errorf("names after shift: %v", in2.FunctionNames)
	}
	// Element and global references: compare with a fresh walk.
	for _, id := range []byte{SecElement, SecGlobal} {
		var r1, r2 []funcRef
		r1 = sectionRefs(t, m2.Section(id))
		mOld, _ := Parse(wasm)
		r2 = sectionRefs(t, mOld.Section(id))
		if len(r1) != len(r2) || len(r1) == 0 {
			t.Fatalf("%s section: %d refs after, %d before", SectionName(id), len(r1), len(r2))
		}
		for i := range r1 {
			if r1[i].index != r2[i].index+1 {
				t.Errorf("%s section ref %d = %d, want %d", SectionName(id), i, r1[i].index, r2[i].index+1)
			}
		}
	}
}

func sectionRefs(t *testing.T, s *Section) []funcRef {
	t.Helper()
	in := &Info{}
	r := newReader(s.Payload, 0)
	var refs []funcRef
	var err error
	if s.ID == SecElement {
		refs, err = in.decodeElements(r)
	} else {
		refs, err = in.decodeGlobals(r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var goHello struct {
	once sync.Once
	wasm []byte
	err  error
}

// goHelloWasm builds a Go wasip1 program: a large real-world module with
// bulk memory, sign extension and saturating conversions.
func goHelloWasm(t testing.TB) []byte {
	goHello.once.Do(func() {
		dir, err := os.MkdirTemp("", "wasmbin-go")
		if err != nil {
			goHello.err = err
			return
		}
		defer os.RemoveAll(dir)
		src := "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hi\") }\n"
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\ngo 1.21\n"), 0o644)
		cmd := exec.Command("go", "build", "-o", "hello.wasm", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			goHello.err = errors.New(string(out))
			return
		}
		goHello.wasm, goHello.err = os.ReadFile(filepath.Join(dir, "hello.wasm"))
	})
	if goHello.err != nil {
		t.Fatalf("building the Go fixture: %v", goHello.err)
	}
	return goHello.wasm
}

func TestGoModuleIdentityRemap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	wasm := goHelloWasm(t)
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if in.Features&FeatureBulkMemory == 0 || in.Features&FeatureSignExt == 0 {
		t.Errorf("Go module features = %s, want bulk-memory and sign-ext", in.Features)
	}
	if err := m.RemapFunctions(func(i uint32) uint32 { return i }, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Encode(), wasm) {
		t.Error("identity remap changed the module")
	}
}

// TestTryTable decodes the exnref encoding of exception handling (try_table,
// throw_ref), which wabt 1.0.32 cannot assemble, from hand-written bytes.
func TestTryTable(t *testing.T) {
	mod := string(magic) +
		"\x01\x04\x01\x60\x00\x00" + // type 0: () -> ()
		"\x03\x02\x01\x00" + // one function of type 0
		"\x0d\x03\x01\x00\x00" + // one tag of type 0
		"\x0a\x0f\x01\x0d\x00" + // code: one body of 13 bytes, no locals
		"\x1f\x40\x02\x00\x00\x00\x02\x00" + // try_table with catch tag 0 -> 0, catch_all -> 0
		"\x0b\x10\x00\x0b" // end, call 0, end
	m, err := Parse([]byte(mod))
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if in.Features&FeatureExceptions == 0 || len(in.Tags) != 1 {
		t.Errorf("features %s, tags %d", in.Features, len(in.Tags))
	}
	if len(in.Bodies[0].refs) != 1 || in.Bodies[0].refs[0].index != 0 {
		t.Errorf("call after try_table not found: %+v", in.Bodies[0].refs)
	}
}

func TestHostileInput(t *testing.T) {
	hdr := string(magic)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "shorter than the header"},
		{"bad magic", "\x00asn\x01\x00\x00\x00", "bad magic"},
		{"component", "\x00asm\x0d\x00\x01\x00", "unsupported wasm binary version"},
		{"section overrun", hdr + "\x01\x10\x00", "overruns the module"},
		{"truncated size", hdr + "\x01", "unexpected end"},
		{"bad leb", hdr + "\x01\xff\xff\xff\xff\x7f", "too"},
		{"huge type count", hdr + "\x01\x05\xff\xff\xff\xff\x0f", "exceeds"},
		{"huge import count", hdr + "\x02\x03\xff\xff\x03", "exceeds"},
		{"out of order", hdr + "\x03\x01\x00\x01\x01\x00", "out of order"},
		{"unknown section", hdr + "\x20\x00", "unknown section"},
		{"gc type", hdr + "\x01\x04\x01\x5f\x00\x00", "not a function type"},
		{"bad opcode", hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\xff\x0b", "unknown or unsupported opcode"},
		{"body overruns", hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x04\x01\x09\x00\x0b", "unexpected end"},
		{"too many locals", hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0b\x01\x09\x02\xff\xff\x03\x7f\xff\xff\x03\x7f", "locals"},
		{"function without body", hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00", "code section has 0 bodies"},
		{"call out of range", hdr + "\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x06\x01\x04\x00\x10\x05\x0b", "out of range"},
		{"bad utf8 name", hdr + "\x02\x07\x01\x01\xff\x01a\x00\x00", "UTF-8"},
		{"leftover bytes", hdr + "\x01\x05\x01\x60\x00\x00\x00", "left over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if err == nil {
				_, err = m.Decode()
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLEB(t *testing.T) {
	tests := []struct {
		in     string
		bits   uint
		signed bool
		want   int64
		ok     bool
	}{
		{"\x00", 32, false, 0, true},
		{"\xe5\x8e\x26", 32, false, 624485, true},
		{"\xff\xff\xff\xff\x0f", 32, false, 0xffffffff, true},
		{"\xff\xff\xff\xff\x1f", 32, false, 0, false}, // bit 32 set
		{"\x80\x80\x80\x80\x80\x00", 32, false, 0, false},
		{"\x80\x80\x80\x80\x00", 32, false, 0, true}, // padded zero is allowed
		{"\x7f", 32, true, -1, true},
		{"\xc0\xbb\x78", 32, true, -123456, true},
		{"\xff\xff\xff\xff\x07", 32, true, 0x7fffffff, true},
		{"\x80\x80\x80\x80\x78", 32, true, -0x80000000, true},
		{"\x80\x80\x80\x80\x70", 32, true, 0, false}, // unused bits not a sign extension
		{"\x40", 33, true, -64, true},
		{"\x80", 32, false, 0, false}, // truncated
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 64, true, 0x7fffffffffffffff, true},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", 64, true, -0x8000000000000000, true},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 64, true, 0, false},
	}
	for _, tt := range tests {
		r := newReader([]byte(tt.in), 0)
		var got int64
		var err error
		if tt.signed {
			got, err = r.sleb(tt.bits, "x")
		} else {
			var u uint64
			u, err = r.uleb(tt.bits, "x")
			got = int64(u)
		}
		if (err == nil) != tt.ok {
			t.Errorf("%x/%d: err = %v, want ok=%v", tt.in, tt.bits, err, tt.ok)
			continue
		}
		if tt.ok && got != tt.want {
			t.Errorf("%x/%d: got %d, want %d", tt.in, tt.bits, got, tt.want)
		}
		if tt.ok && !r.done() {
			t.Errorf("%x: %d bytes unread", tt.in, r.len())
		}
	}
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 1 << 40, -1 << 63} {
		b := appendS64(nil, v)
		got, err := newReader(b, 0).sleb(64, "x")
		if err != nil || got != v {
			t.Errorf("round trip %d: %d, %v", v, got, err)
		}
	}
}
