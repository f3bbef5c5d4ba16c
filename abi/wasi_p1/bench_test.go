package wasi_p1_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wazero_wasi "github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wazix/wazix"
)

// benchGuest instantiates the caller module with cfg and returns it. With a
// nil cfg the host is wazero's own wasi_snapshot_preview1, for comparison.
func benchGuest(b *testing.B, cfg *wazix.Config) (api.Module, func()) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	var host interface{ Close(context.Context) error }
	mcfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStdout(io.Discard)
	var m api.Module
	var err error
	if cfg == nil {
		if _, err := wazero_wasi.Instantiate(ctx, rt); err != nil {
			b.Fatal(err)
		}
		host = rt
		m, err = rt.InstantiateModule(ctx, mustCompile(b, rt), mcfg)
	} else {
		h, err2 := cfg.Instantiate(ctx, rt)
		if err2 != nil {
			b.Fatal(err2)
		}
		host = h
		m, err = h.InstantiateModule(ctx, rt, mustCompile(b, rt), mcfg)
	}
	if err != nil {
		b.Fatal(err)
	}
	return m, func() { host.Close(ctx); rt.Close(ctx) }
}

func mustCompile(b *testing.B, rt wazero.Runtime) wazero.CompiledModule {
	c, err := rt.CompileModule(context.Background(), callerModule(b, rt))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// hosts are the two preview1 implementations compared side by side.
var hosts = []struct {
	name string
	cfg  func() *wazix.Config
}{
	{"wazix", func() *wazix.Config { return wazix.NewConfig().WithStdout(io.Discard) }},
	{"wazero", func() *wazix.Config { return nil }},
}

// BenchmarkFdWrite1Byte is the host-call overhead of a 1-byte fd_write.
func BenchmarkFdWrite1Byte(b *testing.B) {
	for _, h := range hosts {
		b.Run(h.name, func(b *testing.B) { benchFdWrite(b, h.cfg()) })
	}
}

// BenchmarkArgsSizesGet is the cheapest host call: the floor of the overhead.
func BenchmarkArgsSizesGet(b *testing.B) {
	for _, h := range hosts {
		b.Run(h.name, func(b *testing.B) {
			m, done := benchGuest(b, h.cfg())
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
	}
}

func benchFdWrite(b *testing.B, cfg *wazix.Config) {
	m, done := benchGuest(b, cfg)
	defer done()
	mem := m.Memory()
	mem.WriteUint32Le(0, 16) // iovec.buf
	mem.WriteUint32Le(4, 1)  // iovec.len
	fn := m.ExportedFunction("call_wasi_snapshot_preview1_fd_write")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := fn.Call(ctx, 1, 0, 1, 8); err != nil || res[0] != 0 {
			b.Fatal(res, err)
		}
	}
}

// writeSub encodes one subscription at off.
func writeSub(mem api.Memory, off uint32, userdata uint64, tag byte, fd uint32, timeout uint64) {
	var s [48]byte
	binary.LittleEndian.PutUint64(s[0:], userdata)
	s[8] = tag
	if tag == 0 {
		binary.LittleEndian.PutUint32(s[16:], 1) // monotonic
		binary.LittleEndian.PutUint64(s[24:], timeout)
	} else {
		binary.LittleEndian.PutUint32(s[16:], fd)
	}
	mem.Write(off, s[:])
}

// BenchmarkPollOneoffClock is a poll_oneoff with one expired clock.
func BenchmarkPollOneoffClock(b *testing.B) {
	for _, h := range hosts {
		b.Run(h.name, func(b *testing.B) { benchPollClock(b, h.cfg()) })
	}
}

func benchPollClock(b *testing.B, cfg *wazix.Config) {
	m, done := benchGuest(b, cfg)
	defer done()
	writeSub(m.Memory(), 0, 1, 0, 0, 0)
	fn := m.ExportedFunction("call_wasi_snapshot_preview1_poll_oneoff")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := fn.Call(ctx, 0, 4096, 1, 8192); err != nil || res[0] != 0 {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkPollOneoffFds polls N idle listening sockets plus stdin, which is
// ready: the realistic shape of a server with many idle connections.
func BenchmarkPollOneoffFds(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cfg := wazix.NewConfig().WithStdin(strings.NewReader(""))
			for i := 0; i < n-1; i++ {
				cfg.WithListen("127.0.0.1:0")
			}
			m, done := benchGuest(b, cfg)
			defer done()
			mem := m.Memory()
			if mem.Size() < 3*65536 {
				mem.Grow(3)
			}
			// fd 0 (stdin, ready) last, so that every idle fd is scanned first.
			for i := 0; i < n-1; i++ {
				writeSub(mem, uint32(i*48), uint64(i), 1, uint32(3+i), 0)
			}
			writeSub(mem, uint32((n-1)*48), 999, 1, 0, 0)
			out := uint32(n * 48)
			nev := out + uint32(n*32)
			fn := m.ExportedFunction("call_wasi_snapshot_preview1_poll_oneoff")
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := fn.Call(ctx, 0, uint64(out), uint64(n), uint64(nev))
				if err != nil || res[0] != 0 {
					b.Fatal(res, err)
				}
				if c, _ := mem.ReadUint32Le(nev); c != 1 {
					b.Fatalf("%d events, want 1", c)
				}
			}
		})
	}
}
