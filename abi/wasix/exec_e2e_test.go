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
		"exec: child argv=tool,child,x y FOO=bar cloexec=8 kept=0 pid=2 ppid=1",
		"exec: joined code 3",
		"spawn: child argv=tool,child,spawned FOO=- cloexec=8 kept=0 pid=3 ppid=1",
		"spawn: joined code 3",
		"pipeline: HELLO, WORLD",
		"pipeline: joined 0 0",
		"path search: child argv=tool,child,found FOO=- cloexec=8 kept=0 pid=5 ppid=1",
		"spawn3: child argv=tool,child,arrays FOO=baz cloexec=8 kept=0 pid=6 ppid=1",
		"missing: 44 notwasm: 45 dir: 2",
	}
	if got := r.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.Stderr)
	}
}
