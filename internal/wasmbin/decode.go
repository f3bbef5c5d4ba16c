package wasmbin

import "fmt"

// Info is the decoded content of a module's known sections.
type Info struct {
	Types     []FuncType
	Imports   []Import
	Functions []uint32 // type index of each defined function, in order
	Tables    []Table
	Memories  []Limits
	Tags      []uint32 // type index of each defined tag
	Globals   []Global
	Exports   []Export
	Start     uint32
	HasStart  bool
	Elements  int // number of element segments
	Data      []DataSegment
	Bodies    []Body
	// Features is the set of post-MVP features the module uses, found in its
	// types, limits, imports, exports and instructions.
	Features Feature
	// FunctionNames are the entries of the "name" section's function
	// subsection, by function index (empty when the section is absent).
	FunctionNames map[uint32]string
	// NameSectionError is set when a "name" section exists but is malformed;
	// such a section is not fatal (tools ignore it) but is not rewritten.
	NameSectionError error
}

// DataSegment describes one data segment.
type DataSegment struct {
	Active bool
	Memory uint32
	// Offset is the start address of an active segment whose offset is a
	// plain i32.const (OffsetKnown); other offsets (global.get, extended
	// constant expressions) are computed at instantiation.
	Offset      uint32
	OffsetKnown bool
	Size        uint32
}

// Body is one function body of the code section.
type Body struct {
	// Code is the body without its size prefix: locals, then instructions.
	Code []byte
	// LocalsEnd is where the local declarations end in Code.
	LocalsEnd int
	refs      []funcRef
	atomics   []atomicInstr
}

// ImportedFunctions returns the number of imported functions, which is the
// index of the first defined function.
func (in *Info) ImportedFunctions() int {
	n := 0
	for _, im := range in.Imports {
		if im.Kind == KindFunc {
			n++
		}
	}
	return n
}

// NumFunctions returns the size of the function index space.
func (in *Info) NumFunctions() int { return in.ImportedFunctions() + len(in.Functions) }

// FuncType returns the signature of function idx (imported or defined).
func (in *Info) FuncType(idx uint32) (FuncType, bool) {
	t, ok := in.funcTypeIndex(idx)
	if !ok || int(t) >= len(in.Types) {
		return FuncType{}, false
	}
	return in.Types[t], true
}

func (in *Info) funcTypeIndex(idx uint32) (uint32, bool) {
	for _, im := range in.Imports {
		if im.Kind != KindFunc {
			continue
		}
		if idx == 0 {
			return im.TypeIndex, true
		}
		idx--
	}
	if int64(idx) < int64(len(in.Functions)) {
		return in.Functions[idx], true
	}
	return 0, false
}

// ExportedFunction returns the function index exported under name.
func (in *Info) ExportedFunction(name string) (uint32, bool) {
	for _, e := range in.Exports {
		if e.Kind == KindFunc && e.Name == name {
			return e.Index, true
		}
	}
	return 0, false
}

