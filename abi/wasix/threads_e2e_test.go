package wasix_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// checkGoroutines fails t when, after f, more goroutines are left than
// before (waiting a little for ones that are on their way out).
func checkGoroutines(t *testing.T, f func()) {
	t.Helper()
	before := runtime.NumGoroutine()
	f()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf)
	}
}

func TestThreadsCounter(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_counter")
	checkGoroutines(t, func() {
		r := testrun.Run(t, wasm, testrun.Options{})
		if r.Err != nil || r.Code != 0 {
			t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
		}
		if got := r.Lines(); len(got) != 2 || got[0] != "32000" || got[1] != "0" {
			t.Fatalf("stdout %q, want counter 32000 and 0 errors", r.Stdout)
		}
	})
}

// Many threads hammer one futex lock: a lost wake-up hangs (the test times
// out), a broken lock loses increments.
func TestThreadsFutexHammer(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_counter")
	for i := 0; i < 3; i++ {
		r := testrun.Run(t, wasm, testrun.Options{Args: []string{"200", "300"}})
		if r.Err != nil || r.Code != 0 || r.Stdout != "60000\n0\n" {
			t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
		}
	}
}

func TestThreadsPingPong(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_pingpong")
	for i := 0; i < 3; i++ {
		r := testrun.Run(t, wasm, testrun.Options{})
		if r.Err != nil || r.Code != 0 || r.Stdout != "4000\n" {
			t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
		}
	}
}

func TestThreadsWASIThreads(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_wasi")
	r := testrun.Run(t, wasm, testrun.Options{})
	if r.Err != nil || r.Code != 0 || r.Stdout != "40000\n" {
		t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	// Beyond the limit thread-spawn returns a negative errno (the guest
	// exits 10 when a spawn returns <= 0).
	r = testrun.Run(t, wasm, testrun.Options{MaxThreads: 2})
	if r.Err != nil || r.Code != 10 || r.Stdout != "" {
		t.Fatalf("max 2: code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
}

// wasi-threads' spawn function under its first name, wasi.thread_spawn.
func TestThreadsWASIThreadsOldName(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_wasi_old")
	r := testrun.Run(t, wasm, testrun.Options{})
	if r.Err != nil || r.Code != 0 || r.Stdout != "ok\n" {
		t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
}

func TestThreadsLocal2022(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_tls")
	r := testrun.Run(t, wasm, testrun.Options{})
	if r.Err != nil || r.Code != 0 || r.Stdout != "0\n" {
		t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
}

// The earliest 2022 thread_spawn names the export the thread starts in.
func TestThreadsSpawnByName2022(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_byname")
	r := testrun.Run(t, wasm, testrun.Options{})
	if r.Err != nil || r.Code != 0 || r.Stdout != "5\n7\n9\n8\n76\n76\n" {
		t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
}

func TestThreadsNoSharedMemory(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_noshared")
	r := testrun.Run(t, wasm, testrun.Options{})
	if r.Err != nil || r.Code != 0 || r.Stdout != "76\n" {
		t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "no shared memory") || strings.Count(r.Stderr, "\n") != 1 {
		t.Fatalf("stderr %q, want one line explaining the missing shared memory", r.Stderr)
	}
}

func TestThreadsExit(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_exit")
	cases := []struct {
		mode    string
		code    uint32
		stdout  string
		trap    bool
		closeOn bool // needs WithCloseOnContextDone (workers that only compute)
		max     int
	}{
		{mode: "a", code: 0},
		{mode: "b", code: 1},
		{mode: "c", code: 0},
		{mode: "d", code: 1},
		{mode: "e", code: 1, trap: true},
		{mode: "f", code: 0, stdout: "alive\n"},
		{mode: "g", code: 3, closeOn: true},
		{mode: "h", code: 0, stdout: fmt.Sprintf("%d\n3\n6\n", min(runtime.GOMAXPROCS(0), 4)), max: 4},
		{mode: "h", code: 0, stdout: "1\n0\n6\n", max: 1},
		{mode: "h", code: 0, stdout: fmt.Sprintf("%d\n16\n0\n", runtime.GOMAXPROCS(0))},
		{mode: "i", code: 0, stdout: "28\n21\n28\n21\n16\n28\n71\n0\n21\n"},
		{mode: "j", code: 0},
		{mode: "k", code: 4, closeOn: true},
		{mode: "l", code: 6},
		{mode: "n", code: 0, stdout: "nested\n"},
		{mode: "s", code: 0, stdout: "signal\n10\n2\n"},
		{mode: "q", code: 0, stdout: "0\n3\n"},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			checkGoroutines(t, func() {
				start := time.Now()
				r := testrun.Run(t, wasm, testrun.Options{Args: []string{c.mode}, MaxThreads: c.max, CloseOnContextDone: c.closeOn})
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("took %v", d)
				}
				if r.Code != c.code || r.Stdout != c.stdout {
					t.Errorf("code %d stdout %q, want %d %q (err %v, stderr %q)", r.Code, r.Stdout, c.code, c.stdout, r.Err, r.Stderr)
				}
				if c.trap {
					if r.Err == nil || !strings.Contains(r.Err.Error(), "unreachable") || !strings.Contains(r.Err.Error(), "thread ") {
						t.Errorf("err %v, want the worker's trap", r.Err)
					}
				} else if r.Err != nil {
					t.Errorf("err %v", r.Err)
				}
				if r.Stderr != "" {
					t.Errorf("stderr %q", r.Stderr)
				}
			})
		})
	}
}

// A process killed while its main thread waits in memory.atomic.wait32 with
// no timeout ends (Wasmer's tests/wasix/atomic-wait-signal pattern): the
// wait sees no context, so the end of the process wakes it, and the woken
// thread runs no more guest code (no "main woke").
func TestAtomicWaitKilled(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_exit")
	for _, sig := range []int{9, 15} {
		t.Run(fmt.Sprint(sig), func(t *testing.T) {
			checkGoroutines(t, func() {
				start := time.Now()
				r := testrun.Run(t, wasm, testrun.Options{Args: []string{"o"}, Started: func(h *wazix.Host) {
					go func() {
						time.Sleep(100 * time.Millisecond)
						h.Signal(sig)
					}()
				}})
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("took %v", d)
				}
				if r.Err != nil || r.Code != uint32(128+sig) || r.Stdout != "waiting\n" {
					t.Errorf("code %d err %v stdout %q stderr %q, want %d \"waiting\\n\"", r.Code, r.Err, r.Stdout, r.Stderr, 128+sig)
				}
			})
		})
	}
}

// A worker blocked reading a host pipe is woken by the process's end.
func TestThreadsExitWhileReading(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_exit")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	checkGoroutines(t, func() {
		start := time.Now()
		r := testrun.Run(t, wasm, testrun.Options{Args: []string{"r"}, Stdin: pr})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
		if r.Err != nil || r.Code != 5 || r.Stdout != "" {
			t.Errorf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
		}
	})
}

// A context canceled while threads are blocked ends them all.
func TestThreadsContextCanceled(t *testing.T) {
	wasm := fixtures.Build(t, "wat/thread_exit")
	checkGoroutines(t, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		r := testrun.Run(t, wasm, testrun.Options{Args: []string{"w"}, Ctx: ctx})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
		var exit *wsys.ExitError
		if !errors.As(r.Err, &exit) || r.Code != wsys.ExitCodeDeadlineExceeded || r.Stdout != "" {
			t.Errorf("code %d err %v stdout %q, want the deadline", r.Code, r.Err, r.Stdout)
		}
	})
}
