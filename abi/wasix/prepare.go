package wasix

import (
	"fmt"
	"sort"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmbin"
)

// PrepareModule returns wasm ready to be compiled: a module that can fork
// or longjmp (it imports proc_fork or stack_checkpoint) gets its mutable
// globals exported under GlobalExportPrefix, so that a fork can copy them
// into the child and a longjmp restore them; any other module is returned
// as it is.
func PrepareModule(wasm []byte) ([]byte, error) {
	in, err := DecodeImports(wasm)
	if err != nil {
		return wasm, nil // not ours to report: compilation will
	}
	for _, im := range in.Imports {
		if im.Module == compat.ModuleWASIX32 && (im.Name == "proc_fork" || im.Name == "stack_checkpoint") {
			out, _, err := wasmbin.ExportMutableGlobals(wasm, GlobalExportPrefix)
			return out, err
		}
	}
	return wasm, nil
}

// DecodeImports decodes only the types and imports of wasm, which costs far
// less than decoding the code.
func DecodeImports(wasm []byte) (*wasmbin.Info, error) {
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		return nil, err
	}
	var secs []*wasmbin.Section
	for _, sec := range m.Sections {
		if sec.ID == wasmbin.SecType || sec.ID == wasmbin.SecImport {
			secs = append(secs, sec)
		}
	}
	m.Sections = secs
	return m.Decode()
}

// CheckImports reports the imports of compiled that wazix cannot provide,
// as "module.name" strings, with the expected signature when only the
// signature is wrong. Memories are provided whatever their name.
func CheckImports(compiled wazero.CompiledModule) []string {
	var missing []string
	for _, im := range importsOf(compiled) {
		if _, ok := compat.Find(im.Module, im.Name, im.Params, im.Results); ok {
			continue
		}
		if forms := compat.Lookup(im.Module, im.Name); len(forms) > 0 {
			missing = append(missing, fmt.Sprintf("%s.%s%s (wazix has %s%s)", im.Module, im.Name,
				compat.Signature(im.Params, im.Results), im.Name, forms[0].Signature()))
			continue
		}
		missing = append(missing, im.Module+"."+im.Name)
	}
	sort.Strings(missing)
	return missing
}
