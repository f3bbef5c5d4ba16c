package wasi_p1_test

import (
	"context"
	"io"
	"testing"

	"github.com/wazix/wazix"
)

// BenchmarkHostCallTraceOff is the host-call overhead with tracing off (no
// WithTracer), the cost every guest pays: args_sizes_get (the floor of a
// host call) and a 1-byte fd_write. It uses only API that predates tracing,
// so that the same file measures the code before and after tracing was
// added (docs/benchmarks.md).
func BenchmarkHostCallTraceOff(b *testing.B) {
	b.Run("args_sizes_get", func(b *testing.B) {
		m, done := benchGuest(b, wazix.NewConfig().WithStdout(io.Discard))
		defer done()
		fn := m.ExportedFunction("call_wasi_snapshot_preview1_args_sizes_get")
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if res, err := fn.Call(ctx, 0, 4); err != nil || res[0] != 0 {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("fd_write", func(b *testing.B) {
		benchFdWrite(b, wazix.NewConfig().WithStdout(io.Discard))
	})
}
