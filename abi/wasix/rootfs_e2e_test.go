package wasix_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// rootTree makes a root mount (inside.txt, a data/ of its own with
// shadow.txt, a symlink with an absolute guest target) and a second
// directory to mount at /data (d.txt).
func rootTree(t *testing.T) (root, data string) {
	base := t.TempDir()
	root, data = filepath.Join(base, "root"), filepath.Join(base, "data")
	for _, d := range []string{root, data, filepath.Join(root, "data"), filepath.Join(root, "sub")} {
		os.Mkdir(d, 0o755)
	}
	os.WriteFile(filepath.Join(root, "inside.txt"), []byte("inside\n"), 0o644)
	os.WriteFile(filepath.Join(root, "data", "shadow.txt"), []byte("shadow\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sub", "s.txt"), []byte("s\n"), 0o644)
	os.WriteFile(filepath.Join(data, "d.txt"), []byte("d\n"), 0o644)
	os.Symlink("/data/d.txt", filepath.Join(root, "to-d"))
	os.Symlink("/sub", filepath.Join(root, "to-sub"))
	return root, data
}

// TestRootfs runs the calls a wasix-libc program makes (path_open on the
// root preopen with the leading "/" kept, chdir, /dev) against a root
// mount with /data mounted on top of a data/ of its own.
func TestRootfs(t *testing.T) {
	wasm := fixtures.Build(t, "c/wasix_rootfs")
	cases := []struct {
		name string
		args string
		want []string
	}{
		{"absolute from the root fd", "open 3 /inside.txt preopens",
			[]string{"open /inside.txt 0 data=inside", "preopen 3 /", "preopen 4 /data"}},
		{"absolute whatever the fd", "open 4 /inside.txt open 1 /inside.txt open 99 /inside.txt",
			[]string{"open /inside.txt 0 data=inside", "open /inside.txt 0 data=inside", "open /inside.txt 8 data="}},
		{"relative to the fd", "open 3 inside.txt open 4 d.txt open 4 ../inside.txt open 4 ../../../inside.txt",
			[]string{"open inside.txt 0 data=inside", "open d.txt 0 data=d", "open ../inside.txt 0 data=inside",
				"open ../../../inside.txt 0 data=inside"}},
		{"a nested mount hides what it covers", "open 3 /data/d.txt open 3 /data/shadow.txt ls 3 /data",
			[]string{"open /data/d.txt 0 data=d", "open /data/shadow.txt 44 data=", "ls /data 0 d.txt/4"}},
		{"/.. is /", "open 3 /../../inside.txt open 3 /data/../../data/d.txt",
			[]string{"open /../../inside.txt 0 data=inside", "open /data/../../data/d.txt 0 data=d"}},
		{"readdir of / lists the mounts", "ls 3 / ls 4 /",
			[]string{"ls / 0 data/3,dev/3,inside.txt/4,sub/3,to-d/7,to-sub/7"}},
		{"absolute symlinks resolve in the guest", "open 3 /to-d open 3 /to-sub/s.txt readlink 3 /to-d stat 3 /to-sub lstat 3 /to-sub",
			[]string{"open /to-d 0 data=d", "open /to-sub/s.txt 0 data=s", "readlink /to-d 0 target=/data/d.txt",
				"stat /to-sub 0 type=3", "lstat /to-sub 0 type=7"}},
		{"guest symlinks with absolute targets", "symlink /data/d.txt 3 /mine open 3 /mine symlink /inside.txt 4 rel-to-root open 4 rel-to-root",
			[]string{"symlink /data/d.txt /mine 0", "open /mine 0 data=d", "symlink /inside.txt rel-to-root 0", "open rel-to-root 0 data=inside"}},
		{"mkdir, write, rename and unlink by absolute path",
			"mkdir 3 /x write 3 /x/a.txt A rename 3 /x/a.txt 3 /x/b.txt open 3 /x/b.txt open 3 /x/a.txt unlink 3 /x/b.txt rmdir 3 /x stat 3 /x",
			[]string{"mkdir /x 0", "write /x/a.txt 0", "rename /x/a.txt /x/b.txt 0", "open /x/b.txt 0 data=A",
				"open /x/a.txt 44 data=", "unlink /x/b.txt 0", "rmdir /x 0", "stat /x 44 type=-1"}},
		// Both mounts lie on one host filesystem (the test's temporary
		// directory): the host does it, as Wasmer does between any mounts.
		{"rename and link across mounts on one host filesystem",
			"link 3 /inside.txt 4 linked linkf 3 /to-d 3 /linked rename 3 /inside.txt 3 /data/moved.txt rename 4 d.txt 3 /sub/d.txt " +
				"open 3 /data/moved.txt open 3 /sub/d.txt open 3 /data/linked open 3 /linked open 3 /inside.txt",
			[]string{"link /inside.txt linked 0", "linkf /to-d /linked 0", "rename /inside.txt /data/moved.txt 0",
				"rename d.txt /sub/d.txt 0", "open /data/moved.txt 0 data=inside", "open /sub/d.txt 0 data=d",
				"open /data/linked 0 data=inside", "open /linked 0 data=d", "open /inside.txt 44 data="}},
		{"links within a mount", "link 3 /inside.txt 3 /sub/hard linkf 3 /to-sub/s.txt 3 /s-hard open 3 /sub/hard open 3 /s-hard",
			[]string{"link /inside.txt /sub/hard 0", "linkf /to-sub/s.txt /s-hard 0", "open /sub/hard 0 data=inside", "open /s-hard 0 data=s"}},
		{"mount points stay", "rmdir 3 /data rename 3 /data 3 /elsewhere mkdir 3 /data unlink 3 /dev",
			[]string{"rmdir /data 10", "rename /data /elsewhere 10", "mkdir /data 20", "unlink /dev 31"}},
		{"chdir and getcwd", "getcwd chdir /data getcwd chdir .. getcwd chdir to-sub getcwd chdir /nope chdir /inside.txt getcwd chdir /../.. getcwd",
			[]string{"getcwd 0 /", "chdir /data 0", "getcwd 0 /data", "chdir .. 0", "chdir to-sub 0", "getcwd 0 /sub",
				"chdir /nope 44", "chdir /inside.txt 54", "chdir /../.. 0"}},
		{"/dev", "ls 3 /dev open 3 /dev/null stat 3 /dev/null stat 3 /dev/fd/1 open 3 /dev/tty open 3 /dev/nope write 3 /dev/new x open 3 /dev/zero",
			[]string{"ls /dev 0 fd/3,null/2,random/2,stderr/2,stdin/2,stdout/2,tty/2,urandom/2,zero/2",
				"open /dev/null 0 data=", "stat /dev/null 0 type=2", "stat /dev/fd/1 0 type=2", "open /dev/tty 60 data=",
				"open /dev/nope 44 data=", "write /dev/new 69", "open /dev/zero 0 data="}},
		{"/dev/fd lists open fds (its own among them)", "ls 3 /dev/fd", []string{"ls /dev/fd 0 0/2,1/2,2/2,3/2,4/2,5/2"}},
		{"cp /dev/stdin /dev/stdout", "copy 3 /dev/stdin 3 /dev/stdout copy 3 /dev/null 3 /dev/fd/1",
			[]string{"from stdin", "copy 0 bytes=11", "copy 0 bytes=0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, data := rootTree(t)
			r := testrun.Run(t, wasm, testrun.Options{Args: strings.Fields(c.args),
				Dirs: [][2]string{{root, "/"}, {data, "/data"}}, Stdin: strings.NewReader("from stdin\n")})
			if r.Err != nil || r.Code != 0 {
				t.Fatalf("code %d err %v stderr %s", r.Code, r.Err, r.Stderr)
			}
			got := r.Lines()
			for _, l := range c.want {
				if !contains(got, l) {
					t.Errorf("missing %q\ngot:\n%s", l, strings.Join(got, "\n"))
				}
			}
			if strings.Contains(r.Stdout, "preopen 5") {
				t.Errorf("a second root preopen with / mounted:\n%s", r.Stdout)
			}
		})
	}
}

