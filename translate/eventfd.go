package translate

// fd_event (eventfd) inside the module. An event fd names a counter in the
// adapter region; its number is chosen as for pipes (emu_fd_alloc), and
// the host never sees it. The preview1 functions that reach it are wrapped: fd_read
// and fd_write (8-byte counter values), fd_close, fd_fdstat_get,
// fd_fdstat_set_flags and poll_oneoff, and epoll looks at its counter.
// mio (tokio) uses one as the waker of its poll loop.

const (
	errnoAgain  = 6
	eventfdSema = 1                   // EFD_SEMAPHORE
	eventfdMax  = -2                  // the counter's largest value, 0xffff_ffff_ffff_fffe
	eventRights = 1<<1 | 1<<6 | 1<<27 // FD_READ, FD_WRITE, POLL_FD_READWRITE
)

// cloexecFDs is how many fds can have CLOEXEC set at once.
const cloexecFDs = 16

func addEventfdAdapters() {
	// cloexec_find(fd) -> the slot holding fd's CLOEXEC, or 0 (also
	// without a region: nothing was set).
	helpers["cloexec_find"] = &adapter{params: types(i32), results: types(i32), region: true,
		build: func(g *gen, f *funcBuilder) {
			p, k := f.local(i32), f.local(i32)
			f.gget(g.baseGlobal).tee(p).i32Eqz().if_().i32(0).return_().end()
			f.get(p).u(g.lay.offCloexec).i32Add().set(p)
			f.block().loop()
			f.get(k).i32(cloexecFDs).i32GeU().brIf(1)
			f.get(p).i32Load(0).get(0).i32(1).i32Add().i32Eq().if_().get(p).return_().end()
			f.get(p).i32(4).i32Add().set(p)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(0)
		}}
	// cloexec_set(fd, on): sets or clears fd's CLOEXEC (when the list is
	// full the flag is dropped: nothing execs).
	helpers["cloexec_set"] = &adapter{params: types(i32, i32), helpers: []string{"cloexec_find", "region"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			e := f.local(i32)
			f.get(0).call(g.helper("cloexec_find")).set(e)
			f.get(1).i32Eqz().if_()
			f.get(e).if_().get(e).i32(0).i32Store(0).end()
			f.return_()
			f.end()
			f.get(e).if_().return_().end()
			f.call(g.helper("region")).drop()
			f.i32(-1).call(g.helper("cloexec_find")).tee(e).if_().get(e).get(0).i32(1).i32Add().i32Store(0).end()
		}}
	// fd_event(initial: u64, flags: eventfdflags, *fd) -> errno.
	emulations["fd_event"] = &adapter{params: types(i64, i32, i32), results: types(i32), helpers: []string{"region", "emu_fd_alloc"}, region: true,
		build: func(g *gen, f *funcBuilder) {
			const initial, flags, ret = 0, 1, 2
			p, k, n := f.local(i32), f.local(i32), f.local(i32)
			f.get(initial).i64(eventfdMax).i64GtU().if_().i32(errnoInval).return_().end()
			f.call(g.helper("region")).u(g.lay.offEvents).i32Add().set(p)
			f.block().loop()
			f.get(k).u(g.lay.eventfds).i32GeU().brIf(1)
			f.get(p).i32Load(0).i32Eqz().if_()
			f.call(g.helper("emu_fd_alloc")).tee(n).i32(0).i32LtS().if_().i32(errnoMfile).return_().end()
			f.get(p).get(n).i32Store(0)
			f.get(p).get(flags).i32(eventfdSema).i32And().i32Store(4)
			f.get(p).get(initial).i64Store(8)
			f.get(ret).get(n).i32Store(0)
			f.i32(0).return_()
			f.end()
			f.get(p).i32(16).i32Add().set(p)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(errnoMfile)
		}}
	// event_instance(fd) -> the address of event fd's counter record
	// {fd u32, flags u32, counter u64}, or 0. It never sets the region
	// up: without a region there is no event fd.
	helpers["event_instance"] = &adapter{params: types(i32), results: types(i32), region: true,
		build: func(g *gen, f *funcBuilder) {
			k, p := f.local(i32), f.local(i32)
			f.gget(g.baseGlobal).tee(p).i32Eqz().if_().i32(0).return_().end()
			f.get(0).i32Eqz().if_().i32(0).return_().end()
			f.get(p).u(g.lay.offEvents).i32Add().set(p)
			f.block().loop()
			f.get(k).u(g.lay.eventfds).i32GeU().brIf(1)
			f.get(p).i32Load(0).get(0).i32Eq().if_().get(p).return_().end()
			f.get(p).i32(16).i32Add().set(p)
			f.get(k).i32(1).i32Add().set(k)
			f.br(0).end().end()
			f.i32(0)
		}}
	// event_ready(ev, tag) -> whether a poll_oneoff subscription of type
	// tag (1 FD_READ, 2 FD_WRITE) on the event fd at ev is ready: reading
	// needs a nonzero counter, writing room for one more.
	helpers["event_ready"] = &adapter{params: types(i32, i32), results: types(i32),
		build: func(g *gen, f *funcBuilder) {
			f.get(1).i32(1).i32Eq().if_().get(0).i64Load(8).i64Eqz().i32Eqz().return_().end()
			f.get(0).i64Load(8).i64(eventfdMax).i64LtU()
		}}
	helpers["poll_oneoff_events"] = pollOneoffEvents()
}

