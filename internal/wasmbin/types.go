package wasmbin

import (
	"fmt"
	"strings"
)

// ValType is a value type in its binary encoding (one byte for number,
// vector and abbreviated reference types; more for typed references), kept as
// a string so that types compare with ==.
type ValType string

// The value types of the core specification.
const (
	I32       ValType = "\x7f"
	I64       ValType = "\x7e"
	F32       ValType = "\x7d"
	F64       ValType = "\x7c"
	V128      ValType = "\x7b"
	FuncRef   ValType = "\x70"
	ExternRef ValType = "\x6f"
	ExnRef    ValType = "\x69"
)

// valTypeName returns the name of a one-byte value type, or "".
func valTypeName(t ValType) string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	case ExnRef:
		return "exnref"
	case "\x6e":
		return "anyref"
	case "\x6d":
		return "eqref"
	case "\x6c":
		return "i31ref"
	case "\x6b":
		return "structref"
	case "\x6a":
		return "arrayref"
	case "\x71":
		return "nullref"
	case "\x72":
		return "nullexternref"
	case "\x73":
		return "nullfuncref"
	case "\x74":
		return "nullexnref"
	}
	return ""
}

// String returns the text-format name ("i32", "funcref", "(ref null 3)").
func (t ValType) String() string {
	if n := valTypeName(t); n != "" {
		return n
	}
	if len(t) > 1 && (t[0] == 0x63 || t[0] == 0x64) {
		r := newReader([]byte(t[1:]), 0)
		ht, err := r.sleb(33, "heap type")
		if err == nil {
			null := ""
			if t[0] == 0x63 {
				null = "null "
			}
			if ht >= 0 {
				return fmt.Sprintf("(ref %s%d)", null, ht)
			}
			if n := valTypeName(ValType([]byte{byte(ht & 0x7f)})); n != "" {
				return fmt.Sprintf("(ref %s%s)", null, strings.TrimSuffix(n, "ref"))
			}
		}
	}
	return fmt.Sprintf("valtype(%x)", string(t))
}

func (r *reader) valType(what string) (ValType, error) {
	start := r.pos
	b, err := r.byte(what)
	if err != nil {
		return "", err
	}
	switch {
	case b == 0x63 || b == 0x64:
		if err := r.heapType(what); err != nil {
			return "", err
		}
	case b >= 0x69 && b <= 0x7f && b != 0x75 && b != 0x76 && b != 0x77 && b != 0x78 && b != 0x79 && b != 0x7a:
	default:
		r.pos = start
		return "", r.errorf("%s: unknown value type %#x", what, b)
	}
	return ValType(r.buf[start:r.pos]), nil
}

// heapType reads a heap type: an abbreviation (negative s33) or a type index.
func (r *reader) heapType(what string) error {
	_, err := r.sleb(33, what+" heap type")
	return err
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValType
}

// String prints the signature as "(i32,i64)->(i32)".
func (f FuncType) String() string {
	return "(" + joinTypes(f.Params) + ")->(" + joinTypes(f.Results) + ")"
}

func joinTypes(ts []ValType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ",")
}

// Equal reports whether two signatures are identical.
func (f FuncType) Equal(g FuncType) bool {
	if len(f.Params) != len(g.Params) || len(f.Results) != len(g.Results) {
		return false
	}
	for i := range f.Params {
		if f.Params[i] != g.Params[i] {
			return false
		}
	}
	for i := range f.Results {
		if f.Results[i] != g.Results[i] {
			return false
		}
	}
	return true
}

