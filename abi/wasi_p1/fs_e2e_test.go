package wasi_p1_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// runFS runs the go/fs fixture with dir preopened as /data and returns its lines.
func runFS(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	r := testrun.Run(t, fixtures.Build(t, "go/fs"), testrun.Options{
		Args: args,
		Dirs: [][2]string{{dir, "/data"}},
	})
	if r.Err != nil {
		t.Fatalf("run: %v\nstderr: %s", r.Err, r.Stderr)
	}
	return r.Lines()
}

func TestFiles(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{
			name: "write read append",
			args: []string{"write", "/data/a", "hello", "append", "/data/a", "+more", "read", "/data/a"},
			want: []string{"write /data/a hello OK", "append /data/a +more OK", `read /data/a OK "hello+more"`},
		},
		{
			name: "seek pread pwrite",
			args: []string{"write", "/data/s", "0123456789", "seek", "/data/s", "4", "0", "seek", "/data/s", "-3", "2",
				"pread", "/data/s", "2", "3", "pwrite", "/data/s", "8", "XYZ", "read", "/data/s"},
			want: []string{"write /data/s 0123456789 OK", `seek /data/s 4 0 OK pos=4 data="456789"`,
				`seek /data/s -3 2 OK pos=7 data="789"`, `pread /data/s 2 3 OK "234"`,
				"pwrite /data/s 8 XYZ OK", `read /data/s OK "01234567XYZ"`},
		},
		{
			name: "truncate",
			args: []string{"fill", "/data/t", "100", "truncate", "/data/t", "10", "stat", "/data/t", "ftruncate", "/data/t", "3", "stat", "/data/t"},
			want: []string{"fill /data/t 100 OK", "truncate /data/t 10 OK", "stat /data/t OK size=10 type=file nlink=1",
				"ftruncate /data/t 3 OK", "stat /data/t OK size=3 type=file nlink=1"},
		},
		{
			name: "directories",
			args: []string{"mkdir", "/data/d", "mkdirall", "/data/d/e/f", "write", "/data/d/x", "1", "readdir", "/data/d",
				"rawreaddir", "/data/d", "rmdir", "/data/d", "rmdir", "/data/d/e/f", "mkdir", "/data/d"},
			want: []string{"mkdir /data/d OK", "mkdirall /data/d/e/f OK", "write /data/d/x 1 OK", "readdir /data/d OK e:dir,x:file",
				"rawreaddir /data/d OK ..:dir,.:dir,e:dir,x:file", "rmdir /data/d ERR 55 ENOTEMPTY", "rmdir /data/d/e/f OK",
				"mkdir /data/d ERR 20 EEXIST"},
		},
		{
			name: "rename link symlink",
			args: []string{"write", "/data/r", "x", "rename", "/data/r", "/data/r2", "exists", "/data/r", "link", "/data/r2", "/data/h",
				"stat", "/data/h", "symlink", "r2", "/data/sl", "readlink", "/data/sl", "lstat", "/data/sl", "stat", "/data/sl",
				"unlink", "/data/r2", "read", "/data/h", "read", "/data/sl"},
			want: []string{"write /data/r x OK", "rename /data/r /data/r2 OK", "exists /data/r OK false", "link /data/r2 /data/h OK",
				"stat /data/h OK size=1 type=file nlink=2", "symlink r2 /data/sl OK", "readlink /data/sl OK r2",
				"lstat /data/sl OK size=2 type=symlink nlink=1", "stat /data/sl OK size=1 type=file nlink=2",
				"unlink /data/r2 OK", `read /data/h OK "x"`, "read /data/sl ERR 44 ENOENT"},
		},
		{
			name: "times",
			args: []string{"write", "/data/tm", "x", "chtimes", "/data/tm", "1000000000000", "2000000000000", "times", "/data/tm"},
			want: []string{"write /data/tm x OK", "chtimes /data/tm 1000000000000 2000000000000 OK",
				"times /data/tm OK atime=1000000000000 mtime=2000000000000"},
		},
		{
			name: "errors",
			args: []string{"read", "/data/missing", "createexcl", "/data/ce", "createexcl", "/data/ce", "unlink", "/data/nodir",
				"mkdir", "/data/dd", "unlink", "/data/dd", "rmdir", "/data/ce"},
			want: []string{"read /data/missing ERR 44 ENOENT", "createexcl /data/ce OK", "createexcl /data/ce ERR 20 EEXIST",
				"unlink /data/nodir ERR 44 ENOENT", "mkdir /data/dd OK", "unlink /data/dd ERR 31 EISDIR", "rmdir /data/ce ERR 54 ENOTDIR"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runFS(t, t.TempDir(), tc.args...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestSandbox checks that no path leaves the preopened directory: "..",
// absolute paths and symlinks that lead out fail with EPERM, and the files
// outside stay untouched.
func TestSandbox(t *testing.T) {
	root := t.TempDir()
	inside := filepath.Join(root, "inside")
	os.Mkdir(inside, 0o755)
	os.WriteFile(filepath.Join(root, "secret"), []byte("secret"), 0o644)
	os.Mkdir(filepath.Join(inside, "sub"), 0o755)
	os.WriteFile(filepath.Join(inside, "sub", "ok"), []byte("ok"), 0o644)
	os.Symlink("../secret", filepath.Join(inside, "up"))
	os.Symlink(filepath.Join(root, "secret"), filepath.Join(inside, "abs"))
	os.Symlink("sub/ok", filepath.Join(inside, "rel"))
	os.Symlink("sub/../../secret", filepath.Join(inside, "sneaky"))

	got := runFS(t, inside,
		"rawopen", "../secret",
		"rawopen", "sub/../../secret",
		"rawopen", "/etc/passwd",
		"rawopen", "up",
		"rawopen", "abs",
		"rawopen", "sneaky",
		"rawopen", "rel",
		"rawopen", "sub/../sub/ok",
		"rawopennofollow", "rel",
		"rawopendir", "..",
		"rawopendir", ".",
	)
	want := []string{
		"rawopen ../secret ERR 63 EPERM",
		"rawopen sub/../../secret ERR 63 EPERM",
		"rawopen /etc/passwd ERR 63 EPERM",
		"rawopen up ERR 63 EPERM",
		"rawopen abs ERR 63 EPERM",
		"rawopen sneaky ERR 63 EPERM",
		"rawopen rel OK",
		"rawopen sub/../sub/ok OK",
		"rawopennofollow rel ERR 32 ELOOP",
		"rawopendir .. ERR 63 EPERM",
		"rawopendir . OK",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Through the Go API: mutations outside must fail too.
	got = runFS(t, inside, "write", "/data/../secret", "x", "symlink", "../secret", "/data/ln", "read", "/data/ln", "remove", "/data/up")
	if b, _ := os.ReadFile(filepath.Join(root, "secret")); string(b) != "secret" {
		t.Fatalf("file outside the preopen changed: %q", b)
	}
	if got[2] != "read /data/ln ERR 63 EPERM" {
		t.Errorf("reading through an escaping symlink: %q", got[2])
	}
	if got[3] != "remove /data/up OK" {
		t.Errorf("removing a symlink that points out must work (it is inside): %q", got[3])
	}
	if _, err := os.Stat(filepath.Join(root, "secret")); err != nil {
		t.Fatalf("removing the symlink removed its target: %v", err)
	}
}

// TestPreview1NoGuestRoot: WASIX's guest root is not a preview1 guest's. With
// preopens at / and /data, a preview1 guest's absolute path on the root fd
// is still EPERM, and listing the root preopen shows neither the /data
// mount point nor /dev: the guest sees exactly the preopens it was given.
func TestPreview1NoGuestRoot(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "inside.txt"), []byte("in"), 0o644)
	os.WriteFile(filepath.Join(data, "d.txt"), []byte("d"), 0o644)
	r := testrun.Run(t, fixtures.Build(t, "go/fs"), testrun.Options{
		Args: []string{"rawopen", "/inside.txt", "rawopen", "inside.txt", "rawreaddir", "/", "read", "/data/d.txt"},
		Dirs: [][2]string{{root, "/"}, {data, "/data"}},
	})
	if r.Err != nil {
		t.Fatalf("run: %v\nstderr: %s", r.Err, r.Stderr)
	}
	want := []string{"rawopen /inside.txt ERR 63 EPERM", "rawopen inside.txt OK", "rawreaddir / OK ..:dir,.:dir,inside.txt:file", `read /data/d.txt OK "d"`}
	if got := r.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
