package wasmbin

import (
	"sort"
	"strings"
)

// Feature is one post-MVP proposal that a module's binary uses.
type Feature uint32

// The features that [Module.Decode] detects.
const (
	FeatureSignExt Feature = 1 << iota
	FeatureSatConv
	FeatureBulkMemory
	FeatureRefTypes
	FeatureMultiValue
	FeatureTailCalls
	FeatureSIMD
	FeatureThreads // shared memory and atomic instructions
	FeatureExceptions
	FeatureLegacyExceptions // try/catch/delegate/rethrow encoding
	FeatureMutableGlobals   // imported or exported mutable globals
	FeatureMemory64
	FeatureMultiMemory
	FeatureTypedFuncRefs
	FeatureExtendedConst
)

var featureNames = []struct {
	f    Feature
	name string
}{
	{FeatureSignExt, "sign-ext"},
	{FeatureSatConv, "nontrapping-float-to-int"},
	{FeatureBulkMemory, "bulk-memory"},
	{FeatureRefTypes, "reference-types"},
	{FeatureMultiValue, "multi-value"},
	{FeatureTailCalls, "tail-call"},
	{FeatureSIMD, "simd"},
	{FeatureThreads, "threads"},
	{FeatureExceptions, "exceptions"},
	{FeatureLegacyExceptions, "legacy-exceptions"},
	{FeatureMutableGlobals, "mutable-globals"},
	{FeatureMemory64, "memory64"},
	{FeatureMultiMemory, "multi-memory"},
	{FeatureTypedFuncRefs, "typed-function-references"},
	{FeatureExtendedConst, "extended-const"},
}

// Names lists the features in a set by their wasm-tools/wabt names.
func (f Feature) Names() []string {
	var out []string
	for _, n := range featureNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (f Feature) String() string {
	if f == 0 {
		return "mvp"
	}
	return strings.Join(f.Names(), ",")
}

// funcRef locates one function-index immediate inside an instruction stream.
type funcRef struct {
	start, end int // byte range of the LEB128 immediate, relative to the reader's buffer
	index      uint32
}

// exprWalker decodes instruction streams. It records the features used and
// the location of every function index (call, return_call, ref.func).
type exprWalker struct {
	features Feature
	refs     []funcRef
	atomics  []atomicInstr
}

// atomicInstr locates one 0xfe instruction: [start, end) covers the prefix,
// sub-opcode and immediates; memarg is the encoded memarg (nil for fence).
type atomicInstr struct {
	start, end int
	sub        uint32
	memarg     []byte
}

func (w *exprWalker) funcIndex(r *reader) error {
	start := r.pos
	idx, err := r.u32("function index")
	if err != nil {
		return err
	}
	w.refs = append(w.refs, funcRef{start: start, end: r.pos, index: idx})
	return nil
}

func (w *exprWalker) blockType(r *reader) error {
	v, err := r.sleb(33, "block type")
	if err != nil {
		return err
	}
	switch {
	case v >= 0:
		w.features |= FeatureMultiValue
	case v == -0x1d || v == -0x1c: // (ref null ht), (ref ht)
		w.features |= FeatureTypedFuncRefs
		return r.heapType("block type")
	case v == -0x40: // empty
	case v >= -0x17 && v <= -0x01: // single value type (abbreviated)
	default:
		return r.errorf("invalid block type %d", v)
	}
	return nil
}

func (w *exprWalker) memarg(r *reader) error {
	align, err := r.u32("memarg alignment")
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		w.features |= FeatureMultiMemory
		if _, err := r.u32("memarg memory index"); err != nil {
			return err
		}
	}
	_, err = r.uleb(64, "memarg offset")
	return err
}

func (w *exprWalker) skipU32(r *reader, what string, n int) error {
	for i := 0; i < n; i++ {
		if _, err := r.u32(what); err != nil {
			return err
		}
	}
	return nil
}