// Decode decodes and checks every known section, including every
// instruction of every function body.
func (m *Module) Decode() (*Info, error) {
	in := &Info{}
	var err error
	for _, s := range m.Sections {
		r := newReader(s.Payload, s.Offset)
		switch s.ID {
		case SecType:
			err = in.decodeTypes(r)
		case SecImport:
			err = in.decodeImports(r)
		case SecFunction:
			err = in.decodeFunctions(r)
		case SecTable:
			err = in.decodeTables(r)
		case SecMemory:
			err = in.decodeMemories(r)
		case SecTag:
			err = in.decodeTags(r)
		case SecGlobal:
			_, err = in.decodeGlobals(r)
		case SecExport:
			_, err = in.decodeExports(r)
		case SecStart:
			_, err = in.decodeStart(r)
		case SecElement:
			_, err = in.decodeElements(r)
		case SecCode:
			err = in.decodeCode(r)
		case SecData:
			err = in.decodeData(r)
		case SecDataCount:
			_, err = r.u32("data count")
		case SecCustom:
			if s.Name == "name" {
				names, nerr := decodeNames(s)
				if nerr != nil {
					in.NameSectionError = nerr
				} else {
					in.FunctionNames = names.funcNames()
				}
			}
			continue
		}
		if err == nil && !r.done() {
			err = r.errorf("%d bytes left over at the end of the section", r.len())
		}
		if err != nil {
			return nil, wrap(s.ID, err)
		}
	}
	if len(in.Functions) != len(in.Bodies) {
		return nil, fmt.Errorf("function section declares %d functions but the code section has %d bodies",
			len(in.Functions), len(in.Bodies))
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	return in, nil
}

// check verifies the cross-section indices that rewriting relies on.
func (in *Info) check() error {
	nf := uint32(in.NumFunctions())
	for i, im := range in.Imports {
		if (im.Kind == KindFunc || im.Kind == KindTag) && int64(im.TypeIndex) >= int64(len(in.Types)) {
			return fmt.Errorf("import %d (%s.%s): type index %d out of range", i, im.Module, im.Name, im.TypeIndex)
		}
	}
	for i, t := range in.Functions {
		if int64(t) >= int64(len(in.Types)) {
			return fmt.Errorf("function %d: type index %d out of range", i, t)
		}
	}
	for _, e := range in.Exports {
		if e.Kind == KindFunc && e.Index >= nf {
			return fmt.Errorf("export %q: function index %d out of range", e.Name, e.Index)
		}
	}
	if in.HasStart && in.Start >= nf {
		return fmt.Errorf("start function index %d out of range", in.Start)
	}
	for i, b := range in.Bodies {
		for _, ref := range b.refs {
			if ref.index >= nf {
				return fmt.Errorf("function %d: reference to function %d out of range", i, ref.index)
			}
		}
	}
	return nil
}

func (in *Info) decodeTypes(r *reader) error {
	n, err := r.count(3, "type count")
	if err != nil {
		return err
	}
	in.Types = make([]FuncType, 0, n)
	for i := 0; i < n; i++ {
		form, err := r.byte("type form")
		if err != nil {
			return err
		}
		if form != 0x60 {
			return r.errorf("type %d: form %#x is not a function type (GC types are not supported)", i, form)
		}
		var f FuncType
		if f.Params, err = r.valTypes("parameter types"); err != nil {
			return err
		}
		if f.Results, err = r.valTypes("result types"); err != nil {
			return err
		}
		if len(f.Results) > 1 {
			in.Features |= FeatureMultiValue
		}
		in.Types = append(in.Types, f)
	}
	return nil
}

func (in *Info) decodeImports(r *reader) error {
	n, err := r.count(4, "import count")
	if err != nil {
		return err
	}
	in.Imports = make([]Import, 0, n)
	for i := 0; i < n; i++ {
		var im Import
		if im.Module, err = r.name("import module name"); err != nil {
			return err
		}
		if im.Name, err = r.name("import name"); err != nil {
			return err
		}
		if im.Kind, err = r.byte("import kind"); err != nil {
			return err
		}
		start := r.pos
		switch im.Kind {
		case KindFunc:
			im.TypeIndex, err = r.u32("import type index")
		case KindTable:
			if im.RefType, err = r.valType("table element type"); err == nil {
				im.Limits, err = r.limits("table limits")
			}
		case KindMemory:
			im.Limits, err = r.limits("memory limits")
			in.noteMemory(im.Limits)
		case KindGlobal:
			im.Global, err = r.globalType()
			if im.Global.Mutable {
				in.Features |= FeatureMutableGlobals
			}
		case KindTag:
			in.Features |= FeatureExceptions
			if _, err = r.byte("tag attribute"); err == nil {
				im.TypeIndex, err = r.u32("tag type index")
			}
		default:
			return r.errorf("import %d: unknown kind %d", i, im.Kind)
		}
		if err != nil {
			return err
		}
		im.Desc = r.buf[start:r.pos]
		in.Imports = append(in.Imports, im)
	}
	return nil
}

func (in *Info) noteMemory(l Limits) {
	if l.Shared {
		in.Features |= FeatureThreads
	}
	if l.Is64 {
		in.Features |= FeatureMemory64
	}
}

func (r *reader) globalType() (GlobalType, error) {
	var g GlobalType
	var err error
	if g.Type, err = r.valType("global type"); err != nil {
		return g, err
	}
	mut, err := r.byte("global mutability")
	if err != nil {
		return g, err
	}
	if mut > 1 {
		return g, r.errorf("invalid global mutability %d", mut)
	}
	g.Mutable = mut == 1
	return g, nil
}

func (in *Info) decodeFunctions(r *reader) error {
	n, err := r.count(1, "function count")
	if err != nil {
		return err
	}
	in.Functions = make([]uint32, n)
	for i := range in.Functions {
		if in.Functions[i], err = r.u32("function type index"); err != nil {
			return err
		}
	}
	return nil
}

func (in *Info) decodeTables(r *reader) error {
	n, err := r.count(3, "table count")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		var t Table
		if t.RefType, err = r.valType("table element type"); err != nil {
			return err
		}
		if t.Limits, err = r.limits("table limits"); err != nil {
			return err
		}
		in.Tables = append(in.Tables, t)
	}
	if len(in.Tables) > 1 {
		in.Features |= FeatureRefTypes
	}
	return nil
}

