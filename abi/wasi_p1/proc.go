package wasi_p1

import (
	"context"
	"io"
	"runtime"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/sys"
)

// procExit is proc_exit(rval: exitcode). It does not return: the process
// ends with the code (every thread stops), the module is closed with the code
// and the call unwinds with a sys.ExitError.
func procExit(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	code := u32(stack[0])
	if h.sys.ExitSignal != nil {
		if sig := h.sys.ExitSignal(code); sig != 0 {
			h.sys.TermSignal.CompareAndSwap(0, sig)
			code = 128 + sig
		}
	}
	h.sys.End(code, nil)
	h.sys.CloseInstance(ctx, m, code)
	panic(wsys.NewExitError(code))
}

// procRaise is proc_raise(sig: signal) -> errno. A preview1 host has no
// signal handlers to run: like wazero, it is not supported. A WASIX guest
// gets its signal delivered (WASIX numbering, = Linux).
func procRaise(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	sig := u32(stack[0])
	if h.sys.WASIX && h.sys.Raise != nil {
		return h.sys.Raise(ctx, m, sig)
	}
	if sig == 0 || sig > 30 {
		return sys.EINVAL
	}
	return sys.ENOSYS
}

// schedYield is sched_yield() -> errno.
func schedYield(_ *host, _ context.Context, _ api.Module, _ []uint64) sys.Errno {
	runtime.Gosched()
	return sys.ESUCCESS
}

// randomGet is random_get(buf: *u8, buf_len: size) -> errno.
func randomGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	b, ok := m.Memory().Read(u32(stack[0]), u32(stack[1]))
	if !ok {
		return sys.EFAULT
	}
	if _, err := io.ReadFull(h.sys.Random, b); err != nil {
		return sys.EIO
	}
	return sys.ESUCCESS
}
