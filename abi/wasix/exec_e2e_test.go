package wasix_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// TestExecSpawn runs fixtures/c/exec.c with itself mounted as /bin/tool:
// fork+exec with the child's stdout on a pipe, close-on-exec fds closed by
// exec and spawn, posix_spawn with file actions, a pipeline through a
// spawned child, PATH search, and the errnos of a failed exec.
func TestExecSpawn(t *testing.T) {
	wasm := fixtures.Build(t, "c/exec")
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "tool"), wasm, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bin, "notwasm"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	r := testrun.Run(t, wasm, testrun.Options{Args: []string{"main"}, Dirs: [][2]string{{bin, "/bin"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	want := []string{
		"exec: child argv=tool,child,,x y FOO=bar cloexec=8 kept=0 pid=2 ppid=1 sigs=0",
		"exec: joined code 3",
		"spawn: child argv=tool,child,spawned FOO=- cloexec=8 kept=0 pid=3 ppid=1 sigs=0",
		"spawn: joined code 3",
		"pipeline: HELLO, WORLD",
		"pipeline: joined 0 0",
		"pipeline of two: TWO CHILDREN (joined 0 0)",
		"path search: child argv=tool,child,found FOO=- cloexec=8 kept=0 pid=7 ppid=1 sigs=0",
		"spawn3: child argv=tool,child,arrays FOO=baz cloexec=8 kept=0 pid=8 ppid=1 sigs=2 1/1 15/0",
		"missing: 44 notwasm: 45 dir: 2",
		"failed spawn: 44 leaves no child: 12",
	}
	if got := r.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.Stderr)
	}
}

// TestVfork runs fixtures/c/vfork.c: proc_fork_env makes the instance the
// child (its pid, its fds) until it exits or execs, and those calls return
// in the parent; vforks nest; a failed exec returns in the child.
func TestVfork(t *testing.T) {
	wasm := fixtures.Build(t, "c/vfork")
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "tool"), wasm, 0o755); err != nil {
		t.Fatal(err)
	}
	r := testrun.Run(t, wasm, testrun.Options{Dirs: [][2]string{{bin, "/bin"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	want := []string{
		"vfork: child pid 2 (parent 1) in child: pid 2 ppid 1",
		"back: pid 1",
		"exit: joined 2 code 9",
		"exec: tool says hi",
		"exec: joined 3 code 4",
		"nested: joined 5 code 6 then 4 code 7",
		"exec missing: 44, child exits 127: joined 6 code 127",
	}
	if got := r.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.Stderr)
	}
}
