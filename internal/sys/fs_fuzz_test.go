package sys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fuzzTree is a guest tree for FuzzResolve: base/root mounted at "/",
// base/m at "/m" (over root's own m/), and base/outside, which no mount
// holds. Symlinks whose targets the fuzzer chooses sit in root, root/a and
// m.
type fuzzTree struct {
	s                   *System
	base, root, m, outs string
	before              string
}

func newFuzzTree(t *testing.T, link1, link2 string) *fuzzTree {
	base := t.TempDir()
	ft := &fuzzTree{base: base, root: filepath.Join(base, "root"), m: filepath.Join(base, "m"), outs: filepath.Join(base, "outside")}
	for _, d := range []string{ft.root, ft.m, ft.outs, filepath.Join(ft.root, "a", "b"), filepath.Join(ft.root, "m")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(ft.outs, "secret"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(ft.root, "f"), []byte("f"), 0o644)
	os.Symlink(link1, filepath.Join(ft.root, "l1"))
	os.Symlink(link2, filepath.Join(ft.root, "a", "l2"))
	os.Symlink(link1, filepath.Join(ft.m, "l3"))
	os.Symlink(ft.outs, filepath.Join(ft.root, "out"))
	s, err := NewSystem(0)
	if err != nil {
		t.Fatal(err)
	}
	s.WASIX = true
	t.Cleanup(s.Close)
	for _, mnt := range [][2]string{{ft.root, "/"}, {ft.m, "/m"}} {
		d, err := OpenDir(mnt[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FS.Mount(mnt[1], d); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
	}
	ft.s = s
	ft.before = ft.outside(t)
	return ft
}

// outside lists what lies outside the mounts.
func (ft *fuzzTree) outside(t *testing.T) string {
	var out []string
	filepath.Walk(ft.base, func(p string, info os.FileInfo, err error) error {
		if p == ft.root || p == ft.m {
			return filepath.SkipDir
		}
		out = append(out, p)
		return nil
	})
	return strings.Join(out, "\n")
}

// inside checks that host fd lies inside a mount.
func (ft *fuzzTree) inside(t *testing.T, what string, fd int) {
	t.Helper()
	p, err := os.Readlink(procPath(fd))
	if err != nil {
		t.Fatalf("%s: readlink fd: %v", what, err)
	}
	for _, m := range []string{ft.root, ft.m} {
		if p == m || strings.HasPrefix(p, m+"/") {
			return
		}
	}
	t.Fatalf("%s reached %s, outside the mounts", what, p)
}

// FuzzResolve: whatever the path, the symlinks' targets and where the walk
// starts, every host fd a resolution holds lies inside a mount, and
// creating, making directories, renaming and linking change nothing
// outside them.
func FuzzResolve(f *testing.F) {
	for _, s := range [][3]string{
		{"/l1/secret", "../outside", "/"},
		{"/a/l2/../../secret", "/", "../../../outside"},
		{"/../../../outside/secret", "x", "y"},
		{"/m/l3/secret", "../../outside", "/m/.."},
		{"l1/l1/l1", "l1", "/l1"},
		{"/a/b/../../m/../out/secret", "/out", "/../.."},
		{"/proc/self/root/etc", "/proc/self/cwd", "/proc/1/root"},
		{"/a/l2/", "/m", "../m/l3"},
		{"/dev/fd/3/../../..", "/dev/fd/0", "/dev"},
	} {
		f.Add(s[0], s[1], s[2], true, uint8(0))
		f.Add(s[0], s[1], s[2], false, uint8(1))
	}
	f.Fuzz(func(t *testing.T, p, link1, link2 string, follow bool, op uint8) {
		if len(p) > 400 || len(link1) > 200 || len(link2) > 200 || link1 == "" || link2 == "" ||
			strings.IndexByte(link1, 0) >= 0 || strings.IndexByte(link2, 0) >= 0 {
			return
		}
		ft := newFuzzTree(t, link1, link2)
		fs := ft.s.FS
		start := fs.Root()
		if op&4 != 0 {
			start = fs.mountAt("/m").dir
		}
		// The one-openat2 fast path must agree with the step-by-step walk.
		noFastPath = true
		sw, sn, se := fs.resolve(start, p, follow)
		noFastPath = false
		w, n, e := fs.resolve(start, p, follow)
		if e != se || e == ESUCCESS && (n.path != sn.path || n.kind != sn.kind || n.mode != sn.mode) {
			t.Fatalf("fast path: %v %+v, walk: %v %+v", e, n, se, sn)
		}
		if sw != nil {
			sw.close()
		}
		if e == ESUCCESS {
			for i := range w.stack {
				if w.stack[i].kind == nodeHost {
					ft.inside(t, "resolve stack", w.stack[i].fd)
				}
			}
			if n.kind == nodeHost {
				ft.inside(t, "resolve", n.fd)
			}
			w.close()
		}
		switch op & 3 {
		case 0:
			if f, dup, e := fs.open(start, p, unix.O_CREAT|unix.O_RDWR|unix.O_NONBLOCK, follow); e == ESUCCESS && dup < 0 {
				if f.virt == nodeHost && !strings.HasPrefix(f.guest, "/dev/") {
					ft.inside(t, "open", f.fd)
				}
				f.Close()
			}
		case 1:
			fs.mkdir(start, p)
		case 2:
			fs.rename(start, p, nil, "/moved")
			fs.rename(nil, "/f", start, p)
		case 3:
			fs.link(nil, "/f", follow, start, p)
			fs.symlink("/f", start, p)
		}
		if after := ft.outside(t); after != ft.before {
			t.Fatalf("outside the mounts changed:\n%s\n---\n%s", ft.before, after)
		}
	})
}

// TestResolveRace: while the host swaps a directory of the tree for a
// symlink that points outside (and back), resolutions and creations
// through it hold no fd outside the mounts and create nothing outside.
func TestResolveRace(t *testing.T) {
	ft := newFuzzTree(t, "a", "b")
	a, moved := filepath.Join(ft.root, "a"), filepath.Join(ft.root, "a.moved")
	os.Mkdir(filepath.Join(ft.outs, "b"), 0o755) // so that an escaping mkdir would succeed
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Rename(a, moved)
			os.Symlink(ft.outs, a)
			os.Remove(a)
			os.Rename(moved, a)
		}
	}()
	fs := ft.s.FS
	for i := 0; i < 3000; i++ {
		for _, p := range []string{"/a/b", "/a/b/../../a/b", "/a/secret"} {
			if w, n, e := fs.resolve(nil, p, true); e == ESUCCESS {
				for j := range w.stack {
					if w.stack[j].kind == nodeHost {
						ft.inside(t, p, w.stack[j].fd)
					}
				}
				if n.kind == nodeHost {
					ft.inside(t, p, n.fd)
				}
				w.close()
			}
		}
		if f, _, e := fs.open(nil, "/a/made", unix.O_CREAT|unix.O_WRONLY|unix.O_NONBLOCK, true); e == ESUCCESS {
			ft.inside(t, "create", f.fd)
			f.Close()
		}
		fs.mkdir(nil, "/a/b/dir")
	}
	close(stop)
	<-done
	if _, err := os.Stat(filepath.Join(ft.outs, "made")); err == nil {
		t.Fatal("created outside")
	}
	if _, err := os.Stat(filepath.Join(ft.outs, "b", "dir")); err == nil {
		t.Fatal("mkdir outside")
	}
}
