package translate

// thread_local_* of the 2022 WASIX ABI, inside the module: keys in the
// adapter region (numbered from 1 and never reused, as wazix does), each
// thread's values next to its thread record (the main thread's in the
// region), 0 until set. When a thread ends, the guest's
// _thread_local_destroy(user_data low, high, value low, high) runs for each
// of its nonzero values, as under wazix and Wasmer.

func addTLSAdapters() {
	// thread_local_create(user_data, *key) -> errno.
	emulations["thread_local_create"] = &adapter{params: types(i64, i32), results: types(i32), helpers: []string{"region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			b, e, k := f.local(i32), f.local(i32), f.local(i32)
			f.call(g.helper("region")).tee(b).u(g.lay.offTLSKeys).i32Add().set(e)
			f.block().loop()
			f.get(k).i32(tlsKeys).i32GeU().brIf(1)
			f.get(e).i32Load(0).i32Eqz().if_()
			// the next key number is kept in the padding of entry 0
			f.get(b).get(b).i32Load(g.lay.offTLSKeys + 4).i32(1).i32Add().tee(k).i32Store(g.lay.offTLSKeys + 4)
			f.get(e).get(k).i32Store(0)
			f.get(e).get(0).i64Store(8)
			tlsZero(g, f, e, b)
			f.get(1).get(k).i32Store(0)
			f.i32(0).return_()
			f.end()
			f.get(e).i32(16).i32Add().set(e)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(errnoMfile)
		}}
	// thread_local_destroy(key) -> errno.
	emulations["thread_local_destroy"] = &adapter{params: types(i32), results: types(i32), helpers: []string{"region", "tls_find"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			j, e := f.local(i32), f.local(i32)
			f.get(0).call(g.helper("tls_find")).tee(j).i32(0).i32LtS().if_().i32(errnoInval).return_().end()
			f.call(g.helper("region")).get(j).i32(4).i32Shl().i32Add().u(g.lay.offTLSKeys).i32Add().tee(e).i32(0).i32Store(0)
			f.i32(0)
		}}
	// thread_local_set(key, value) -> errno.
	emulations["thread_local_set"] = &adapter{params: types(i32, i64), results: types(i32), helpers: []string{"tls_find", "tls_base"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			j := f.local(i32)
			f.get(0).call(g.helper("tls_find")).tee(j).i32(0).i32LtS().if_().i32(errnoInval).return_().end()
			f.call(g.helper("tls_base")).get(j).i32(3).i32Shl().i32Add().get(1).i64Store(0)
			f.i32(0)
		}}
	// thread_local_get(key, *value) -> errno.
	emulations["thread_local_get"] = &adapter{params: types(i32, i32), results: types(i32), helpers: []string{"tls_find", "tls_base"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			j := f.local(i32)
			f.get(0).call(g.helper("tls_find")).tee(j).i32(0).i32LtS().if_().i32(errnoInval).return_().end()
			f.get(1).call(g.helper("tls_base")).get(j).i32(3).i32Shl().i32Add().i64Load(0).i64Store(0)
			f.i32(0)
		}}
	// tls_find(key) -> the key's index, or -1.
	helpers["tls_find"] = &adapter{params: types(i32), results: types(i32), helpers: []string{"region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			e, j := f.local(i32), f.local(i32)
			f.get(0).i32Eqz().if_().i32(-1).return_().end()
			f.call(g.helper("region")).u(g.lay.offTLSKeys).i32Add().set(e)
			f.block().loop()
			f.get(j).i32(tlsKeys).i32GeU().brIf(1)
			f.get(e).i32Load(0).get(0).i32Eq().if_().get(j).return_().end()
			f.get(e).i32(16).i32Add().set(e)
			f.get(j).i32(1).i32Add().set(j)
			f.br(0).end().end()
			f.i32(-1)
		}}
	// tls_base() -> the calling thread's values.
	helpers["tls_base"] = &adapter{results: types(i32), helpers: []string{"region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			if g.threads {
				s := f.local(i32)
				f.gget(g.slotGlobal).tee(s).if_().get(s).i32(160).i32Add().return_().end()
			}
			f.call(g.helper("region")).u(g.lay.offTLSMain).i32Add()
		}}
	// tls_destructors(): the calling thread is ending: the guest's
	// destructor runs for each of its nonzero values.
	helpers["tls_destructors"] = &adapter{helpers: []string{"region", "tls_base"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			e, v, j, vals := f.local(i32), f.local(i64), f.local(i32), f.local(i32)
			f.call(g.helper("tls_base")).set(vals)
			f.call(g.helper("region")).u(g.lay.offTLSKeys).i32Add().set(e)
			f.block().loop()
			f.get(j).i32(tlsKeys).i32GeU().brIf(1)
			f.get(e).i32Load(0).if_()
			f.get(vals).i64Load(0).tee(v).i64Eqz().i32Eqz().if_()
			f.get(vals).i64(0).i64Store(0)
			f.get(e).i32Load(8).get(e).i32Load(12).get(v).i32WrapI64().get(v).i64(32).i64ShrU().i32WrapI64()
			f.call(uint32(g.tlsDestroy))
			f.end()
			f.end()
			f.get(e).i32(16).i32Add().set(e)
			f.get(vals).i32(8).i32Add().set(vals)
			f.get(j).i32(1).i32Add().set(j)
			f.br(0).end().end()
		}}
}

// tlsZero clears the value of the key entry at local e in every thread:
// a new key reads 0 everywhere (b is the region's base).
func tlsZero(g *gen, f *funcBuilder, e, b uint32) {
	j, s, k := f.local(i32), f.local(i32), f.local(i32)
	f.get(e).get(b).i32Sub().u(g.lay.offTLSKeys).i32Sub().i32(1).i32ShrU().set(j) // index × 8
	f.get(b).get(j).i32Add().i64(0).i64Store(g.lay.offTLSMain)
	if g.threads {
		f.get(b).u(g.lay.offThreads).i32Add().set(s)
		f.block().loop()
		f.get(k).u(g.lay.threadSlots).i32GeU().brIf(1)
		f.get(s).get(j).i32Add().i64(0).i64Store(160)
		f.get(s).i32(threadSlotSize).i32Add().set(s)
		f.get(k).i32(1).i32Add().set(k)
		f.br(0).end().end()
	}
}