// TestRootfsHostSide checks on the host what TestRootfs's guest changed.
func TestRootfsHostSide(t *testing.T) {
	root, data := rootTree(t)
	r := testrun.Run(t, fixtures.Build(t, "c/wasix_rootfs"), testrun.Options{
		Args: strings.Fields("mkdir 3 /made write 3 /made/f.txt hello write 3 /data/g.txt G symlink /data/g.txt 3 /made/l " +
			"times 3 /to-d 1000000000000000000 ltimes 4 /to-sub 1100000000000000000"),
		Dirs: [][2]string{{root, "/"}, {data, "/data"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stderr %s", r.Code, r.Err, r.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(root, "made", "f.txt")); err != nil || string(b) != "hello" {
		t.Errorf("root/made/f.txt: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "g.txt")); err != nil || string(b) != "G" {
		t.Errorf("data/g.txt: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "data", "g.txt")); err == nil {
		t.Errorf("/data/g.txt went to the root mount's own data/")
	}
	if l, err := os.Readlink(filepath.Join(root, "made", "l")); err != nil || l != "/data/g.txt" {
		t.Errorf("symlink stored as %q %v, want the guest's target", l, err)
	}
	// times through /to-d (-> /data/d.txt) set d.txt's; ltimes the link's own.
	if st, err := os.Stat(filepath.Join(data, "d.txt")); err != nil || st.ModTime().UnixNano() != 1e18 {
		t.Errorf("data/d.txt mtime %v %v, want 1e18 ns", st.ModTime().UnixNano(), err)
	}
	if st, err := os.Lstat(filepath.Join(root, "to-sub")); err != nil || st.ModTime().UnixNano() != 11e17 {
		t.Errorf("to-sub link mtime %v %v", st.ModTime().UnixNano(), err)
	}
	if st, err := os.Stat(filepath.Join(root, "sub")); err != nil || st.ModTime().UnixNano() == 11e17 {
		t.Errorf("ltimes followed the link to sub/")
	}
	if !strings.Contains(r.Stdout, "times /to-d 0\n") || !strings.Contains(r.Stdout, "ltimes /to-sub 0\n") {
		t.Errorf("times:\n%s", r.Stdout)
	}
}

// TestRootfsVirtualRoot: without a mount at "/", the root is a read-only
// directory of the mount points and dev (as --mapdir /d:HOST gives).
func TestRootfsVirtualRoot(t *testing.T) {
	_, data := rootTree(t)
	deep := t.TempDir()
	os.WriteFile(filepath.Join(deep, "b.txt"), []byte("b\n"), 0o644)
	r := testrun.Run(t, fixtures.Build(t, "c/wasix_rootfs"), testrun.Options{
		Args: strings.Fields("preopens ls 5 . open 5 dev/null ls 3 / open 3 /d/d.txt open 3 d.txt open 4 /d/d.txt ls 3 /x open 3 /x/y/b.txt open 4 ../../d/d.txt " +
			"mkdir 3 /new write 3 /new.txt x open 3 /nothing stat 3 / chdir /x getcwd rename 3 /d/d.txt 3 /x/y/d.txt"),
		Dirs: [][2]string{{data, "/d"}, {deep, "/x/y"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stderr %s", r.Code, r.Err, r.Stderr)
	}
	got := r.Lines()
	for _, l := range []string{"preopen 3 /d", "preopen 4 /x/y", "preopen 5 /", "ls . 0 d/3,dev/3,x/3", "open dev/null 0 data=",
		"ls / 0 d/3,dev/3,x/3", "open /d/d.txt 0 data=d", "open d.txt 0 data=d", "open /d/d.txt 0 data=d",
		"ls /x 0 y/3", "open /x/y/b.txt 0 data=b", "open ../../d/d.txt 0 data=d", "mkdir /new 69", "write /new.txt 69",
		"open /nothing 44 data=", "stat / 0 type=3", "chdir /x 0", "getcwd 0 /x", "rename /d/d.txt /x/y/d.txt 0"} {
		if !contains(got, l) {
			t.Errorf("missing %q\ngot:\n%s", l, strings.Join(got, "\n"))
		}
	}
}

// TestRootfsMountInsideMissingDir: a mount point below a directory the
// root mount does not have is reachable and listed.
func TestRootfsMountInsideMissingDir(t *testing.T) {
	root, data := rootTree(t)
	mydev := t.TempDir()
	os.WriteFile(filepath.Join(mydev, "mine"), []byte("mine\n"), 0o644)
	r := testrun.Run(t, fixtures.Build(t, "c/wasix_rootfs"), testrun.Options{
		Args: strings.Fields("ls 3 / ls 3 /a ls 3 /a/b open 3 /a/b/d.txt ls 3 /dev open 3 /dev/mine open 3 /dev/null"),
		Dirs: [][2]string{{root, "/"}, {data, "/a/b"}, {mydev, "/dev"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stderr %s", r.Code, r.Err, r.Stderr)
	}
	got := r.Lines()
	for _, l := range []string{"ls / 0 a/3,data/3,dev/3,inside.txt/4,sub/3,to-d/7,to-sub/7", "ls /a 0 b/3", "ls /a/b 0 d.txt/4",
		"open /a/b/d.txt 0 data=d", "ls /dev 0 mine/4", "open /dev/mine 0 data=mine", "open /dev/null 44 data="} {
		if !contains(got, l) {
			t.Errorf("missing %q\ngot:\n%s", l, strings.Join(got, "\n"))
		}
	}
}

// TestRootfsEscape runs the hostile guest: symlinks made on the host that
// point outside (absolute and relative), .. past the root, /proc, deep
// ../../.., and renames, links, mkdirs and creations through all of them.
// Nothing outside the mounts may be read or changed, while working inside
// by absolute path goes on working.
func TestRootfsEscape(t *testing.T) {
	base := t.TempDir()
	root, data, outside := filepath.Join(base, "a", "b", "root"), filepath.Join(base, "data"), filepath.Join(base, "outside")
	for _, d := range []string{root, data, outside} {
		os.MkdirAll(d, 0o755)
	}
	const secret = "s3cr3t-ea6f"
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(secret+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "inside.txt"), []byte("inside\n"), 0o644)
	os.Symlink(outside, filepath.Join(root, "abs"))
	os.Symlink("../../..", filepath.Join(root, "rel"))
	os.Symlink(filepath.Join(outside, "made.txt"), filepath.Join(root, "dang"))
	os.Symlink("../outside", filepath.Join(data, "up"))
	before := listTree(t, base, root, data)
	r := testrun.Run(t, fixtures.Build(t, "c/wasix_rootfs"), testrun.Options{
		Args: []string{"escape", secret, outside},
		Dirs: [][2]string{{root, "/"}, {data, "/data"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stderr %s\n%s", r.Code, r.Err, r.Stderr, r.Stdout)
	}
	got := r.Lines()
	for _, l := range []string{"escapes 0", "inside read 0", "inside create 44", "inside mkdir 0", "inside create 0",
		"inside rename 0", "inside reread 0 fresh", "getcwd 0 /", "chdir abs 44"} {
		if !contains(got, l) {
			t.Errorf("missing %q\ngot:\n%s", l, strings.Join(got, "\n"))
		}
	}
	if strings.Contains(r.Stdout, secret) && !strings.Contains(r.Stdout, "escape "+secret) {
		t.Errorf("the secret reached the guest:\n%s", r.Stdout)
	}
	if after := listTree(t, base, root, data); after != before {
		t.Errorf("outside the mounts changed:\nbefore %s\nafter  %s", before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret.txt")); string(b) != secret+"\n" {
		t.Errorf("secret.txt changed: %q", b)
	}
}

// listTree lists every path under base except those under the mounts.
func listTree(t *testing.T, base string, skip ...string) string {
	var out []string
	filepath.Walk(base, func(p string, info os.FileInfo, err error) error {
		for _, s := range skip {
			if p == s {
				return filepath.SkipDir
			}
		}
		out = append(out, strings.TrimPrefix(p, base))
		return nil
	})
	return strings.Join(out, " ")
}

// TestRootfsDevTty: /dev/tty opens when stdin is a terminal (a pty here),
// and is ENXIO when no stdio is one.
func TestRootfsDevTty(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skip(err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skip(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skip(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer pts.Close()
	root, _ := rootTree(t)
	wasm := fixtures.Build(t, "c/wasix_rootfs")
	r := testrun.Run(t, wasm, testrun.Options{Args: strings.Fields("copy 3 /dev/null 3 /dev/tty"),
		Dirs: [][2]string{{root, "/"}}, Stdin: pts})
	if !strings.Contains(r.Stdout, "copy 0 bytes=0\n") {
		t.Errorf("with a terminal on stdin: %q %s", r.Stdout, r.Stderr)
	}
	r = testrun.Run(t, wasm, testrun.Options{Args: strings.Fields("copy 3 /dev/null 3 /dev/tty"),
		Dirs: [][2]string{{root, "/"}}, Stdin: strings.NewReader("")})
	if !strings.Contains(r.Stdout, "copy 60 bytes=0\n") {
		t.Errorf("without a terminal: %q", r.Stdout)
	}
}
