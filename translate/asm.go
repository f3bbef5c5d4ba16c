package translate

import (
	"github.com/wazix/wazix/internal/wasmbin"
)

// funcBuilder assembles one adapter function body. Methods append one
// instruction each, mirroring the text format, so adapter code reads like WAT.
type funcBuilder struct {
	typ    wasmbin.FuncType
	locals []wasmbin.ValType
	code   []byte
}

func newFunc(params, results []wasmbin.ValType) *funcBuilder {
	return &funcBuilder{typ: wasmbin.FuncType{Params: params, Results: results}}
}

// local declares a new local and returns its index.
func (f *funcBuilder) local(t wasmbin.ValType) uint32 {
	f.locals = append(f.locals, t)
	return uint32(len(f.typ.Params) + len(f.locals) - 1)
}

// body returns the encoded body: locals, code, final end.
func (f *funcBuilder) body() []byte {
	b := wasmbin.AppendU32(nil, uint32(len(f.locals)))
	for _, t := range f.locals {
		b = wasmbin.AppendU32(b, 1)
		b = append(b, t...)
	}
	b = append(b, f.code...)
	return append(b, 0x0b)
}

func (f *funcBuilder) op(b ...byte) *funcBuilder { f.code = append(f.code, b...); return f }
func (f *funcBuilder) u32(op byte, v uint32) *funcBuilder {
	f.code = wasmbin.AppendU32(append(f.code, op), v)
	return f
}

func (f *funcBuilder) unreachable() *funcBuilder { return f.op(0x00) }
func (f *funcBuilder) block() *funcBuilder       { return f.op(0x02, 0x40) }
func (f *funcBuilder) loop() *funcBuilder        { return f.op(0x03, 0x40) }
func (f *funcBuilder) if_() *funcBuilder         { return f.op(0x04, 0x40) }
func (f *funcBuilder) ifI32() *funcBuilder       { return f.op(0x04, 0x7f) }
func (f *funcBuilder) else_() *funcBuilder       { return f.op(0x05) }
func (f *funcBuilder) end() *funcBuilder         { return f.op(0x0b) }
func (f *funcBuilder) br(depth uint32) *funcBuilder {
	return f.u32(0x0c, depth)
}
func (f *funcBuilder) brIf(depth uint32) *funcBuilder { return f.u32(0x0d, depth) }
func (f *funcBuilder) return_() *funcBuilder          { return f.op(0x0f) }
func (f *funcBuilder) call(idx uint32) *funcBuilder   { return f.u32(0x10, idx) }
func (f *funcBuilder) drop() *funcBuilder             { return f.op(0x1a) }
func (f *funcBuilder) get(l uint32) *funcBuilder      { return f.u32(0x20, l) }
func (f *funcBuilder) set(l uint32) *funcBuilder      { return f.u32(0x21, l) }
func (f *funcBuilder) tee(l uint32) *funcBuilder      { return f.u32(0x22, l) }
func (f *funcBuilder) gget(g uint32) *funcBuilder     { return f.u32(0x23, g) }
func (f *funcBuilder) gset(g uint32) *funcBuilder     { return f.u32(0x24, g) }

func (f *funcBuilder) mem(op byte, align, offset uint32) *funcBuilder {
	f.code = append(f.code, op)
	f.code = wasmbin.AppendU32(f.code, align)
	f.code = wasmbin.AppendU32(f.code, offset)
	return f
}

func (f *funcBuilder) i32Load(off uint32) *funcBuilder    { return f.mem(0x28, 2, off) }
func (f *funcBuilder) i64Load(off uint32) *funcBuilder    { return f.mem(0x29, 3, off) }
func (f *funcBuilder) i32Load8U(off uint32) *funcBuilder  { return f.mem(0x2d, 0, off) }
func (f *funcBuilder) i32Load16U(off uint32) *funcBuilder { return f.mem(0x2f, 1, off) }
func (f *funcBuilder) i32Store(off uint32) *funcBuilder   { return f.mem(0x36, 2, off) }
func (f *funcBuilder) i64Store(off uint32) *funcBuilder   { return f.mem(0x37, 3, off) }
func (f *funcBuilder) i32Store8(off uint32) *funcBuilder  { return f.mem(0x3a, 0, off) }
func (f *funcBuilder) i32Store16(off uint32) *funcBuilder { return f.mem(0x3b, 1, off) }
func (f *funcBuilder) memoryGrow() *funcBuilder           { return f.op(0x40, 0x00) }

func (f *funcBuilder) i32(v int32) *funcBuilder {
	f.code = wasmbin.AppendS32(append(f.code, 0x41), v)
	return f
}
func (f *funcBuilder) i64(v int64) *funcBuilder {
	f.code = wasmbin.AppendS64(append(f.code, 0x42), v)
	return f
}