// expr decodes instructions up to and including the end opcode that closes
// the expression (a function body or a constant expression).
func (w *exprWalker) expr(r *reader) error {
	depth := 1
	for depth > 0 {
		opPos := r.pos
		op, err := r.byte("opcode")
		if err != nil {
			return err
		}
		switch {
		case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b:
		case op == 0x02 || op == 0x03 || op == 0x04:
			err = w.blockType(r)
			depth++
		case op == 0x06: // try (legacy)
			w.features |= FeatureLegacyExceptions
			err = w.blockType(r)
			depth++
		case op == 0x07: // catch tag (legacy)
			w.features |= FeatureLegacyExceptions
			err = w.skipU32(r, "tag index", 1)
		case op == 0x08: // throw tag
			w.features |= FeatureExceptions
			err = w.skipU32(r, "tag index", 1)
		case op == 0x09: // rethrow (legacy)
			w.features |= FeatureLegacyExceptions
			err = w.skipU32(r, "label", 1)
		case op == 0x0a: // throw_ref
			w.features |= FeatureExceptions
		case op == 0x0b:
			depth--
		case op == 0x0c || op == 0x0d:
			err = w.skipU32(r, "label", 1)
		case op == 0x0e:
			var n int
			if n, err = r.count(1, "br_table labels"); err == nil {
				err = w.skipU32(r, "label", n+1)
			}
		case op == 0x10:
			err = w.funcIndex(r)
		case op == 0x11:
			err = w.skipU32(r, "call_indirect immediate", 2)
		case op == 0x12:
			w.features |= FeatureTailCalls
			err = w.funcIndex(r)
		case op == 0x13:
			w.features |= FeatureTailCalls
			err = w.skipU32(r, "return_call_indirect immediate", 2)
		case op == 0x14 || op == 0x15: // call_ref, return_call_ref
			w.features |= FeatureTypedFuncRefs
			if op == 0x15 {
				w.features |= FeatureTailCalls
			}
			err = w.skipU32(r, "type index", 1)
		case op == 0x18: // delegate (legacy): ends the try block
			w.features |= FeatureLegacyExceptions
			err = w.skipU32(r, "label", 1)
			depth--
		case op == 0x19: // catch_all (legacy)
			w.features |= FeatureLegacyExceptions
		case op == 0x1c: // select t*
			w.features |= FeatureRefTypes
			_, err = r.valTypes("select types")
		case op == 0x1f: // try_table
			w.features |= FeatureExceptions
			if err = w.blockType(r); err != nil {
				break
			}
			depth++
			var n int
			if n, err = r.count(2, "try_table catches"); err != nil {
				break
			}
			for i := 0; i < n && err == nil; i++ {
				var kind byte
				if kind, err = r.byte("catch kind"); err != nil {
					break
				}
				switch kind {
				case 0, 1:
					err = w.skipU32(r, "catch immediate", 2)
				case 2, 3:
					err = w.skipU32(r, "label", 1)
				default:
					err = r.errorf("unknown catch kind %d", kind)
				}
			}
		case op >= 0x20 && op <= 0x24:
			err = w.skipU32(r, "index", 1)
		case op == 0x25 || op == 0x26:
			w.features |= FeatureRefTypes
			err = w.skipU32(r, "table index", 1)
		case op >= 0x28 && op <= 0x3e:
			err = w.memarg(r)
		case op == 0x3f || op == 0x40:
			var idx uint32
			if idx, err = r.u32("memory index"); idx != 0 {
				w.features |= FeatureMultiMemory
			}
		case op == 0x41:
			_, err = r.sleb(32, "i32.const")
		case op == 0x42:
			_, err = r.sleb(64, "i64.const")
		case op == 0x43:
			_, err = r.bytes(4, "f32.const")
		case op == 0x44:
			_, err = r.bytes(8, "f64.const")
		case op >= 0x45 && op <= 0xbf:
		case op >= 0xc0 && op <= 0xc4:
			w.features |= FeatureSignExt
		case op == 0xd0:
			w.features |= FeatureRefTypes
			err = r.heapType("ref.null")
		case op == 0xd1:
			w.features |= FeatureRefTypes
		case op == 0xd2:
			w.features |= FeatureRefTypes
			err = w.funcIndex(r)
		case op == 0xd3 || op == 0xd4:
			w.features |= FeatureTypedFuncRefs
		case op == 0xd5 || op == 0xd6:
			w.features |= FeatureTypedFuncRefs
			err = w.skipU32(r, "label", 1)
		case op == 0xfc:
			err = w.prefixFC(r)
		case op == 0xfd:
			err = w.prefixFD(r)
		case op == 0xfe:
			err = w.prefixFE(r)
		default:
			r.pos = opPos
			return r.errorf("unknown or unsupported opcode %#x", op)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *exprWalker) prefixFC(r *reader) error {
	sub, err := r.u32("0xfc sub-opcode")
	if err != nil {
		return err
	}
	switch {
	case sub <= 7:
		w.features |= FeatureSatConv
		return nil
	case sub == 8: // memory.init data mem
		w.features |= FeatureBulkMemory
		return w.skipU32(r, "memory.init immediate", 2)
	case sub == 9: // data.drop
		w.features |= FeatureBulkMemory
		return w.skipU32(r, "data index", 1)
	case sub == 10: // memory.copy dst src
		w.features |= FeatureBulkMemory
		return w.skipU32(r, "memory index", 2)
	case sub == 11: // memory.fill
		w.features |= FeatureBulkMemory
		return w.skipU32(r, "memory index", 1)
	case sub == 12 || sub == 14: // table.init elem table, table.copy dst src
		w.features |= FeatureBulkMemory
		return w.skipU32(r, "table immediate", 2)
	case sub == 13: // elem.drop
		w.features |= FeatureBulkMemory
		return w.skipU32(r, "element index", 1)
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		w.features |= FeatureRefTypes
		return w.skipU32(r, "table index", 1)
	}
	return r.errorf("unknown 0xfc sub-opcode %d", sub)
}

func (w *exprWalker) prefixFD(r *reader) error {
	w.features |= FeatureSIMD
	sub, err := r.u32("0xfd sub-opcode")
	if err != nil {
		return err
	}
	switch {
	case sub <= 11 || sub == 92 || sub == 93: // loads, store, load_zero
		return w.memarg(r)
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		_, err = r.bytes(16, "v128 immediate")
		return err
	case sub >= 21 && sub <= 34: // extract/replace lane
		_, err = r.byte("lane index")
		return err
	case sub >= 84 && sub <= 91: // load/store lane
		if err := w.memarg(r); err != nil {
			return err
		}
		_, err = r.byte("lane index")
		return err
	case sub <= 0xff || (sub >= 0x100 && sub <= 0x113): // everything else, incl. relaxed SIMD
		return nil
	}
	return r.errorf("unknown 0xfd sub-opcode %d", sub)
}

func (w *exprWalker) prefixFE(r *reader) error {
	w.features |= FeatureThreads
	start := r.pos - 1
	sub, err := r.u32("0xfe sub-opcode")
	if err != nil {
		return err
	}
	switch {
	case sub == 3: // atomic.fence
		_, err = r.byte("atomic.fence flags")
		w.atomics = append(w.atomics, atomicInstr{start: start, end: r.pos, sub: sub})
		return err
	case sub <= 2 || (sub >= 0x10 && sub <= 0x4e):
		m := r.pos
		if err := w.memarg(r); err != nil {
			return err
		}
		w.atomics = append(w.atomics, atomicInstr{start: start, end: r.pos, sub: sub, memarg: r.buf[m:r.pos]})
		return nil
	}
	return r.errorf("unknown 0xfe sub-opcode %d", sub)
}

// rewriteRefs copies buf, replacing the function indices at refs by their
// mapped values. Unchanged indices keep their original bytes, so an identity
// mapping gives back the input exactly.
func rewriteRefs(dst, buf []byte, refs []funcRef, mapIndex func(uint32) uint32) []byte {
	mark := 0
	for _, ref := range refs {
		n := mapIndex(ref.index)
		if n == ref.index {
			continue
		}
		dst = append(dst, buf[mark:ref.start]...)
		dst = appendU32(dst, n)
		mark = ref.end
	}
	return append(dst, buf[mark:]...)
}

func sortRefs(refs []funcRef) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].start < refs[j].start })
}