// eventOp builds the event fd branch of a wrapped preview1 function: when
// local 0 is an event fd it does the call on the counter and returns.
func eventOp(g *gen, f *funcBuilder, name string) {
	pipeOp(g, f, name)
	ev, c, v := f.local(i32), f.local(i64), f.local(i64)
	f.get(0).call(g.helper("event_instance")).tee(ev).if_()
	switch name {
	case "fd_read": // (fd, iovs, iovs_len, *nread)
		f.get(2).i32Eqz().if_().i32(errnoInval).return_().end()
		f.get(1).i32Load(4).i32(8).i32LtU().if_().i32(errnoInval).return_().end()
		if g.threads {
			// another thread may write meanwhile: take the counter
			// atomically (a semaphore takes 1 with compare-exchange)
			f.get(ev).i32Load(4).i32(eventfdSema).i32And().if_()
			f.i64(1).set(v)
			f.block().loop()
			f.get(ev).i64AtomicLoad(8).tee(c).i64Eqz().if_().i32(errnoAgain).return_().end()
			f.get(ev).get(c).get(c).i64(1).i64Sub().i64AtomicCmpxchg(8).get(c).i64Eq().brIf(1)
			f.br(0).end().end()
			f.else_()
			f.get(ev).i64(0).i64AtomicXchg(8).tee(v).i64Eqz().if_().i32(errnoAgain).return_().end()
			f.end()
		} else {
			f.get(ev).i64Load(8).tee(c).i64Eqz().if_().i32(errnoAgain).return_().end()
			f.get(ev).i32Load(4).i32(eventfdSema).i32And().if_()
			f.i64(1).set(v)
			f.get(ev).get(c).i64(1).i64Sub().i64Store(8)
			f.else_()
			f.get(c).set(v)
			f.get(ev).i64(0).i64Store(8)
			f.end()
		}
		f.get(1).i32Load(0).get(v).i64Store(0)
		f.get(3).i32(8).i32Store(0)
		f.i32(0)
		if g.epoll {
			g.touch(f, 0, etDoneIn)
		}
	case "fd_write": // (fd, iovs, iovs_len, *nwritten)
		f.get(2).i32Eqz().if_().i32(errnoInval).return_().end()
		f.get(1).i32Load(4).i32(8).i32LtU().if_().i32(errnoInval).return_().end()
		f.get(1).i32Load(0).i64Load(0).tee(v).i64(-1).i64Eq().if_().i32(errnoInval).return_().end()
		f.get(v).i64(eventfdMax).get(ev).i64Load(8).i64Sub().i64GtU().if_().i32(errnoAgain).return_().end()
		if g.threads {
			f.get(ev).get(v).i64AtomicAdd(8).drop()
		} else {
			f.get(ev).get(ev).i64Load(8).get(v).i64Add().i64Store(8)
		}
		f.get(3).i32(8).i32Store(0)
		f.i32(0)
		if g.epoll {
			g.touch(f, 0, etDoneOut)
		}
	case "fd_fdstat_get": // (fd, *fdstat): an unknown file type, read/write/poll rights
		f.get(1).i64(0).i64Store(0)
		f.get(1).i64(eventRights).i64Store(8)
		f.get(1).i64(0).i64Store(16)
		f.i32(0)
	case "fd_fdstat_set_flags": // (fd, flags): NONBLOCK is what reads do anyway
		f.i32(0)
	}
	f.return_()
	f.end()
}

