package wasix

import (
	"context"
	"runtime"
	"time"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/polling"
)

// mainTid is the id of the guest's first thread; WASIX says it equals the
// process id.
const mainTid = guestPid

// threadID is thread_id(ret_tid: *tid) -> errno.
func threadID(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	return guestmem.PutU32(m.Memory(), uint32(stack[0]), h.tidOf(m))
}

// tidOf returns the thread id of the instance m.
func (h *host) tidOf(m api.Module) uint32 { return h.sys.TidOf(m) }

// threadParallelism is thread_parallelism(ret_count: *size) -> errno: the
// host's usable cores, capped by the thread limit.
func threadParallelism(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	n := runtime.GOMAXPROCS(0)
	if max := h.sys.MaxThreads; max > 0 && n > max {
		n = max
	}
	return guestmem.PutU32(m.Memory(), uint32(stack[0]), uint32(n))
}

// threadSleep is thread_sleep(duration: timestamp) -> errno; 0 yields. The
// sleep ends early with EINTR for a signal, and ends the guest when it is canceled.
func threadSleep(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	d := time.Duration(stack[0])
	if stack[0] > 1<<62 {
		d = 1 << 62
	}
	if d == 0 {
		runtime.Gosched()
		return sys.ESUCCESS
	}
	w := polling.NewWaiter()
	gen := h.sys.InterruptGenOf(m)
	h.sys.InterruptRecord().Attach(w)
	defer h.sys.InterruptRecord().Detach(w)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if h.sys.InterruptGenOf(m) != gen {
			return sys.EINTR
		}
		if err := w.Wait(ctx, h.sys.Registry, deadline); err != nil {
			return sys.EINTR
		}
	}
	return sys.ESUCCESS
}

// threadExit is thread_exit(code: exitcode): ends the calling thread only
// (its instance is closed and the call unwinds). The main thread ending ends
// the process with that code.
func threadExit(h *host, ctx context.Context, m api.Module, stack []uint64) {
	code := uint32(stack[0])
	if tid := h.tidOf(m); tid == mainTid {
		h.sys.End(code, nil)
	} else if err := h.destroyThreadLocals(ctx, m, tid); err != nil {
		panic(err) // a trap or an exit in a destructor
	}
	h.sys.CloseInstance(ctx, m, code)
	panic(wsys.NewExitError(code))
}

// clockTimeSet is clock_time_set(id: clockid, time: timestamp) -> errno.
// Only the realtime clock can be set, only as the guest's own view (an
// offset; the host clock is untouched), and only when the runtime allows it.
func clockTimeSet(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	id, t := uint32(stack[0]), stack[1]
	if id != sys.ClockRealtime {
		if id <= sys.ClockThreadCputime {
			return sys.EPERM
		}
		return sys.EINVAL
	}
	if !h.sys.AllowClockSet {
		return sys.EPERM
	}
	h.sys.SetRealtime(t)
	return sys.ESUCCESS
}

// newImpls2022 returns the functions of the 2022 ABI whose form differs.
func newImpls2022() map[string]fn {
	return map[string]fn{
		"thread_local_create":  threadLocalCreate,
		"thread_local_destroy": threadLocalDestroy,
		"thread_local_set":     threadLocalSet,
		"thread_local_get":     threadLocalGet,
		"proc_join":            procJoin2022,
	}
}

// tlsKey names one thread's value of one 2022 thread-local key.
type tlsKey struct{ tid, key uint32 }

// threadLocalCreate is the 2022 thread_local_create(user_data: u64, ret_key: *u32) -> errno.
// Every thread's value of a new key starts at 0.
func threadLocalCreate(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	resPtr := uint32(stack[1])
	if !guestmem.Writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	p := h.proc
	p.mu.Lock()
	p.tlsNext++
	key := p.tlsNext
	p.tlsKeys[key] = stack[0]
	p.mu.Unlock()
	return guestmem.PutU32(m.Memory(), resPtr, key)
}

// threadLocalDestroy is the 2022 thread_local_destroy(key) -> errno.
func threadLocalDestroy(h *host, _ context.Context, _ api.Module, stack []uint64) sys.Errno {
	key := uint32(stack[0])
	p := h.proc
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.tlsKeys[key]; !ok {
		return sys.EINVAL
	}
	delete(p.tlsKeys, key)
	for k := range p.tls {
		if k.key == key {
			delete(p.tls, k)
		}
	}
	return sys.ESUCCESS
}

// threadLocalSet is the 2022 thread_local_set(key, value: u64) -> errno.
func threadLocalSet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	key := uint32(stack[0])
	p := h.proc
	tid := h.tidOf(m)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.tlsKeys[key]; !ok {
		return sys.EINVAL
	}
	p.tls[tlsKey{tid, key}] = stack[1]
	return sys.ESUCCESS
}

// threadLocalGet is the 2022 thread_local_get(key, ret_value: *u64) -> errno.
func threadLocalGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	key := uint32(stack[0])
	p := h.proc
	tid := h.tidOf(m)
	p.mu.Lock()
	_, ok := p.tlsKeys[key]
	v := p.tls[tlsKey{tid, key}]
	p.mu.Unlock()
	if !ok {
		return sys.EINVAL
	}
	return guestmem.PutU64(m.Memory(), uint32(stack[1]), v)
}

// procJoin2022 is the 2022 proc_join(pid: *pid, ret_exit_code: *u32) ->
// errno: waits for the child *pid (0 or 0xffffffff: any), then writes its
// pid there and its exit code (128+sig for a death by signal).
func procJoin2022(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	mem := m.Memory()
	pidPtr, codePtr := uint32(stack[0]), uint32(stack[1])
	want, ok := mem.ReadUint32Le(pidPtr)
	if !ok || !guestmem.Writable(mem, codePtr, 4) {
		return sys.EFAULT
	}
	if want == 0xffffffff {
		want = 0
	}
	child, st, _, errno := h.join(ctx, m, want, false)
	if errno != sys.ESUCCESS {
		return errno
	}
	code := st.Code
	if st.Signal != 0 {
		code = 128 + st.Signal
	}
	guestmem.PutU32(mem, pidPtr, child)
	return guestmem.PutU32(mem, codePtr, code)
}
