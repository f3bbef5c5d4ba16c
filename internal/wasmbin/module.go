// Package wasmbin reads, edits and writes WebAssembly binary modules.
//
// It is built for rewriting rather than for compiling: a [Module] keeps every
// section's bytes as they were read, the typed views ([Module.Decode]) are
// computed from those bytes, and the editing helpers replace only the sections
// they change, so everything else is written back byte for byte. The one deep
// edit it supports, [Module.RemapFunctions], walks every instruction of every
// function body (MVP, sign extension, saturating conversions, bulk memory,
// reference types, multi-value, tail calls, SIMD, threads/atomics and both
// exception-handling encodings) so that adding or removing imported functions
// can be done safely.
//
// Hostile input is expected: counts are checked against the bytes left before
// anything is allocated, LEB128 integers are checked for length and range, and
// every failure is one error that names the offset. No input makes it panic.
package wasmbin

import (
	"bytes"
	"fmt"
)

// Section ids, in the order the binary format requires (custom sections may
// appear anywhere; the tag section sits between memory and global).
const (
	SecCustom    byte = 0
	SecType      byte = 1
	SecImport    byte = 2
	SecFunction  byte = 3
	SecTable     byte = 4
	SecMemory    byte = 5
	SecGlobal    byte = 6
	SecExport    byte = 7
	SecStart     byte = 8
	SecElement   byte = 9
	SecCode      byte = 10
	SecData      byte = 11
	SecDataCount byte = 12
	SecTag       byte = 13
)

// sectionRank gives each known section its position in the required order
// (0: not a known non-custom section). The section tables are arrays, static
// data: nothing to build when a program that links this package starts.
var sectionRank = [256]int{
	SecType: 1, SecImport: 2, SecFunction: 3, SecTable: 4, SecMemory: 5, SecTag: 6,
	SecGlobal: 7, SecExport: 8, SecStart: 9, SecElement: 10, SecDataCount: 11,
	SecCode: 12, SecData: 13,
}

var sectionNames = [256]string{
	SecCustom: "custom", SecType: "type", SecImport: "import", SecFunction: "function",
	SecTable: "table", SecMemory: "memory", SecGlobal: "global", SecExport: "export",
	SecStart: "start", SecElement: "element", SecCode: "code", SecData: "data",
	SecDataCount: "data count", SecTag: "tag",
}

// SectionName returns the spec name of a section id ("type", "code", ...).
func SectionName(id byte) string {
	if n := sectionNames[id]; n != "" {
		return n
	}
	return fmt.Sprintf("unknown(%d)", id)
}

var magic = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// Section is one section of a module. For custom sections Name holds the
// section name and Payload the bytes after it.
type Section struct {
	ID      byte
	Name    string
	Payload []byte
	// Offset is where the payload started in the parsed input (0 for sections
	// made by an edit); errors found while decoding the payload use it.
	Offset int

	// header holds the bytes between the id and the payload as read (some
	// linkers pad the size to five bytes); orig is the payload as read. Encode
	// reuses header while Payload is still orig, so untouched sections are
	// written back exactly.
	header, orig []byte
}

func (s *Section) unchanged() bool {
	return s.header != nil && len(s.Payload) == len(s.orig) &&
		(len(s.orig) == 0 || &s.Payload[0] == &s.orig[0])
}

// Module is a parsed module: its sections in file order.
type Module struct {
	Sections []*Section
}

