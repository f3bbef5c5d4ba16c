package wasi_p1_test

import (
	"context"
	"io"
	"testing"

	"github.com/wazix/wazix"
)

// BenchmarkHostCallTraceOn is the same calls traced: decoding each call and
// formatting its line (into io.Discard), or only counting it (the --stats
// hook).
func BenchmarkHostCallTraceOn(b *testing.B) {
	for _, c := range []struct {
		name string
		hook func(wazix.TraceEvent)
	}{
		{"lines", func(e wazix.TraceEvent) { io.WriteString(io.Discard, e.String()) }},
		{"count", func(wazix.TraceEvent) {}},
	} {
		b.Run(c.name+"/args_sizes_get", func(b *testing.B) {
			m, done := benchGuest(b, wazix.NewConfig().WithStdout(io.Discard).WithTracer(c.hook, 0))
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
		b.Run(c.name+"/fd_write", func(b *testing.B) {
			benchFdWrite(b, wazix.NewConfig().WithStdout(io.Discard).WithTracer(c.hook, 0))
		})
	}
}
