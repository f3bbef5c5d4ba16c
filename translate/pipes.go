package translate

// fd_pipe inside the module, for a program's own pipes: a pipe is a ring
// buffer of pipeCap bytes (Linux's 64 KiB; 512 bytes in the fixed region of
// a Go module). Its ends, like event fds, get the lowest numbers that are
// free both on the host and in the module (emu_fd_alloc), entered in the fd
// table so that an fd the host returns later with the same number reaches
// the guest under another (fresh_fd).
// fd_read, fd_write, fd_close, fd_fdstat_*, poll_oneoff and epoll know
// them. A read of an empty pipe whose writer is open is EAGAIN, blocking or
// not: nothing else in a single-threaded program could fill it. A record
// is {open bits u32 (1 read end, 2 write end), buffer u32, head u32, count
// u32, read end fd u32, write end fd u32, pad}; the buffer (a page grown
// on the pipe's first use) stays with the record for the next pipe.

const (
	pipeRecSize = 32
	errnoPipe   = 64
	errnoNomem  = 48
	// pipeRights: FD_READ or FD_WRITE with POLL_FD_READWRITE, FD_FDSTAT_SET_FLAGS.
	pipeRights = 1<<1 | 1<<6 | 1<<27 | 1<<3
)

func addPipeAdapters() {
	// fd_pipe(*read_end, *write_end) -> errno.
	emulations["fd_pipe"] = &adapter{params: types(i32, i32), results: types(i32), helpers: []string{"region", "emu_fd_alloc", "emu_fd_free"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			r, k, p, rfd, wfd := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			f.call(g.helper("region")).u(g.lay.offPipes).i32Add().set(r)
			f.block().loop()
			f.get(k).u(g.lay.pipes).i32GeU().brIf(1)
			f.get(r).i32Load(0).i32Eqz().if_()
			f.get(r).i32Load(4).i32Eqz().if_()
			if g.lay.fixedBase != 0 {
				f.call(g.helper("region")).u(g.lay.offPipeBufs).i32Add().get(k).u(g.lay.pipeCap).i32Mul().i32Add().set(p)
			} else {
				f.i32(1).memoryGrow().tee(p).i32(-1).i32Eq().if_().i32(errnoNomem).return_().end()
				f.get(p).i32(16).i32Shl().set(p)
			}
			f.get(r).get(p).i32Store(4)
			f.end()
			f.call(g.helper("emu_fd_alloc")).tee(rfd).i32(0).i32LtS().if_().i32(errnoMfile).return_().end()
			f.call(g.helper("emu_fd_alloc")).tee(wfd).i32(0).i32LtS().if_().get(rfd).call(g.helper("emu_fd_free")).i32(errnoMfile).return_().end()
			f.get(r).i32(3).i32Store(0)
			f.get(r).i64(0).i64Store(8)
			f.get(r).get(rfd).i32Store(16)
			f.get(r).get(wfd).i32Store(20)
			f.get(0).get(rfd).i32Store(0)
			f.get(1).get(wfd).i32Store(0)
			f.i32(0).return_()
			f.end()
			f.get(r).i32(pipeRecSize).i32Add().set(r)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(errnoMfile)
		}}
	// pipe_rec(fd) -> the record of the pipe whose open end fd is, or 0.
	helpers["pipe_rec"] = &adapter{params: types(i32), results: types(i32), region: true,
		build: func(g *gen, f *funcBuilder) {
			r, k := f.local(i32), f.local(i32)
			f.gget(g.baseGlobal).tee(r).i32Eqz().if_().i32(0).return_().end()
			f.get(r).u(g.lay.offPipes).i32Add().set(r)
			f.block().loop()
			f.get(k).u(g.lay.pipes).i32GeU().brIf(1)
			f.get(r).i32Load(0).i32(1).i32And().get(r).i32Load(16).get(0).i32Eq().i32And().if_().get(r).return_().end()
			f.get(r).i32Load(0).i32(2).i32And().get(r).i32Load(20).get(0).i32Eq().i32(1).i32Shl().i32And().if_().get(r).return_().end()
			f.get(r).i32(pipeRecSize).i32Add().set(r)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(0)
		}}
	// emu_fd_alloc() -> the lowest fd number (from 3) that neither the host
	// nor the fd table uses, entered in the table (host fd -2: calls that
	// reach the host with it get EBADF), or -1.
	helpers["emu_fd_alloc"] = &adapter{results: types(i32), p1: []string{"fd_fdstat_get"}, helpers: []string{"region", "alias_find", "alias_add"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			n, e := f.local(i32), f.local(i32)
			f.i32(3).set(n)
			f.block().loop()
			f.get(n).i32(aliasFDBase).i32GeU().if_().i32(-1).return_().end()
			f.block() // taken
			f.get(n).call(g.helper("alias_find")).tee(e).if_()
			// a tombstone (the guest closed n; its host fd serves an
			// alias) is free for the guest
			f.get(e).i32Load(4).i32(-1).i32Eq().if_().get(e).i32(-2).i32Store(4).get(n).return_().end()
			f.br(1)
			f.end()
			f.get(n).call(g.helper("region")).i32(offStat).i32Add().call(g.p1("fd_fdstat_get")).i32(errnoBadf).i32Ne().brIf(0)
			f.get(n).i32(-2).call(g.helper("alias_add")).if_().i32(-1).return_().end()
			f.get(n).return_()
			f.end()
			f.get(n).i32(1).i32Add().set(n)
			f.br(0).end().end()
			f.i32(-1)
		}}
	// emu_fd_free(fd): fd's table entry goes.
	// While an alias uses the host fd of the same number, the entry stays
	// as a tombstone, so that the number does not reach that file.
	helpers["emu_fd_free"] = &adapter{params: types(i32), helpers: []string{"alias_find", "alias_del", "alias_refs"},
		build: func(g *gen, f *funcBuilder) {
			e := f.local(i32)
			f.get(0).call(g.helper("alias_find")).tee(e).if_()
			f.get(0).call(g.helper("alias_refs")).if_().get(e).i32(-1).i32Store(4).return_().end()
			f.get(e).call(g.helper("alias_del"))
			f.end()
		}}
	// emu_poll(fd, tag) -> -1 when fd is not made by an adapter; else bit
	// 0: ready for tag (1 FD_READ, 2 FD_WRITE; 0 asks nothing), bit 1: hung
	// up (a pipe's other end is closed).
	helpers["emu_poll"] = &adapter{params: types(i32, i32), results: types(i32), helpers: []string{"event_instance", "event_ready", "pipe_rec"},
		build: func(g *gen, f *funcBuilder) {
			const fd, tag = 0, 1
			ev, r, other, end := f.local(i32), f.local(i32), f.local(i32), f.local(i32)
			f.get(fd).call(g.helper("event_instance")).tee(ev).if_()
			f.get(tag).i32Eqz().if_().i32(0).return_().end()
			f.get(ev).get(tag).call(g.helper("event_ready")).return_()
			f.end()
			f.get(fd).call(g.helper("pipe_rec")).tee(r).i32Eqz().if_().i32(-1).return_().end()
			// the other end closed: bit 1
			f.get(r).i32Load(20).get(fd).i32Eq().tee(end)
			f.if_I32(1, 2).get(r).i32Load(0).i32And().i32Eqz().i32(1).i32Shl().set(other)
			f.get(tag).i32Eqz().if_().get(other).return_().end()
			f.get(end).if_()
			// write end: room, or a reader gone (a write fails at once)
			f.get(tag).i32(2).i32Ne().if_().i32(0).return_().end()
			f.get(r).i32Load(12).u(g.lay.pipeCap).i32LtU().get(other).i32Or().return_()
			f.end()
			// read end: data, or a writer gone (end of file)
			f.get(tag).i32(1).i32Ne().if_().i32(0).return_().end()
			f.get(r).i32Load(12).i32(0).i32Ne().get(other).i32Or()
		}}
	// ring_copy(rec, pos, mem, n, toRing): copies n bytes between the
	// pipe's ring (from offset pos, wrapping) and mem.
	helpers["ring_copy"] = &adapter{params: types(i32, i32, i32, i32, i32), build: func(g *gen, f *funcBuilder) {
		const rec, pos, mem, n, toRing = 0, 1, 2, 3, 4
		k, ring := f.local(i32), f.local(i32)
		f.block().loop()
		f.get(k).get(n).i32GeU().brIf(1)
		f.get(rec).i32Load(4).get(pos).get(k).i32Add().u(g.lay.pipeCap - 1).i32And().i32Add().set(ring)
		f.get(toRing).if_()
		f.get(ring).get(mem).get(k).i32Add().i32Load8U(0).i32Store8(0)
		f.else_()
		f.get(mem).get(k).i32Add().get(ring).i32Load8U(0).i32Store8(0)
		f.end()
		f.get(k).i32(1).i32Add().set(k)
		f.br(0).end().end()
	}}
}

