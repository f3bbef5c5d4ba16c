package wazix_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
)

// TestManyGuestsOneRuntime runs 100 guests at once on one runtime, each with
// its own Config (args, env, stdout, exit code): every guest sees only its
// own, and when all are done no goroutine, fd or guest memory is left.
// Preview1 (Go) and WASIX (C) guests are mixed, so that both host modules
// are instantiated per process.
func TestManyGuestsOneRuntime(t *testing.T) {
	ctx := context.Background()
	goWasm := fixtures.Build(t, "go/hello")
	cWasm := fixtures.Build(t, "c/wasix_core")
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	defer rt.Close(ctx)
	goMod, err := rt.CompileModule(ctx, goWasm)
	if err != nil {
		t.Fatal(err)
	}
	cMod, err := rt.CompileModule(ctx, cWasm)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines, fds := runtime.NumGoroutine(), countFds(t)

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out strings.Builder
			cfg := wazix.NewConfig().WithStdout(&out).WithStderr(&out)
			compiled, want := goMod, []string{fmt.Sprintf("ARG:id-%d", i), fmt.Sprintf("ENV:ID=%d", i)}
			code := uint32(i % 50)
			if i%2 == 0 {
				cfg.WithArgs("guest", fmt.Sprintf("id-%d", i), "-exit", fmt.Sprint(code), "-env", "ID").WithEnv("ID", fmt.Sprint(i))
			} else {
				// The WASIX guest: its pid and cwd are its own.
				compiled, code, want = cMod, 0, []string{"startup proc_id errno=0 pid=1"}
				cfg.WithArgs("guest", "startup")
			}
			host, err := cfg.Instantiate(ctx, rt)
			if err != nil {
				errs <- err
				return
			}
			defer host.Close(ctx)
			got, err := host.Run(ctx, rt, compiled)
			if err != nil || got != code {
				errs <- fmt.Errorf("guest %d: code %d err %v, want %d\n%s", i, got, err, code, out.String())
				return
			}
			for _, w := range want {
				if !strings.Contains(out.String(), w+"\n") {
					errs <- fmt.Errorf("guest %d: missing %q in\n%s", i, w, out.String())
				}
			}
			for j := 0; j < n; j++ {
				if j != i && strings.Contains(out.String(), fmt.Sprintf("id-%d\n", j)) {
					errs <- fmt.Errorf("guest %d sees guest %d's args", i, j)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Nothing left: goroutines and fds come back (allowing for the
	// runtime's own to settle), and the guests' memories are freed.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		t.Errorf("%d goroutines left (before: %d)", g-goroutines, goroutines)
	}
	if f := countFds(t); f > fds {
		t.Errorf("%d fds left (before: %d)", f-fds, fds)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// 100 guests hold hundreds of MiB while they run; what stays must be
	// far less than one guest's worth per guest.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Errorf("heap in use grew by %d MiB after the guests ended", grew>>20)
	}
}

func countFds(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}