func (r *reader) valTypes(what string) ([]ValType, error) {
	n, err := r.count(1, what)
	if err != nil {
		return nil, err
	}
	ts := make([]ValType, n)
	for i := range ts {
		if ts[i], err = r.valType(what); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// AppendFuncType appends the binary encoding of f (0x60 params results).
func AppendFuncType(b []byte, f FuncType) []byte {
	b = append(b, 0x60)
	b = appendU32(b, uint32(len(f.Params)))
	for _, t := range f.Params {
		b = append(b, t...)
	}
	b = appendU32(b, uint32(len(f.Results)))
	for _, t := range f.Results {
		b = append(b, t...)
	}
	return b
}

// Limits are the size limits of a memory or table.
type Limits struct {
	Min    uint64
	Max    uint64
	HasMax bool
	Shared bool
	Is64   bool // memory64 / table64
}

func (l Limits) String() string {
	s := fmt.Sprintf("min %d", l.Min)
	if l.HasMax {
		s += fmt.Sprintf(" max %d", l.Max)
	}
	if l.Shared {
		s += " shared"
	}
	if l.Is64 {
		s += " i64"
	}
	return s
}

func (r *reader) limits(what string) (Limits, error) {
	flags, err := r.byte(what)
	if err != nil {
		return Limits{}, err
	}
	if flags > 7 {
		return Limits{}, r.errorf("%s: unknown limits flags %#x", what, flags)
	}
	l := Limits{HasMax: flags&1 != 0, Shared: flags&2 != 0, Is64: flags&4 != 0}
	bits := uint(32)
	if l.Is64 {
		bits = 64
	}
	if l.Min, err = r.uleb(bits, what+" minimum"); err != nil {
		return l, err
	}
	if l.HasMax {
		if l.Max, err = r.uleb(bits, what+" maximum"); err != nil {
			return l, err
		}
	}
	return l, nil
}

// AppendLimits appends the binary encoding of l.
func AppendLimits(b []byte, l Limits) []byte {
	var flags byte
	if l.HasMax {
		flags |= 1
	}
	if l.Shared {
		flags |= 2
	}
	if l.Is64 {
		flags |= 4
	}
	b = append(b, flags)
	b = appendU64(b, l.Min)
	if l.HasMax {
		b = appendU64(b, l.Max)
	}
	return b
}

// External kinds of imports and exports.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
	KindTag    byte = 4
)

// KindName returns "func", "table", "memory", "global" or "tag".
func KindName(k byte) string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Import is one entry of the import section.
type Import struct {
	Module, Name string
	Kind         byte
	// TypeIndex is the signature of a function or tag import.
	TypeIndex uint32
	// Limits describes a memory or table import.
	Limits Limits
	// RefType is the element type of a table import.
	RefType ValType
	// Global describes a global import.
	Global GlobalType
	// Desc is the encoded import description, kept so that unchanged imports
	// are written back exactly.
	Desc []byte
}

// GlobalType is the type of a global.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// AppendImport appends the binary encoding of an import. Desc is used when
// set; otherwise a function import with TypeIndex is written.
func AppendImport(b []byte, im Import) []byte {
	b = appendName(b, im.Module)
	b = appendName(b, im.Name)
	b = append(b, im.Kind)
	if im.Desc != nil {
		return append(b, im.Desc...)
	}
	switch im.Kind {
	case KindFunc:
		return appendU32(b, im.TypeIndex)
	case KindMemory:
		return AppendLimits(b, im.Limits)
	case KindTable:
		b = append(b, im.RefType...)
		return AppendLimits(b, im.Limits)
	case KindGlobal:
		b = append(b, im.Global.Type...)
		if im.Global.Mutable {
			return append(b, 1)
		}
		return append(b, 0)
	case KindTag:
		b = append(b, 0)
		return appendU32(b, im.TypeIndex)
	}
	return b
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// AppendExport appends the binary encoding of an export.
func AppendExport(b []byte, e Export) []byte {
	b = appendName(b, e.Name)
	b = append(b, e.Kind)
	return appendU32(b, e.Index)
}

// Table is a table definition.
type Table struct {
	RefType ValType
	Limits  Limits
}

// Global is a global definition; Init is its encoded constant expression
// including the final end opcode.
type Global struct {
	Type GlobalType
	Init []byte
}

// AppendGlobal appends the binary encoding of a global definition.
func AppendGlobal(b []byte, g Global) []byte {
	b = append(b, g.Type.Type...)
	if g.Type.Mutable {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, g.Init...)
}