func (in *Info) decodeMemories(r *reader) error {
	n, err := r.count(2, "memory count")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		l, err := r.limits("memory limits")
		if err != nil {
			return err
		}
		in.noteMemory(l)
		in.Memories = append(in.Memories, l)
	}
	return nil
}

func (in *Info) decodeTags(r *reader) error {
	in.Features |= FeatureExceptions
	n, err := r.count(2, "tag count")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := r.byte("tag attribute"); err != nil {
			return err
		}
		t, err := r.u32("tag type index")
		if err != nil {
			return err
		}
		in.Tags = append(in.Tags, t)
	}
	return nil
}

// constExpr decodes a constant expression and returns its bytes.
func (in *Info) constExpr(r *reader, w *exprWalker) ([]byte, error) {
	start := r.pos
	if err := w.expr(r); err != nil {
		return nil, err
	}
	return r.buf[start:r.pos], nil
}

func (in *Info) decodeGlobals(r *reader) ([]funcRef, error) {
	n, err := r.count(3, "global count")
	if err != nil {
		return nil, err
	}
	w := &exprWalker{}
	for i := 0; i < n; i++ {
		var g Global
		if g.Type, err = r.globalType(); err != nil {
			return nil, err
		}
		if g.Init, err = in.constExpr(r, w); err != nil {
			return nil, err
		}
		in.Globals = append(in.Globals, g)
	}
	in.Features |= w.features
	return w.refs, nil
}

func (in *Info) decodeExports(r *reader) ([]funcRef, error) {
	n, err := r.count(3, "export count")
	if err != nil {
		return nil, err
	}
	var refs []funcRef
	seen := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		var e Export
		if e.Name, err = r.name("export name"); err != nil {
			return nil, err
		}
		if seen[e.Name] {
			return nil, r.errorf("duplicate export name %q", e.Name)
		}
		seen[e.Name] = true
		if e.Kind, err = r.byte("export kind"); err != nil {
			return nil, err
		}
		if e.Kind > KindTag {
			return nil, r.errorf("export %q: unknown kind %d", e.Name, e.Kind)
		}
		start := r.pos
		if e.Index, err = r.u32("export index"); err != nil {
			return nil, err
		}
		if e.Kind == KindFunc {
			refs = append(refs, funcRef{start: start, end: r.pos, index: e.Index})
		}
		in.Exports = append(in.Exports, e)
	}
	return refs, nil
}

func (in *Info) decodeStart(r *reader) ([]funcRef, error) {
	start := r.pos
	idx, err := r.u32("start function index")
	if err != nil {
		return nil, err
	}
	in.Start, in.HasStart = idx, true
	return []funcRef{{start: start, end: r.pos, index: idx}}, nil
}

