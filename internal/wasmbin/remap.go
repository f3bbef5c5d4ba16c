package wasmbin

import "fmt"

// RemapFunctions renumbers every reference to a function: call and
// return_call and ref.func in code, function indices and ref.func in element
// segments and global initialisers, function exports, the start function, and
// the function, local and label subsections of the "name" section. mapIndex
// receives every old index and must return the new one. names adds entries to
// the "name" section's function subsection (for new functions); it is
// ignored when the module has no "name" section. A malformed "name" section is
// dropped rather than written back with stale indices.
//
// Sections are only rewritten where an index changes; an identity mapping
// leaves the module byte for byte as it was.
func (m *Module) RemapFunctions(mapIndex func(uint32) uint32, names map[uint32]string) error {
	var dropName bool
	for _, s := range m.Sections {
		r := newReader(s.Payload, s.Offset)
		in := &Info{}
		var refs []funcRef
		var err error
		switch s.ID {
		case SecGlobal:
			refs, err = in.decodeGlobals(r)
		case SecExport:
			refs, err = in.decodeExports(r)
		case SecStart:
			refs, err = in.decodeStart(r)
		case SecElement:
			refs, err = in.decodeElements(r)
		case SecCode:
			var p []byte
			if p, err = remapCode(s, mapIndex); err == nil {
				s.Payload = p
			}
			if err != nil {
				return wrap(s.ID, err)
			}
			continue
		case SecCustom:
			if s.Name != "name" {
				continue
			}
			ns, err := decodeNames(s)
			if err != nil {
				dropName = true
				continue
			}
			if len(names) == 0 && !ns.changes(mapIndex) {
				continue
			}
			ns.remap(mapIndex, names)
			s.Payload = ns.encode()
			continue
		default:
			continue
		}
		if err != nil {
			return wrap(s.ID, err)
		}
		if !refsChange(refs, mapIndex) {
			continue
		}
		sortRefs(refs)
		s.Payload = rewriteRefs(nil, s.Payload, refs, mapIndex)
	}
	if dropName && !m.isIdentity(mapIndex) {
		m.RemoveSection(SecCustom, "name")
	}
	return nil
}

func remapCode(s *Section, mapIndex func(uint32) uint32) ([]byte, error) {
	r := newReader(s.Payload, s.Offset)
	in := &Info{}
	if err := in.decodeCode(r); err != nil {
		return nil, err
	}
	anyChange := false
	for _, b := range in.Bodies {
		anyChange = anyChange || refsChange(b.refs, mapIndex)
	}
	if !anyChange {
		return s.Payload, nil
	}
	cr := newReader(s.Payload, s.Offset)
	if _, err := cr.u32("function body count"); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(s.Payload)+len(s.Payload)/16)
	out = append(out, s.Payload[:cr.pos]...)
	pos := cr.pos
	for _, b := range in.Bodies {
		// Locate this body's size prefix: it ends where the body starts.
		bodyStart := pos
		for bodyStart < len(s.Payload) && s.Payload[bodyStart]&0x80 != 0 {
			bodyStart++
		}
		bodyStart++
		if !refsChange(b.refs, mapIndex) {
			out = append(out, s.Payload[pos:bodyStart+len(b.Code)]...)
		} else {
			nb := rewriteRefs(make([]byte, 0, len(b.Code)+8), b.Code, b.refs, mapIndex)
			out = appendU32(out, uint32(len(nb)))
			out = append(out, nb...)
		}
		pos = bodyStart + len(b.Code)
	}
	if pos != len(s.Payload) {
		return nil, fmt.Errorf("internal error: code section walk ended at %d of %d", pos, len(s.Payload))
	}
	return out, nil
}

// AppendToVector adds encoded items to a section payload that is a vector
// (type, import, function, global, export, code, ...), updating its count.
// A nil payload is treated as an empty vector.
func AppendToVector(payload []byte, items ...[]byte) ([]byte, error) {
	n := uint32(0)
	rest := payload
	if len(payload) > 0 {
		r := newReader(payload, 0)
		var err error
		if n, err = r.u32("vector count"); err != nil {
			return nil, err
		}
		rest = payload[r.pos:]
	}
	out := appendU32(nil, n+uint32(len(items)))
	out = append(out, rest...)
	for _, it := range items {
		out = append(out, it...)
	}
	return out, nil
}

// AppendCodeBody appends a function body (locals and instructions, ending
// with the end opcode) with its size prefix.
func AppendCodeBody(b []byte, body []byte) []byte {
	b = appendU32(b, uint32(len(body)))
	return append(b, body...)
}

// EncodeImports encodes a whole import section payload.
func EncodeImports(ims []Import) []byte {
	out := appendU32(nil, uint32(len(ims)))
	for _, im := range ims {
		out = AppendImport(out, im)
	}
	return out
}

func refsChange(refs []funcRef, mapIndex func(uint32) uint32) bool {
	for _, ref := range refs {
		if mapIndex(ref.index) != ref.index {
			return true
		}
	}
	return false
}

// isIdentity reports whether mapIndex leaves every function index of the
// module unchanged (and the module's function index space is decodable).
func (m *Module) isIdentity(mapIndex func(uint32) uint32) bool {
	in := &Info{}
	if r := m.sectionReader(SecImport); r != nil && in.decodeImports(r) != nil {
		return false
	}
	if r := m.sectionReader(SecFunction); r != nil && in.decodeFunctions(r) != nil {
		return false
	}
	for i := uint32(0); i < uint32(in.NumFunctions()); i++ {
		if mapIndex(i) != i {
			return false
		}
	}
	return true
}