// Parse splits a binary module into its sections. It checks the header, the
// section framing and the section order, but not the section contents; call
// [Module.Decode] for that.
func Parse(b []byte) (*Module, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("not a wasm module: %d bytes is shorter than the header", len(b))
	}
	if !bytes.Equal(b[:4], magic[:4]) {
		return nil, fmt.Errorf("not a wasm module: bad magic %x", b[:4])
	}
	if !bytes.Equal(b[4:8], magic[4:]) {
		return nil, fmt.Errorf("unsupported wasm binary version %x (components and other layers are not modules)", b[4:8])
	}
	r := newReader(b[8:], 8)
	m := &Module{}
	lastRank := 0
	for !r.done() {
		id, _ := r.byte("section id")
		headerStart := r.pos
		size, err := r.u32("section size")
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(r.len()) {
			return nil, fmt.Errorf("offset %#x: %s section of %d bytes overruns the module (%d bytes left): %w",
				r.base+r.pos, SectionName(id), size, r.len(), ErrTruncated)
		}
		start := r.pos
		payload, _ := r.bytes(int(size), "section")
		s := &Section{ID: id, Payload: payload, Offset: r.base + start}
		s.header = b[8+headerStart : 8+start]
		switch {
		case id == SecCustom:
			pr := newReader(payload, s.Offset)
			name, err := pr.name("custom section name")
			if err != nil {
				return nil, err
			}
			s.Name = name
			s.Payload = payload[pr.pos:]
			s.Offset += pr.pos
			s.header = b[8+headerStart : 8+start+pr.pos]
		case sectionRank[id] == 0:
			return nil, fmt.Errorf("offset %#x: unknown section id %d", s.Offset, id)
		default:
			if sectionRank[id] <= lastRank {
				return nil, fmt.Errorf("offset %#x: %s section is out of order or repeated", s.Offset, SectionName(id))
			}
			lastRank = sectionRank[id]
		}
		s.orig = s.Payload
		m.Sections = append(m.Sections, s)
	}
	return m, nil
}

// Encode writes the module in binary form.
func (m *Module) Encode() []byte {
	n := len(magic)
	for _, s := range m.Sections {
		n += len(s.Payload) + len(s.Name) + 16
	}
	out := make([]byte, 0, n)
	out = append(out, magic...)
	for _, s := range m.Sections {
		out = append(out, s.ID)
		if s.unchanged() {
			out = append(out, s.header...)
		} else if s.ID == SecCustom {
			nameLen := appendName(nil, s.Name)
			out = appendU32(out, uint32(len(nameLen)+len(s.Payload)))
			out = append(out, nameLen...)
		} else {
			out = appendU32(out, uint32(len(s.Payload)))
		}
		out = append(out, s.Payload...)
	}
	return out
}

// Section returns the first section with the given id (for custom sections
// use [Module.Custom]), or nil.
func (m *Module) Section(id byte) *Section {
	for _, s := range m.Sections {
		if s.ID == id && id != SecCustom {
			return s
		}
	}
	return nil
}

// Custom returns the first custom section with the given name, or nil.
func (m *Module) Custom(name string) *Section {
	for _, s := range m.Sections {
		if s.ID == SecCustom && s.Name == name {
			return s
		}
	}
	return nil
}

// SetSection replaces the payload of the section with the given id, or
// inserts a new section at the position the binary format requires.
func (m *Module) SetSection(id byte, payload []byte) {
	if s := m.Section(id); s != nil {
		s.Payload = payload
		s.Offset = 0
		return
	}
	rank := sectionRank[id]
	at := len(m.Sections)
	for i, s := range m.Sections {
		if s.ID != SecCustom && sectionRank[s.ID] > rank {
			at = i
			break
		}
	}
	// Custom sections directly before the next known section stay where they
	// are relative to it (e.g. "name" after "data"); insert right before it.
	ns := &Section{ID: id, Payload: payload}
	m.Sections = append(m.Sections, nil)
	copy(m.Sections[at+1:], m.Sections[at:])
	m.Sections[at] = ns
}

// RemoveSection drops every section with the given id (and, for custom
// sections, the given name).
func (m *Module) RemoveSection(id byte, name string) {
	out := m.Sections[:0]
	for _, s := range m.Sections {
		if s.ID == id && (id != SecCustom || s.Name == name) {
			continue
		}
		out = append(out, s)
	}
	m.Sections = out
}

// sectionReader returns a reader over a section's payload, or nil when the
// section is absent.
func (m *Module) sectionReader(id byte) *reader {
	s := m.Section(id)
	if s == nil {
		return nil
	}
	return newReader(s.Payload, s.Offset)
}

// wrap prefixes an error with the section it was found in.
func wrap(id byte, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s section: %w", SectionName(id), err)
}
