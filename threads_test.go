package wazix_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
)

func TestSpawnsThreads(t *testing.T) {
	for name, want := range map[string]bool{
		"wat/thread_counter":  true,  // wasix_32v1.thread_spawn_v2
		"wat/thread_wasi":     true,  // wasi.thread-spawn
		"wat/thread_tls":      true,  // the 2022 five-argument thread_spawn
		"wat/thread_wasi_old": true,  // wasi.thread_spawn
		"wat/hello":           false, // preview1 only
	} {
		if got := wazix.SpawnsThreads(fixtures.Build(t, name)); got != want {
			t.Errorf("%s: SpawnsThreads = %v, want %v", name, got, want)
		}
	}
	if wazix.SpawnsThreads([]byte("\x00asm\x01\x00\x00\x00\x02\xff")) {
		t.Error("a truncated module spawns threads")
	}
}

// A guest started with InstantiateModule (its exports called by the
// embedder) is ended by Host.Close: the threads it spawned stop, and so does
// a call blocked in the host.
func TestInstantiateModuleCloseEndsThreads(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_exit")
	ctx := context.Background()
	before := runtime.NumGoroutine()
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	host, err := wazix.NewConfig().WithArgs("guest", "w").WithStdout(io.Discard).WithStderr(io.Discard).Instantiate(ctx, rt)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("")); err == nil {
		t.Error("a second InstantiateModule on one Host succeeded")
	}
	if code, err := host.Run(ctx, rt, compiled); err == nil || code != 1 {
		t.Errorf("Run after InstantiateModule on one Host: %d %v", code, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("_start").Call(ctx) // blocks: workers and main wait forever
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	host.Close(ctx)
	select {
	case err := <-done:
		var exit *wsys.ExitError
		if !errors.As(err, &exit) {
			t.Errorf("_start returned %v, want an exit", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("_start still blocked after Close")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	rt.Close(ctx)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}
