package wasix

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// oneImport is a module importing m.<name> as (i32) -> i32.
func oneImport(name string) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x06\x01\x60\x01\x7f\x01\x7f") // type section: (i32) -> i32
	imp := append([]byte{0x01, 0x01, 'm', byte(len(name))}, name...)
	imp = append(imp, 0x00, 0x00) // a function of type 0
	b = append(b, 0x02, byte(len(imp)))
	return append(b, imp...)
}

// TestImportsOfRemembers: importsOf lists a module's imports once and
// serves the same list again, each module its own, forgetImports drops a
// module, and the memory stays bounded.
func TestImportsOfRemembers(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	compile := func(name string) wazero.CompiledModule {
		c, err := rt.CompileModule(ctx, oneImport(name))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := compile("a"), compile("b")
	ia, ib := importsOf(a), importsOf(b)
	if len(ia) != 1 || ia[0].Module != "m" || ia[0].Name != "a" || len(ia[0].Params) != 1 || ia[0].Params[0] != api.ValueTypeI32 || len(ia[0].Results) != 1 {
		t.Fatalf("imports of a: %+v", ia)
	}
	if len(ib) != 1 || ib[0].Name != "b" {
		t.Fatalf("imports of b: %+v", ib)
	}
	if again := importsOf(a); &again[0] != &ia[0] {
		t.Error("a's imports listed again instead of remembered")
	}
	forgetImports(a)
	if again := importsOf(a); &again[0] == &ia[0] || again[0].Name != "a" {
		t.Error("a still remembered after forgetImports")
	}
	for i := 0; i < 3*maxImportsSeen; i++ {
		importsOf(compile(string(rune('c' + i%20))))
	}
	importsSeen.Lock()
	n := len(importsSeen.m)
	importsSeen.Unlock()
	if n > maxImportsSeen {
		t.Errorf("%d modules remembered, more than %d", n, maxImportsSeen)
	}
}
