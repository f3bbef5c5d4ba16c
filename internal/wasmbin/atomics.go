package wasmbin

import "fmt"

// LowerAtomics replaces every atomic instruction (the 0xfe prefix of the
// threads proposal) with plain instructions of the same effect on a memory
// that only one thread uses: atomic loads and stores become plain ones,
// read-modify-write and compare-exchange become load/operate/store
// sequences, memory.atomic.notify returns 0 (nobody waits),
// memory.atomic.wait32/64 returns 1 ("not-equal") when the value differs and
// 2 ("timed-out") when it matches, since no other thread could ever change
// it, and atomic.fence disappears. Functions that had atomics get seven
// scratch locals. It returns how many instructions were lowered.
//
// Use it only together with making the memory unshared, for a module that
// cannot start threads: hosts without the threads feature (the wazero CLI,
// for one) reject atomic instructions even on an unshared memory.
func (m *Module) LowerAtomics() (int, error) {
	in, err := m.Decode()
	if err != nil {
		return 0, err
	}
	for _, l := range in.Memories {
		if l.Is64 {
			return 0, fmt.Errorf("lowering atomics of a memory64 module is not supported")
		}
	}
	for _, im := range in.Imports {
		if im.Kind == KindMemory && im.Limits.Is64 {
			return 0, fmt.Errorf("lowering atomics of a memory64 module is not supported")
		}
	}
	s := m.Section(SecCode)
	if s == nil {
		return 0, nil
	}
	imported := in.ImportedFunctions()
	total := 0
	out := AppendU32(nil, uint32(len(in.Bodies)))
	for i, b := range in.Bodies {
		if len(b.atomics) == 0 {
			out = AppendCodeBody(out, b.Code)
			continue
		}
		ft, _ := in.FuncType(uint32(imported + i))
		body, err := lowerBody(b, uint32(len(ft.Params)))
		if err != nil {
			return 0, fmt.Errorf("function body %d: %w", i, err)
		}
		total += len(b.atomics)
		out = AppendCodeBody(out, body)
	}
	if total > 0 {
		m.SetSection(SecCode, out)
	}
	return total, nil
}

// atomicAccess describes the seven access shapes that each atomic
// read-modify-write group has, in sub-opcode order.
var atomicAccess = [7]struct {
	i64         bool
	load, store byte
	mask        int64 // width mask for compare-exchange's expected value (0 = full)
}{
	{false, 0x28, 0x36, 0},          // i32
	{true, 0x29, 0x37, 0},           // i64
	{false, 0x2d, 0x3a, 0xff},       // i32 8_u
	{false, 0x2f, 0x3b, 0xffff},     // i32 16_u
	{true, 0x31, 0x3c, 0xff},        // i64 8_u
	{true, 0x33, 0x3d, 0xffff},      // i64 16_u
	{true, 0x35, 0x3e, 0xffff_ffff}, // i64 32_u
}

// plainAccess maps atomic load/store sub-opcodes 0x10..0x1d to plain opcodes.
var plainAccess = [0x1e]byte{
	0x10: 0x28, 0x11: 0x29, 0x12: 0x2d, 0x13: 0x2f, 0x14: 0x31, 0x15: 0x33, 0x16: 0x35,
	0x17: 0x36, 0x18: 0x37, 0x19: 0x3a, 0x1a: 0x3b, 0x1b: 0x3c, 0x1c: 0x3d, 0x1d: 0x3e,
}

func lowerBody(b Body, nparams uint32) ([]byte, error) {
	// Locals: the existing declarations, then 4 i32 and 3 i64 scratch locals.
	lr := newReader(b.Code, 0)
	groups, err := lr.u32("local declaration count")
	if err != nil {
		return nil, err
	}
	declStart := lr.pos
	declared := uint32(0)
	for g := uint32(0); g < groups; g++ {
		n, err := lr.u32("local count")
		if err != nil {
			return nil, err
		}
		declared += n
		if _, err := lr.valType("local type"); err != nil {
			return nil, err
		}
	}
	base := nparams + declared
	a, v32, o32, e32, v64, o64, e64 := base, base+1, base+2, base+3, base+4, base+5, base+6

	out := AppendU32(nil, groups+2)
	out = append(out, b.Code[declStart:b.LocalsEnd]...)
	out = append(out, 4, 0x7f, 3, 0x7e)

	get := func(l uint32) { out = AppendU32(append(out, 0x20), l) }
	set := func(l uint32) { out = AppendU32(append(out, 0x21), l) }
	mark := b.LocalsEnd
	for _, at := range b.atomics {
		out = append(out, b.Code[mark:at.start]...)
		mark = at.end
		sub := at.sub
		switch {
		case sub == 0x00: // memory.atomic.notify [addr, count] -> 0
			out = append(out, 0x1a, 0x1a, 0x41, 0x00)
		case sub == 0x01 || sub == 0x02: // memory.atomic.wait32/64 [addr, expected, timeout]
			load, ne, e := byte(0x28), byte(0x47), e32
			if sub == 0x02 {
				load, ne, e = 0x29, 0x52, e64
			}
			set(v64) // the timeout
			set(e)
			out = append(append(out, load), at.memarg...)
			get(e)
			out = append(out, ne)
			set(o32)
			out = append(out, 0x41, 0x01, 0x41, 0x02) // 1 = not-equal, 2 = timed-out
			get(o32)
			out = append(out, 0x1b) // select
		case sub == 0x03: // atomic.fence
		case sub >= 0x10 && sub <= 0x1d:
			out = append(append(out, plainAccess[sub]), at.memarg...)
		case sub >= 0x1e && sub <= 0x47: // read-modify-write [addr, v] -> old
			group, shape := (sub-0x1e)/7, (sub-0x1e)%7
			acc := atomicAccess[shape]
			v, o := v32, o32
			ops := [5]byte{0x6a, 0x6b, 0x71, 0x72, 0x73} // add sub and or xor
			if acc.i64 {
				v, o = v64, o64
				ops = [5]byte{0x7c, 0x7d, 0x83, 0x84, 0x85}
			}
			set(v)
			set(a)
			get(a)
			out = append(append(out, acc.load), at.memarg...)
			set(o)
			get(a)
			if group < 5 {
				get(o)
				get(v)
				out = append(out, ops[group])
			} else { // xchg
				get(v)
			}
			out = append(append(out, acc.store), at.memarg...)
			get(o)
		case sub >= 0x48 && sub <= 0x4e: // compare-exchange [addr, expected, replacement] -> old
			acc := atomicAccess[sub-0x48]
			v, o, e, eq := v32, o32, e32, byte(0x46)
			if acc.i64 {
				v, o, e, eq = v64, o64, e64, 0x51
			}
			set(v)
			set(e)
			set(a)
			get(a)
			out = append(append(out, acc.load), at.memarg...)
			set(o)
			get(o)
			get(e)
			if acc.mask != 0 { // expected is wrapped to the access width
				if acc.i64 {
					out = AppendS64(append(out, 0x42), acc.mask)
					out = append(out, 0x83)
				} else {
					out = AppendS32(append(out, 0x41), int32(acc.mask))
					out = append(out, 0x71)
				}
			}
			out = append(out, eq, 0x04, 0x40) // if
			get(a)
			get(v)
			out = append(append(out, acc.store), at.memarg...)
			out = append(out, 0x0b)
			get(o)
		default:
			return nil, fmt.Errorf("unknown atomic sub-opcode %#x", sub)
		}
	}
	return append(out, b.Code[mark:]...), nil
}
