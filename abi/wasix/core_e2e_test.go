package wasix_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// expected reads testdata/core.expect and groups its lines by operation.
func expected(t *testing.T) map[string][]string {
	b, err := os.ReadFile("testdata/core.expect")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		op, _, _ := strings.Cut(l, " ")
		out[op] = append(out[op], l)
	}
	return out
}

// TestCore runs each operation of the WASIX core fixture in its own guest:
// epoll (level, edge, one-shot, hang-up, coalescing, errors, both ctl
// numberings, close, nesting, mixing with poll_oneoff), pipes, event fds,
// dup, cwd, signals, futexes, tty and the start-up calls.
func TestCore(t *testing.T) {
	wasm := fixtures.Build(t, "c/wasix_core")
	want := expected(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "file"), []byte("f\n"), 0o644)
	ops := []string{"level", "edge", "oneshot", "hup", "coalesce", "errors", "numbering", "close", "nested",
		"mix", "pipe", "pipefull", "eventfd", "eventsem", "dup", "cwd", "signals", "itimer", "futex", "tty", "startup"}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			r := testrun.Run(t, wasm, testrun.Options{Args: []string{op}, Dirs: [][2]string{{dir, "/data"}}})
			if r.Err != nil || r.Code != 0 {
				t.Fatalf("code %d err %v stderr %s", r.Code, r.Err, r.Stderr)
			}
			got := r.Lines()
			// dup writes through duplicated fds: those lines have no prefix.
			w := want[op]
			if op == "dup" {
				w = append(w, "dup through copy", "dup through renumbered")
			}
			if len(w) == 0 {
				t.Fatalf("no expectations for %s", op)
			}
			for _, l := range w {
				if !contains(got, l) {
					t.Errorf("missing %q\ngot:\n%s", l, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func contains(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}
	return false
}

func TestExit2(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "c/wasix_core"), testrun.Options{Args: []string{"startup", "exit2", "7"}})
	if r.Err != nil || r.Code != 7 {
		t.Fatalf("code %d err %v, want 7", r.Code, r.Err)
	}
	if !strings.Contains(r.Stdout, "startup proc_id errno=0 pid=1\n") {
		t.Errorf("output before the exit lost:\n%s", r.Stdout)
	}
}

// TestGeneration2022 instantiates a module that imports the 2022 forms of
// thread_spawn, proc_join and thread_local_*, and uses the thread-local keys.
func TestGeneration2022(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "wat/wasix2022"), testrun.Options{})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v\n%s", r.Code, r.Err, r.Stdout)
	}
	want := "create 0\nset 0\nget 0 value 1234605616436508552\nproc_join 12\ndestroy 0\nget-destroyed 28\n"
	if r.Stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.Stdout, want)
	}
}

// TestGoEventLoop runs a Go guest whose event loop uses epoll over WASIX
// pipes and an event fd through //go:wasmimport.
func TestGoEventLoop(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "go/wasix_loop"), testrun.Options{})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v\n%s", r.Code, r.Err, r.Stdout)
	}
	got := r.Lines()
	want := []string{"registered 3", "event pipe1 in", "read pipe1 ping", "event pipe2 in", "read pipe2 pong",
		"event counter in", "read counter 3", "idle 0", "done"}
	for _, l := range want {
		if !contains(got, l) {
			t.Errorf("missing %q in:\n%s", l, r.Stdout)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d lines, want %d:\n%s", len(got), len(want), r.Stdout)
	}
}
