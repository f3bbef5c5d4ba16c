package wasi_p1

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// clockResGet is clock_res_get(id: clockid, resolution: *timestamp) -> errno.
func clockResGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	res, e := h.sys.Resolution(u32(stack[0]))
	if e != sys.ESUCCESS {
		return e
	}
	return putU64(m.Memory(), u32(stack[1]), res)
}

// clockTimeGet is clock_time_get(id: clockid, precision: timestamp, time: *timestamp) -> errno.
func clockTimeGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	if id := u32(stack[0]); id == sys.ClockMonotonic {
		// The clock guests read most, without a call.
		return putU64(m.Memory(), u32(stack[2]), h.sys.Monotonic())
	}
	t, e := h.sys.Now(u32(stack[0]))
	if e != sys.ESUCCESS {
		return e
	}
	return putU64(m.Memory(), u32(stack[2]), t)
}
