package wasix

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/polling"
)

// procExit2 is proc_exit2(code: exitcode). Without vfork it is proc_exit:
// from any thread it ends the process; in a vfork child it ends the child
// and returns, in the parent (see vfork.go).
func procExit2(h *host, ctx context.Context, m api.Module, stack []uint64) {
	code := uint32(stack[0])
	if h.vforking() {
		// A vfork child exits: the call returns in the parent.
		h.vforkExit(code)
		return
	}
	if sig := h.exitSignal(code); sig != 0 {
		h.sys.TermSignal.CompareAndSwap(0, sig)
		code = 128 + sig
	}
	h.sys.End(code, nil)
	h.sys.CloseInstance(ctx, m, code)
	panic(wsys.NewExitError(code))
}

// exitSignal is the signal a process exiting with code dies of, or 0.
// wasix-libc's abort() raises SIGABRT, which waits while its dispatcher
// blocks signals, sends it again to its own thread, and exits with 127 —
// where Linux would have killed the process with the signal. So an exit
// with 127 while a SIGABRT waits is death by signal: by the signal whose
// default action was running (wasix-libc's dispatcher aborts for
// SIGTERM, SIGINT ... when the program set no handler), else by SIGABRT.
func (h *host) exitSignal(code uint32) uint32 {
	if code != 127 {
		return 0
	}
	p := h.proc
	p.mu.Lock()
	defer p.mu.Unlock()
	abrt := false
	for _, s := range p.pending {
		abrt = abrt || s == sigABRT
	}
	for _, q := range p.tpending {
		for _, s := range q {
			abrt = abrt || s == sigABRT
		}
	}
	if !abrt {
		return 0
	}
	for i := len(p.delivering) - 1; i >= 0; i-- {
		if s := p.delivering[i]; !ignoredByDefault(s) && !stopOrContinue(s) {
			return s
		}
	}
	return sigABRT
}

// The first guest process is process 1 with no parent (pid 0), as the
// first process of a Wasmer instance; forked and spawned ones count up.
const guestPid = 1

// pidOf returns the pid of the process s.
func pidOf(s *sys.System) uint32 {
	if s.Pid == 0 {
		return guestPid
	}
	return s.Pid
}

// procID is proc_id(ret_pid: *pid) -> errno.
func procID(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return guestmem.PutU32(m.Memory(), uint32(stack[0]), pidOf(h.sys))
}

// procParent is proc_parent(pid, ret_parent: *pid) -> errno: the parent of
// the calling process or of another live process of its tree.
func procParent(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	pid := uint32(stack[0])
	s := h.sys
	if pid != pidOf(s) {
		if s.Procs == nil {
			return sys.EBADF
		}
		if s = s.Procs.Lookup(pid); s == nil {
			return sys.EBADF
		}
	}
	return guestmem.PutU32(m.Memory(), uint32(stack[1]), s.Ppid)
}

// procSignal is proc_signal(pid, sig) -> errno: kill(2) within the guest's
// process tree. Another process gets the signal at its next host call (a
// wait it is blocked in returns EINTR).
func procSignal(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	pid, sig := uint32(stack[0]), uint32(stack[1])
	if sig > sigMax {
		return sys.EINVAL
	}
	if pid == pidOf(h.sys) || pid == 0 {
		return h.raise(ctx, m, sig)
	}
	if h.sys.Procs == nil {
		return sys.ESRCH
	}
	target := h.sys.Procs.Lookup(pid)
	if target == nil {
		return sys.ESRCH
	}
	if sig != 0 && target.Signal != nil {
		target.Signal(sig)
	}
	return sys.ESUCCESS
}

// sigCHLD is sent to a parent when a child ends; SIGURG and SIGWINCH are
// the other signals ignored by default.
const (
	sigCHLD  = 17
	sigURG   = 23
	sigWINCH = 28
)

// signalFromOutside is a signal from another process (or from the host:
// the CLI forwards SIGINT, SIGTERM, SIGHUP, SIGWINCH). With a handler it is
// queued, delivered on return from the guest's next host call, and its
// blocking waits return EINTR (SIGCHLD excepted: a child's end must not
// make a read fail). Without one, the default action applies at once:
// SIGCHLD, SIGWINCH and SIGURG are ignored; every other signal ends the
// process with 128+sig, as a shell reports a death by signal.
func (h *host) signalFromOutside(sig uint32) {
	h.proc.mu.Lock()
	handled := h.proc.handler != ""
	h.proc.mu.Unlock()
	if !handled || sig == sigKILL {
		if ignoredByDefault(sig) {
			return
		}
		h.sys.TermSignal.CompareAndSwap(0, sig)
		h.sys.End(128+sig, nil)
		return
	}
	h.proc.queue(sig)
	if !ignoredByDefault(sig) {
		// A signal ignored by default (SIGCHLD, SIGWINCH) waits for the
		// next host call: wasix-libc's dispatcher may well ignore it, and
		// an ignored signal must not make a blocking call fail with EINTR.
		h.sys.Interrupt()
	}
}

// ignoredByDefault reports the signals whose default action is to ignore.
func ignoredByDefault(sig uint32) bool {
	return sig == 0 || sig == sigCHLD || sig == sigURG || sig == sigWINCH
}

// Join flags and status tags (proc_join).
const (
	joinNonBlocking = 1

	joinNothing    = 0
	joinExitNormal = 1
	joinExitSignal = 2
)

