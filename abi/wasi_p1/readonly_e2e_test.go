package wasi_p1_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadOnlyFile checks that a Go guest can read a file it may not write.
// Go's syscall.Open asks for FD_FILESTAT_SET_SIZE even on O_RDONLY, which
// used to open the host file for writing and fail. As root, mode 0444 does
// not stop writes, so the file is made immutable instead (or the test is
// skipped where chattr cannot).
func TestReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ro")
	if err := os.WriteFile(p, []byte("data"), 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", p).CombinedOutput(); err != nil {
			t.Skipf("running as root and cannot make the file immutable: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", p).Run() })
	}
	if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
		f.Close()
		t.Skip("the host can still open the file for writing")
	}
	got := runFS(t, dir, "read", "/data/ro", "stat", "/data/ro", "write", "/data/ro", "x")
	want := []string{`read /data/ro OK "data"`, "stat /data/ro OK size=4 type=file nlink=1"}
	if strings.Join(got[:2], "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(got[2], "ERR") {
		t.Errorf("writing a read-only file: %q", got[2])
	}
}
