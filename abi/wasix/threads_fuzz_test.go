package wasix_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
)

// fuzzThreadCalls are the exports of wat/thread_fuzz, one per thread function.
var fuzzThreadCalls = []string{"thread_spawn_v2", "thread_join", "thread_signal", "thread_exit", "thread_sleep",
	"thread_id", "thread_parallelism", "futex_wait", "futex_wake", "futex_wake_all", "wasi_thread_spawn"}

// FuzzThreadFunctions calls the thread functions in random order with random
// arguments over random memory; the spawned threads do random things
// (return, trap, thread_exit, proc_exit, block in futex_wait or
// memory.atomic.wait32, spawn more). The host must not panic, a call from
// the embedder may only end in an exit (or its deadline), and Close must end
// every thread promptly, leaving no goroutine behind.
func FuzzThreadFunctions(f *testing.F) {
	wasm := fixtures.Build(f, "wat/thread_fuzz")
	f.Add([]byte{0, 1}, uint64(64), uint64(128), uint64(0), uint64(0), []byte{})
	f.Add([]byte{0, 0, 0, 1, 1}, uint64(1024), uint64(128), uint64(2), uint64(0), []byte{1, 0, 0, 0})
	f.Add([]byte{10, 10, 7}, uint64(4), uint64(0), uint64(0), uint64(200), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0, 2, 8, 9}, uint64(3), uint64(12), uint64(10), uint64(0), []byte{})
	f.Add([]byte{10, 0, 3}, uint64(7), uint64(5), uint64(1), uint64(0), make([]byte, 16))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint64(45), uint64(256), uint64(0), uint64(0), []byte{})
	f.Add([]byte{5, 4, 6}, uint64(0xfffffff0), uint64(3), uint64(1<<40), uint64(0), []byte{0xff})

	ctx := context.Background()
	cache := wazero.NewCompilationCache()
	rc := wazix.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true)
	f.Fuzz(func(t *testing.T, ops []byte, a0, a1, a2, a3 uint64, mem []byte) {
		if len(ops) > 8 {
			ops = ops[:8]
		}
		before := runtime.NumGoroutine()
		rt := wazero.NewRuntimeWithConfig(ctx, rc)
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		host, err := wazix.NewConfig().WithStdout(io.Discard).WithStderr(io.Discard).WithMaxThreads(8).Instantiate(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		m, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		if len(mem) > 4096 {
			mem = mem[:4096]
		}
		m.Memory().Write(0, mem)
		for i, op := range ops {
			name := fuzzThreadCalls[int(op)%len(fuzzThreadCalls)]
			fn := m.ExportedFunction("call_" + name)
			src := []uint64{a0, a1, a2, a3, a0 ^ uint64(i), a1 + uint64(i)}
			args := make([]uint64, len(fn.Definition().ParamTypes()))
			for j, typ := range fn.Definition().ParamTypes() {
				args[j] = src[(i+j)%len(src)]
				if typ == api.ValueTypeI32 {
					args[j] = uint64(uint32(args[j]))
				}
			}
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_, err := fn.Call(cctx, args...)
			cancel()
			var exit *wsys.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("%s%v: %v", name, args, err)
			}
			if err != nil {
				break // the module is closed
			}
		}
		done := make(chan struct{})
		go func() { host.Close(ctx); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return")
		}
		rt.Close(ctx)
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Fatalf("%d goroutines before, %d after", before, n)
		}
	})
}
