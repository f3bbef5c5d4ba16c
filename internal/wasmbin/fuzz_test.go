package wasmbin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wazix/wazix/internal/testtools"
)

func seedModules(f *testing.F) [][]byte {
	var out [][]byte
	if testtools.Find("wat2wasm") != "" {
		out = append(out, testtools.Wat2Wasm(f, featuresWAT), testtools.Wat2Wasm(f, atomicsWAT()))
		wats, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "translate", "*.wat"))
		for _, p := range wats {
			src, err := os.ReadFile(p)
			if err == nil {
				out = append(out, testtools.Wat2Wasm(f, string(src)))
			}
		}
	}
	return out
}

// FuzzDecode checks that no input makes the reader panic, and that whatever
// it accepts survives an identity rewrite, atomics lowering and a
// reordering rewrite. For CI prefer a count (-fuzztime 1000000x): Go 1.26's
// fuzz coordinator can report a spurious "context deadline exceeded" when a
// time budget ends (golang/go#75804).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(nil))
	f.Add(magic)
	f.Add(append(append([]byte{}, magic...), 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
		0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0b))
	// Seed corpus: our WAT fixtures, compiled when wabt is installed (binaries
	// are not committed), plus the Go wasip1 module that the tests build.
	for _, b := range seedModules(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		in, err := m.Decode()
		if err != nil {
			return
		}
		if err := m.RemapFunctions(func(i uint32) uint32 { return i }, nil); err != nil {
			t.Fatalf("identity remap of a decoded module failed: %v", err)
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatal("identity remap changed the bytes")
		}
		if lm, err := Parse(b); err == nil {
			if _, err := lm.LowerAtomics(); err == nil {
				out, err := Parse(lm.Encode())
				if err != nil {
					t.Fatalf("lowered module no longer parses: %v", err)
				}
				if lin, err := out.Decode(); err != nil {
					t.Fatalf("lowered module no longer decodes: %v", err)
				} else if lin.Features&FeatureThreads != 0 && len(lin.Memories) > 0 && !lin.Memories[0].Shared {
					// shared memories keep the feature; atomics must be gone
					for _, body := range lin.Bodies {
						if len(body.atomics) > 0 {
							t.Fatal("atomics left after lowering")
						}
					}
				}
			}
		}
		n := uint32(in.NumFunctions())
		if err := m.RemapFunctions(func(i uint32) uint32 { return n - 1 - i }, map[uint32]string{0: "x"}); err != nil {
			t.Fatalf("reversing remap failed: %v", err)
		}
		if _, err := Parse(m.Encode()); err != nil {
			t.Fatalf("rewritten module no longer parses: %v", err)
		}
	})
}