// decodeElements walks all eight element segment encodings and returns the
// location of every function index in them.
func (in *Info) decodeElements(r *reader) ([]funcRef, error) {
	n, err := r.count(2, "element segment count")
	if err != nil {
		return nil, err
	}
	in.Elements = n
	w := &exprWalker{}
	for i := 0; i < n; i++ {
		flags, err := r.u32("element segment flags")
		if err != nil {
			return nil, err
		}
		if flags > 7 {
			return nil, r.errorf("element segment %d: unknown flags %d", i, flags)
		}
		if flags != 0 {
			w.features |= FeatureBulkMemory
		}
		active := flags&1 == 0
		explicitTable := flags&2 != 0
		usesExprs := flags&4 != 0
		if active && explicitTable {
			if _, err := r.u32("element table index"); err != nil {
				return nil, err
			}
		}
		if active {
			if _, err := in.constExpr(r, w); err != nil {
				return nil, err
			}
		}
		if !active || explicitTable {
			// element kind (0x00 = funcref) or reference type
			if usesExprs {
				if _, err := r.valType("element reference type"); err != nil {
					return nil, err
				}
			} else if kind, err := r.byte("element kind"); err != nil {
				return nil, err
			} else if kind != 0 {
				return nil, r.errorf("element segment %d: unknown element kind %d", i, kind)
			}
		}
		cnt, err := r.count(1, "element count")
		if err != nil {
			return nil, err
		}
		for j := 0; j < cnt; j++ {
			if usesExprs {
				if _, err := in.constExpr(r, w); err != nil {
					return nil, err
				}
			} else if err := w.funcIndex(r); err != nil {
				return nil, err
			}
		}
	}
	in.Features |= w.features
	return w.refs, nil
}

func (in *Info) decodeCode(r *reader) error {
	n, err := r.count(2, "function body count")
	if err != nil {
		return err
	}
	in.Bodies = make([]Body, 0, n)
	for i := 0; i < n; i++ {
		size, err := r.u32("function body size")
		if err != nil {
			return err
		}
		if uint64(size) > uint64(r.len()) {
			return r.truncated(fmt.Sprintf("function body %d of %d bytes", i, size))
		}
		br := newReader(r.buf[r.pos:r.pos+int(size)], r.base+r.pos)
		r.pos += int(size)
		w := &exprWalker{}
		if err := decodeLocals(br); err != nil {
			return fmt.Errorf("function body %d: %w", i, err)
		}
		localsEnd := br.pos
		if err := w.expr(br); err != nil {
			return fmt.Errorf("function body %d: %w", i, err)
		}
		if !br.done() {
			return fmt.Errorf("function body %d: %w", i, br.errorf("%d bytes after the final end", br.len()))
		}
		in.Features |= w.features
		in.Bodies = append(in.Bodies, Body{Code: br.buf, LocalsEnd: localsEnd, refs: w.refs, atomics: w.atomics})
	}
	return nil
}

// maxLocals bounds the declared locals of one function, as engines do; it
// keeps a hostile body from declaring billions of locals.
const maxLocals = 50000

func decodeLocals(r *reader) error {
	groups, err := r.count(2, "local declaration count")
	if err != nil {
		return err
	}
	total := uint64(0)
	for i := 0; i < groups; i++ {
		n, err := r.u32("local count")
		if err != nil {
			return err
		}
		total += uint64(n)
		if total > maxLocals {
			return r.errorf("more than %d locals", maxLocals)
		}
		if _, err := r.valType("local type"); err != nil {
			return err
		}
	}
	return nil
}

func (in *Info) decodeData(r *reader) error {
	n, err := r.count(2, "data segment count")
	if err != nil {
		return err
	}
	w := &exprWalker{}
	for i := 0; i < n; i++ {
		flags, err := r.u32("data segment flags")
		if err != nil {
			return err
		}
		seg := DataSegment{Active: flags != 1}
		switch flags {
		case 0:
		case 1:
			in.Features |= FeatureBulkMemory
		case 2:
			in.Features |= FeatureMultiMemory
			if seg.Memory, err = r.u32("data memory index"); err != nil {
				return err
			}
		default:
			return r.errorf("data segment %d: unknown flags %d", i, flags)
		}
		if seg.Active {
			expr, err := in.constExpr(r, w)
			if err != nil {
				return err
			}
			// i32.const v end
			if er := newReader(expr, 0); len(expr) > 2 && expr[0] == 0x41 {
				er.pos = 1
				if v, err := er.sleb(32, "offset"); err == nil && er.len() == 1 && expr[er.pos] == 0x0b {
					seg.Offset, seg.OffsetKnown = uint32(v), true
				}
			}
		}
		if seg.Size, err = r.u32("data size"); err != nil {
			return err
		}
		if _, err := r.bytes(int(min(seg.Size, 1<<31)), "data bytes"); err != nil {
			return err
		}
		in.Data = append(in.Data, seg)
	}
	in.Features |= w.features
	return nil
}
