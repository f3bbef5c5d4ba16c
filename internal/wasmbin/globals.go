package wasmbin

import "strconv"

// ExportMutableGlobals returns wasm with each mutable global it defines
// exported as prefix followed by a number counting from 0, in the order of
// the globals, and how many it exported. A host that copies an instance's
// state into another (fork) reads and sets them through these exports.
func ExportMutableGlobals(wasm []byte, prefix string) ([]byte, int, error) {
	m, err := Parse(wasm)
	if err != nil {
		return nil, 0, err
	}
	in, err := m.Decode()
	if err != nil {
		return nil, 0, err
	}
	imported := uint32(0)
	for _, im := range in.Imports {
		if im.Kind == KindGlobal {
			imported++
		}
	}
	var items [][]byte
	for i, g := range in.Globals {
		if !g.Type.Mutable {
			continue
		}
		name := prefix + strconv.Itoa(len(items))
		items = append(items, AppendExport(nil, Export{Name: name, Kind: KindGlobal, Index: imported + uint32(i)}))
	}
	if len(items) == 0 {
		return wasm, 0, nil
	}
	var payload []byte
	if s := m.Section(SecExport); s != nil {
		payload = s.Payload
	}
	p, err := AppendToVector(payload, items...)
	if err != nil {
		return nil, 0, err
	}
	m.SetSection(SecExport, p)
	return m.Encode(), len(items), nil
}