// pollOneoffEvents is poll_oneoff when event fds exist. Subscriptions on
// event fds are answered here: when any is ready, the ready ones are the
// result (without asking the host); otherwise the others go to the host.
// In a module without threads nothing can change a counter while the
// host waits, so a wait on event fds alone returns no events at once
// instead of blocking forever.
func pollOneoffEvents() *adapter {
	return &adapter{params: types(i32, i32, i32, i32), results: types(i32), p1: []string{"poll_oneoff"},
		helpers: []string{"emu_poll", "region"}, region: true, build: func(g *gen, f *funcBuilder) {
			const in, out, nsubs, nevents = 0, 1, 2, 3
			i, s, ev, tag, nready, nother, o, dst := f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32),
				f.local(i32), f.local(i32), f.local(i32)
			pass := func() {
				f.get(in).get(out).get(nsubs).get(nevents).call(g.p1("poll_oneoff"))
			}
			// No event fd has been made yet (or can be): the host's call.
			f.gget(g.baseGlobal).i32Eqz().if_()
			pass()
			f.return_().end()
			if g.threads {
				f.loop() // again: with threads, look at the counters every slice
				f.i32(0).set(i).i32(0).set(nready).i32(0).set(nother)
			}
			f.get(in).set(s)
			f.block().loop()
			f.get(i).get(nsubs).i32GeU().brIf(1)
			f.block() // not an event fd
			f.get(s).i32Load8U(8).tee(tag).i32Eqz().brIf(0)
			f.get(s).i32Load(16).get(tag).call(g.helper("emu_poll")).tee(ev).i32(-1).i32Eq().brIf(0)
			f.get(ev).if_()
			f.get(out).get(nready).i32(5).i32Shl().i32Add().tee(o).get(s).i64Load(0).i64Store(0)
			f.get(o).i64(0).i64Store(8) // error 0, padding
			f.get(o).get(tag).i32Store8(10)
			f.get(o).i64(8).i64Store(16)                                   // nbytes
			f.get(o).get(ev).i32(1).i32ShrU().i64ExtendI32U().i64Store(24) // flags: HANGUP
			f.get(nready).i32(1).i32Add().set(nready)
			f.end()
			f.get(s).i32(48).i32Add().set(s)
			f.get(i).i32(1).i32Add().set(i)
			f.br(1) // next subscription
			f.end()
			f.get(nother).i32(1).i32Add().set(nother)
			f.get(s).i32(48).i32Add().set(s)
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			f.get(nready).if_().get(nevents).get(nready).i32Store(0).i32(0).return_().end()
			f.get(nother).get(nsubs).i32Eq().if_()
			pass()
			f.return_().end()
			if !g.threads {
				f.get(nother).i32Eqz().if_().get(nevents).i32(0).i32Store(0).i32(0).return_().end()
			}
			f.get(nother).u(g.lay.maxPollSubs - 1).i32GtU().if_().i32(errnoNotsup).return_().end()
			// Copy the other subscriptions into scratch and ask the host.
			f.call(g.helper("region")).u(g.lay.offWaitSubs).i32Add().set(dst)
			f.get(in).set(s)
			f.i32(0).set(i)
			f.block().loop()
			f.get(i).get(nsubs).i32GeU().brIf(1)
			f.block()
			f.get(s).i32Load8U(8).tee(tag).if_()
			f.get(s).i32Load(16).i32(0).call(g.helper("emu_poll")).i32(-1).i32Ne().brIf(1)
			f.end()
			for off := uint32(0); off < 48; off += 8 {
				f.get(dst).get(s).i64Load(off).i64Store(off)
			}
			f.get(dst).i32(48).i32Add().set(dst)
			f.end()
			f.get(s).i32(48).i32Add().set(s)
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			if !g.threads {
				f.call(g.helper("region")).u(g.lay.offWaitSubs).i32Add().get(out).get(nother).get(nevents).call(g.p1("poll_oneoff"))
				return
			}
			// Another thread may write to an event fd or a pipe while the
			// host waits: a clock of pollSliceNanos (userdata sliceUserdata)
			// ends the wait, and when it alone fired, the loop looks again.
			f.get(dst).i64(sliceUserdata).i64Store(0)
			f.get(dst).i64(0).i64Store(8)
			f.get(dst).i64(1).i64Store(16) // MONOTONIC
			f.get(dst).i64(pollSliceNanos).i64Store(24)
			f.get(dst).i64(0).i64Store(32)
			f.get(dst).i64(0).i64Store(40)
			f.call(g.helper("region")).u(g.lay.offWaitSubs).i32Add().get(out).get(nother).i32(1).i32Add().get(nevents).call(g.p1("poll_oneoff")).tee(tag)
			f.if_().get(tag).return_().end()
			// drop the slice's event
			f.get(nevents).i32Load(0).set(nready)
			f.i32(0).set(i)
			f.block().loop()
			f.get(i).get(nready).i32GeU().brIf(1)
			f.get(out).get(i).i32(5).i32Shl().i32Add().tee(o).i64Load(0).i64(sliceUserdata).i64Eq().if_()
			f.get(nready).i32(1).i32Sub().set(nready)
			for off := uint32(0); off < 32; off += 8 {
				f.get(o).get(out).get(nready).i32(5).i32Shl().i32Add().i64Load(off).i64Store(off)
			}
			f.br(2)
			f.end()
			f.get(i).i32(1).i32Add().set(i)
			f.br(0).end().end()
			f.get(nevents).get(nready).i32Store(0)
			f.get(nready).i32Eqz().brIf(0) // again
			f.i32(0).return_()
			f.end()
			f.unreachable()
		}}
}

const (
	// pollSliceNanos bounds a threaded module's host wait while adapter
	// fds are polled; sliceUserdata marks the slice's clock.
	pollSliceNanos = 5_000_000
	sliceUserdata  = -0x5a1ce
)

// isEventWrapped says whether preview1 function name looks at event fds.
func isEventWrapped(name string) bool {
	switch name {
	case "fd_read", "fd_write", "fd_fdstat_get", "fd_fdstat_set_flags":
		return true // pipes too
	}
	return false
}
