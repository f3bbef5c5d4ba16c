package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wazix/wazix/fixtures"
)

// The CLI runs threaded guests end to end: exit codes from main and from
// workers, a trapping worker (134 and one line), --max-threads, and workers
// that compute forever (stopped because the CLI turns on wazero's
// termination checks for guests that spawn threads).
func TestRunThreads(t *testing.T) {
	exit := fixtures.Path(t, "wat/thread_exit")
	cases := []struct {
		args   []string
		code   int
		stdout string
		trap   bool
	}{
		{args: []string{exit, "a"}, code: 0},
		{args: []string{exit, "b"}, code: 1},
		{args: []string{exit, "c"}, code: 0},
		{args: []string{exit, "d"}, code: 1},
		{args: []string{exit, "e"}, code: 134, trap: true},
		{args: []string{exit, "f"}, code: 0, stdout: "alive\n"},
		{args: []string{exit, "g"}, code: 3},
		{args: []string{exit, "k"}, code: 4},
		{args: []string{"--max-threads", "3", exit, "h"}, code: 0, stdout: fmt.Sprintf("%d\n2\n6\n", min(runtime.NumCPU(), 3))},
		{args: []string{fixtures.Path(t, "wat/thread_counter")}, code: 0, stdout: "32000\n0\n"},
		{args: []string{fixtures.Path(t, "wat/thread_wasi")}, code: 0, stdout: "40000\n"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[len(c.args)-1:], " "), func(t *testing.T) {
			start := time.Now()
			r := runCLI(t, nil, append([]string{"run"}, c.args...)...)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if r.code != c.code || r.stdout != c.stdout {
				t.Errorf("code %d stdout %q, want %d %q (stderr %q)", r.code, r.stdout, c.code, c.stdout, r.stderr)
			}
			if c.trap {
				assertOneLine(t, r, "unreachable")
			} else if r.stderr != "" {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
	r := runCLI(t, nil, "run", "--max-threads", "0", exit, "a")
	if r.code != 2 {
		t.Errorf("--max-threads 0: code %d, want 2 (stderr %q)", r.code, r.stderr)
	}
}