// procJoin is proc_join(pid: *option_pid, flags: join_flags, status:
// *join_status) -> errno: waitpid(2). pid holds which child to wait for
// (none: any) and receives the child that ended; status receives how it
// ended. With NON_BLOCKING and no child ended, status is NOTHING. ECHILD
// when there is no such child; EINTR when a signal interrupts the wait.
func procJoin(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	optPtr, flags, statusPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	mem := m.Memory()
	opt, ok := mem.Read(optPtr, 8)
	if !ok || !guestmem.Writable(mem, statusPtr, 6) {
		return sys.EFAULT
	}
	want := uint32(0)
	if opt[0] == 1 {
		want = guestmem.LE32(opt[4:])
	}
	child, st, found, errno := h.join(ctx, m, want, flags&joinNonBlocking != 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	status := make([]byte, 6)
	switch {
	case !found:
		// Nothing yet: the pid is Some(0), which wasix-libc's waitpid
		// returns (0 for WNOHANG), as Wasmer writes it.
		status[0] = joinNothing
	case st.Signal != 0:
		// exit_code 0: wasix-libc builds W_EXITCODE(exit_code, sig),
		// which reads as killed by sig only with a 0 code.
		status[0] = joinExitSignal
		status[4] = byte(st.Signal)
	default:
		status[0] = joinExitNormal
		guestmem.Put16(status[2:], uint16(st.Code))
	}
	opt[0] = 1
	guestmem.Put32(opt[4:], child)
	mem.Write(statusPtr, status)
	return sys.ESUCCESS
}

// join waits for a child of the calling process to end (want: its pid, or
// 0 for any) and collects it; with nonblock, found is false when none has
// ended yet. ECHILD when there is no such child; EINTR when a signal
// interrupts the wait or the process ends.
func (h *host) join(ctx context.Context, m api.Module, want uint32, nonblock bool) (child uint32, st sys.WaitStatus, found bool, errno sys.Errno) {
	s := h.sys
	if s.Procs == nil {
		return 0, st, false, sys.ECHILD
	}
	var w *polling.Waiter
	defer func() {
		if w != nil {
			s.ChildRecord().Detach(w)
			s.InterruptRecord().Detach(w)
		}
	}()
	igen := s.InterruptGenOf(m)
	for {
		gen := s.ChildGen()
		child, st, found, errno = s.Procs.Reap(pidOf(s), want)
		if errno != sys.ESUCCESS || found || nonblock {
			return child, st, found, errno
		}
		if w == nil {
			w = polling.NewWaiter()
			s.ChildRecord().Attach(w)
			s.InterruptRecord().Attach(w)
			continue // a child may have ended before the attach
		}
		for s.ChildGen() == gen {
			if s.InterruptGenOf(m) != igen || s.Ended() {
				return 0, st, false, sys.EINTR
			}
			if err := w.Wait(ctx, s.Registry, time.Time{}); err != nil {
				return 0, st, false, sys.EINTR
			}
		}
	}
}

// libcMainTid is the tid wasix-libc gives its main thread (musl's
// __init_tls, WASI branch).
const libcMainTid = 0x3fffffff

// threadSignal is thread_signal(tid, sig) -> errno, used by raise(),
// abort() and pthread_kill(). A signal to the calling thread is delivered
// before the call returns; one to another live thread is queued for it
// (delivered at its next WASIX call; if it is blocked in a wait, that wait
// returns EINTR, and no other thread's does); an unknown thread is ESRCH.
func threadSignal(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	tid, sig := uint32(stack[0]), uint32(stack[1])
	if sig > sigMax {
		return sys.EINVAL
	}
	if tid == libcMainTid {
		// wasix-libc's main thread calls itself 0x3fffffff until it asks
		// thread_id; Wasmer maps it to the main thread, and raise() needs it.
		tid = mainTid
	}
	if tid == h.tidOf(m) {
		return h.raise(ctx, m, sig)
	}
	if !h.threads.alive(tid) {
		return sys.ESRCH
	}
	if sig == 0 {
		return sys.ESUCCESS
	}
	p := h.proc
	p.mu.Lock()
	p.tpending[tid] = append(p.tpending[tid], sig)
	p.sys.SigPending.Add(1)
	p.mu.Unlock()
	h.sys.InterruptThread(tid)
	return sys.ESUCCESS
}

// procSignalsSizesGet is proc_signals_sizes_get(ret_count: *u32) -> errno:
// how many signal dispositions the process inherited (from the
// posix_spawn that made it; none for the first process).
func procSignalsSizesGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return guestmem.PutU32(m.Memory(), uint32(stack[0]), uint32(len(h.sys.SignalDispositions)/2))
}

// procSignalsGet is proc_signals_get(buf: *signal_disposition) -> errno:
// the inherited dispositions, {sig u8, disposition u8} each (DEFAULT 0,
// IGNORE 1); wasix-libc applies them at start-up.
func procSignalsGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	d := h.sys.SignalDispositions
	if len(d) == 0 {
		return sys.ESUCCESS
	}
	if !m.Memory().Write(uint32(stack[0]), d) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

// procSnapshot is proc_snapshot() -> errno: a request to journal the
// process. wazix keeps no journal, and the call is allowed to do nothing.
func procSnapshot(_ *host, _ context.Context, _ api.Module, _ []uint64) sys.Errno {
	return sys.ESUCCESS
}

// callbackSignal is callback_signal(name: string): the export that receives
// signals, "__wasm_signal" for wasix-libc.
func callbackSignal(h *host, _ context.Context, m api.Module, stack []uint64) {
	name, errno := guestmem.String(m.Memory(), uint32(stack[0]), uint32(stack[1]))
	if errno != sys.ESUCCESS {
		return
	}
	h.proc.mu.Lock()
	h.proc.handler = name
	h.proc.mu.Unlock()
}
