package translate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/internal/testtools"
)

// lockedBuffer is the stdout every thread's instance writes to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runWasmtimeTids runs a translated threaded module on a minimal
// preview1 + wasi-threads host built on wazero's own WASI that numbers
// threads as Wasmtime's crates/wasi-threads does: the first spawned thread
// is 1, then 2, 3, ... (wazix gives 2, 3, ...). Each thread is a new
// instance over one shared env.memory, started at wasi_thread_start(tid,
// start_arg).
func runWasmtimeTids(t *testing.T, wasm []byte) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads).WithCloseOnContextDone(true))
	defer rt.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	var mem api.MemoryDefinition
	for _, m := range compiled.ImportedMemories() {
		mem = m
	}
	if mem == nil {
		t.Fatal("the translation imports no memory")
	}
	max, _ := mem.Max()
	env := testtools.Wat2Wasm(t, fmt.Sprintf(`(module (memory (export "memory") %d %d shared))`, mem.Min(), max))
	if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	config := wazero.NewModuleConfig().WithName("").WithStdout(out).WithStderr(out).WithArgs("guest")
	var next atomic.Int32
	exit := make(chan int, 1)
	ended := func(err error) {
		var ee *sys.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			select {
			case exit <- int(ee.ExitCode()):
			default:
			}
		default:
			select {
			case exit <- 134:
			default:
			}
		}
	}
	_, err = rt.NewHostModuleBuilder("wasi").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
			tid := next.Add(1)
			arg := stack[0]
			go func() {
				inst, err := rt.InstantiateModule(ctx, compiled, config.WithStartFunctions())
				if err == nil {
					_, err = inst.ExportedFunction("wasi_thread_start").Call(ctx, uint64(tid), arg)
				}
				ended(err)
			}()
			stack[0] = uint64(tid)
		}), []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		Export("thread-spawn").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.InstantiateModule(ctx, compiled, config)
	if err == nil {
		ended(sys.NewExitError(0))
	}
	ended(err)
	return out.String(), <-exit
}

// TestWasmtimeThreadIds: a translated threaded module gives the same
// output on a host that numbers threads from 1 (Wasmtime) as the original
// under wazix. Before the adapter shifted such ids, the first thread had
// the main thread's id 1, and main's thread_join(1) was EDEADLK.
func TestWasmtimeThreadIds(t *testing.T) {
	orig := fixture(t, "spawn.wat")
	out, _, err := Translate(orig, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := runWazixArgs(t, orig, nil, nil)
	got, code := runWasmtimeTids(t, out)
	if got != want.Stdout || code != want.Exit {
		t.Errorf("on a host numbering threads from 1: exit %d\n%s\nthe original under wazix: exit %d\n%s", code, got, want.Exit, want.Stdout)
	}
}
