package wasix

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// procExit2 is proc_exit2(code: exitcode). Without vfork it is proc_exit:
// from any thread it ends the process.
func procExit2(h *host, ctx context.Context, m api.Module, stack []uint64) {
	code := uint32(stack[0])
	h.sys.End(code, nil)
	_ = m.CloseWithExitCode(ctx, code)
	panic(wsys.NewExitError(code))
}

// The guest sees itself as process 1 with no parent (pid 0), as the first
// process of a Wasmer instance does.
const guestPid = 1

// procID is proc_id(ret_pid: *pid) -> errno.
func procID(_ *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return guestmem.PutU32(m.Memory(), uint32(stack[0]), guestPid)
}

// procParent is proc_parent(pid, ret_parent: *pid) -> errno.
func procParent(_ *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	if uint32(stack[0]) != guestPid {
		return sys.EBADF
	}
	return guestmem.PutU32(m.Memory(), uint32(stack[1]), 0)
}

// procSignal is proc_signal(pid, sig) -> errno: kill(2) within the guest;
// only the guest itself exists.
func procSignal(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	pid, sig := uint32(stack[0]), uint32(stack[1])
	if pid != guestPid && pid != 0 {
		return sys.ESRCH
	}
	return h.raise(ctx, m, sig)
}

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
	p.npending.Add(1)
	p.mu.Unlock()
	h.sys.InterruptThread(tid)
	return sys.ESUCCESS
}

// procRaiseInterval is proc_raise_interval(sig, interval: timestamp, repeat: bool) -> errno,
// behind alarm() and setitimer(): sig is raised after interval, and then every
// interval if repeat. An interval of 0 cancels.
func procRaiseInterval(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	sig, interval, repeat := uint32(stack[0]), time.Duration(stack[1]), uint32(stack[2]) != 0
	if sig == 0 || sig > sigMax || int64(interval) < 0 {
		return sys.EINVAL
	}
	p := h.proc
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.timers[sig]; t != nil {
		t.Stop()
		delete(p.timers, sig)
	}
	if interval == 0 {
		return sys.ESUCCESS
	}
	var fire func()
	fire = func() {
		p.queue(sig)
		p.mu.Lock()
		if repeat && p.timers[sig] != nil {
			p.timers[sig] = time.AfterFunc(interval, fire)
		}
		p.mu.Unlock()
		// Wake a guest blocked in the host so that the signal is delivered.
		p.sys.Interrupt()
	}
	p.timers[sig] = time.AfterFunc(interval, fire)
	return sys.ESUCCESS
}

// procSignalsSizesGet is proc_signals_sizes_get(ret_count: *u32) -> errno:
// how many inherited signal dispositions there are. A fresh guest inherits none.
func procSignalsSizesGet(_ *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return guestmem.PutU32(m.Memory(), uint32(stack[0]), 0)
}

// procSignalsGet is proc_signals_get(buf: *signal_disposition) -> errno.
func procSignalsGet(_ *host, _ context.Context, _ api.Module, _ []uint64) sys.Errno {
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
