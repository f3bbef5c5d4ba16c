package wasix_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

// TestStatusesHold calls every function of the compat tables, with all
// arguments zero, through a generated guest, and checks the table's status
// (what docs/compat.md and `wazix inspect` say) against what happens: an
// ENOSYS or ENOTSUP function returns exactly that, a "traps" one traps, and
// an implemented one never answers ENOSYS. A WASIX guest and a preview1-only
// guest are checked separately, since some statuses depend on the flavour.
func TestStatusesHold(t *testing.T) {
	wasixFuncs := append(append([]compat.Func{}, compat.Preview1()...), compat.WASIX()...)
	for _, tc := range []struct {
		name  string
		funcs []compat.Func
		wasix bool
	}{
		{"wasix", wasixFuncs, true},
		{"preview1", compat.Preview1(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ims := toImports(tc.funcs)
			wasm := wasmgen.Caller(ims, wasmgen.Options{SharedMemory: tc.wasix})
			ctx := context.Background()
			rtc := wazix.NewRuntimeConfig().WithCompilationCache(wazero.NewCompilationCache())
			checked := 0
			for i, f := range tc.funcs {
				status, _ := compat.StatusOf(f, tc.wasix)
				switch f.Name {
				case "proc_exit", "proc_exit2", "thread_exit":
					continue // end the guest by design
				case "thread_signal", "proc_signal", "proc_raise":
					if status.Implemented() {
						continue // signal 0 to itself may end it by design; covered elsewhere
					}
				}
				// A fresh runtime and host per call: some calls change the
				// process (signals, timers), and a host owns its runtime's
				// system modules.
				rt := wazero.NewRuntimeWithConfig(ctx, rtc)
				compiled, err := rt.CompileModule(ctx, wasm)
				if err != nil {
					t.Fatal(err)
				}
				host, err := wazix.NewConfig().WithStdin(strings.NewReader("")).WithStdout(io.Discard).
					WithStderr(io.Discard).Instantiate(ctx, rt)
				if err != nil {
					t.Fatal(err)
				}
				m, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
				if err != nil {
					t.Fatal(err)
				}
				cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				args := make([]uint64, len(f.Params))
				if f.Name == "proc_raise" {
					args[0] = 15 // a valid signal (SIGTERM), so that the status decides
				}
				res, callErr := m.ExportedFunction(wasmgen.WrapperName(ims[i])).Call(cctx, args...)
				timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded)
				cancel()
				host.Close(ctx)
				rt.Close(ctx)
				where := f.Module + "." + f.Name + f.Signature()
				switch {
				case status == compat.StatusTraps:
					if callErr == nil {
						t.Errorf("%s: status traps, but the call returned", where)
					}
				case !status.Implemented():
					if callErr != nil || len(res) != 1 || uint32(res[0]) != status.Errno() {
						t.Errorf("%s: status %s, but the call gave %v %v", where, status, res, callErr)
					}
				default:
					if timedOut {
						break // blocks on zero arguments (waits): implemented
					}
					if callErr != nil && len(f.Results) == 1 {
						t.Errorf("%s: status %s, but the call failed: %v", where, status, callErr)
					} else if len(res) == 1 && uint32(res[0]) == 52 {
						t.Errorf("%s: status %s, but the call answered ENOSYS", where, status)
					}
				}
				checked++
			}
			if checked < len(tc.funcs)-10 {
				t.Errorf("only %d of %d functions checked", checked, len(tc.funcs))
			}
		})
	}
}