// pipeOp builds the pipe branch of a wrapped preview1 function: when local
// 0 is a pipe end it does the call on the ring and returns.
func pipeOp(g *gen, f *funcBuilder, name string) {
	r, total, i, iov, n, avail := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)
	f.get(0).call(g.helper("pipe_rec")).tee(r).if_()
	// iovecs loop: body(n) moves n bytes for iovec iov, then total += n
	iovecs := func(body func()) {
		f.get(1).set(iov)
		f.block().loop()
		f.get(i).get(2).i32GeU().brIf(1)
		f.get(total).get(avail).i32GeU().brIf(1)
		f.get(iov).i32Load(4).tee(n).get(avail).get(total).i32Sub().i32GtU().if_().get(avail).get(total).i32Sub().set(n).end()
		body()
		f.get(total).get(n).i32Add().set(total)
		f.get(iov).i32(8).i32Add().set(iov)
		f.get(i).i32(1).i32Add().set(i)
		f.br(0).end().end()
	}
	switch name {
	case "fd_read": // (fd, iovs, iovs_len, *nread)
		f.get(r).i32Load(20).get(0).i32Eq().if_().i32(errnoBadf).return_().end()
		f.get(r).i32Load(12).tee(avail).i32Eqz().if_()
		f.get(r).i32Load(0).i32(2).i32And().if_().i32(errnoAgain).return_().end()
		f.get(3).i32(0).i32Store(0).i32(0).return_()
		f.end()
		iovecs(func() {
			f.get(r).get(r).i32Load(8).get(total).i32Add().get(iov).i32Load(0).get(n).i32(0).call(g.helper("ring_copy"))
		})
		f.get(r).get(r).i32Load(8).get(total).i32Add().u(g.lay.pipeCap - 1).i32And().i32Store(8)
		f.get(r).get(avail).get(total).i32Sub().i32Store(12)
		f.get(3).get(total).i32Store(0)
		f.i32(0)
		if g.epoll {
			g.touch(f, 0, etDoneIn)
		}
	case "fd_write": // (fd, iovs, iovs_len, *nwritten)
		f.get(r).i32Load(16).get(0).i32Eq().if_().i32(errnoBadf).return_().end()
		f.get(r).i32Load(0).i32(1).i32And().i32Eqz().if_().i32(errnoPipe).return_().end()
		f.u(g.lay.pipeCap).get(r).i32Load(12).i32Sub().tee(avail).i32Eqz().if_().i32(errnoAgain).return_().end()
		iovecs(func() {
			f.get(r).get(r).i32Load(8).get(r).i32Load(12).i32Add().get(total).i32Add().get(iov).i32Load(0).get(n).i32(1).call(g.helper("ring_copy"))
		})
		f.get(r).get(r).i32Load(12).get(total).i32Add().i32Store(12)
		f.get(3).get(total).i32Store(0)
		if g.epoll {
			// new data is a new edge for the read end
			f.get(r).i32Load(16).i32(etDoneIn).call(g.helper("epoll_touch"))
		}
		f.i32(0)
		if g.epoll {
			g.touch(f, 0, etDoneOut)
		}
	case "fd_fdstat_get": // (fd, *fdstat): a FIFO is not in preview1's file types: unknown
		f.get(1).i64(0).i64Store(0)
		f.get(1).i64(pipeRights).i64Store(8)
		f.get(1).i64(0).i64Store(16)
		f.i32(0)
	case "fd_fdstat_set_flags": // (fd, flags)
		f.i32(0)
	}
	f.return_()
	f.end()
}