func (f *funcBuilder) i32Eqz() *funcBuilder { return f.op(0x45) }
func (f *funcBuilder) i32Eq() *funcBuilder  { return f.op(0x46) }
func (f *funcBuilder) i32Ne() *funcBuilder  { return f.op(0x47) }
func (f *funcBuilder) i32LtS() *funcBuilder { return f.op(0x48) }
func (f *funcBuilder) i32LtU() *funcBuilder { return f.op(0x49) }
func (f *funcBuilder) i32GtU() *funcBuilder { return f.op(0x4b) }
func (f *funcBuilder) i32GeU() *funcBuilder { return f.op(0x4f) }
func (f *funcBuilder) i32LeS() *funcBuilder { return f.op(0x4c) }
func (f *funcBuilder) i64Eqz() *funcBuilder { return f.op(0x50) }
func (f *funcBuilder) i64Eq() *funcBuilder  { return f.op(0x51) }
func (f *funcBuilder) i32Add() *funcBuilder { return f.op(0x6a) }
func (f *funcBuilder) i32Sub() *funcBuilder { return f.op(0x6b) }
func (f *funcBuilder) i32Mul() *funcBuilder { return f.op(0x6c) }
func (f *funcBuilder) i32And() *funcBuilder { return f.op(0x71) }
func (f *funcBuilder) i32Or() *funcBuilder  { return f.op(0x72) }
func (f *funcBuilder) i32Shl() *funcBuilder { return f.op(0x74) }
func (f *funcBuilder) i32ShrU() *funcBuilder {
	return f.op(0x76)
}

// returnI32 returns a constant (errno) from the function.
func (f *funcBuilder) returnI32(v int32) *funcBuilder { return f.i32(v).return_() }

var (
	i32 = wasmbin.I32
	i64 = wasmbin.I64
)

func types(ts ...wasmbin.ValType) []wasmbin.ValType { return ts }

func (f *funcBuilder) i64And() *funcBuilder { return f.op(0x83) }
func (f *funcBuilder) i64Ne() *funcBuilder  { return f.op(0x52) }
func (f *funcBuilder) i32GtS() *funcBuilder { return f.op(0x4a) }

// u pushes an i32 constant given as an unsigned offset or count.
func (f *funcBuilder) u(v uint32) *funcBuilder { return f.i32(int32(v)) }
func (f *funcBuilder) i32Xor() *funcBuilder    { return f.op(0x73) }

func (f *funcBuilder) i64LtU() *funcBuilder { return f.op(0x54) }
func (f *funcBuilder) i64GtU() *funcBuilder { return f.op(0x56) }
func (f *funcBuilder) i64Add() *funcBuilder { return f.op(0x7c) }
func (f *funcBuilder) i64Sub() *funcBuilder { return f.op(0x7d) }

// Atomic instructions (threads proposal), on 32-bit words unless named.
func (f *funcBuilder) atomic(op byte, align, offset uint32) *funcBuilder {
	f.code = append(f.code, 0xfe, op)
	f.code = wasmbin.AppendU32(f.code, align)
	f.code = wasmbin.AppendU32(f.code, offset)
	return f
}
func (f *funcBuilder) memoryAtomicNotify(off uint32) *funcBuilder { return f.atomic(0x00, 2, off) }
func (f *funcBuilder) memoryAtomicWait32(off uint32) *funcBuilder { return f.atomic(0x01, 2, off) }
func (f *funcBuilder) i32AtomicLoad(off uint32) *funcBuilder      { return f.atomic(0x10, 2, off) }
func (f *funcBuilder) i32AtomicStore(off uint32) *funcBuilder     { return f.atomic(0x17, 2, off) }
func (f *funcBuilder) i32AtomicCmpxchg(off uint32) *funcBuilder   { return f.atomic(0x48, 2, off) }
func (f *funcBuilder) i32WrapI64() *funcBuilder                   { return f.op(0xa7) }
func (f *funcBuilder) i64ShrU() *funcBuilder                      { return f.op(0x88) }
func (f *funcBuilder) ifI64() *funcBuilder                        { return f.op(0x04, 0x7e) }
func (f *funcBuilder) i64LtS() *funcBuilder                       { return f.op(0x53) }
func (f *funcBuilder) i64LeU() *funcBuilder                       { return f.op(0x58) }
func (f *funcBuilder) i64Shl() *funcBuilder                       { return f.op(0x86) }
func (f *funcBuilder) i64ExtendI32U() *funcBuilder                { return f.op(0xad) }
func (f *funcBuilder) memorySize() *funcBuilder                   { return f.op(0x3f, 0x00) }
func (f *funcBuilder) i64AtomicLoad(off uint32) *funcBuilder      { return f.atomic(0x11, 3, off) }
func (f *funcBuilder) i64AtomicAdd(off uint32) *funcBuilder       { return f.atomic(0x1f, 3, off) }
func (f *funcBuilder) i64AtomicXchg(off uint32) *funcBuilder      { return f.atomic(0x42, 3, off) }
func (f *funcBuilder) i64AtomicCmpxchg(off uint32) *funcBuilder   { return f.atomic(0x49, 3, off) }
