package sys

import (
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// The guest's root filesystem, for WASIX guests (docs/filesystem.md).
//
// Preview1 resolves every path beneath the directory fd it comes with
// (path.go). WASIX programs instead see one tree: wasix-libc keeps the
// leading "/" of a path whose best preopen is the root, and Wasmer resolves
// any path that begins with "/" from the guest's root whatever directory fd
// comes with it. The tree is a mount table (one entry per preopen) over a
// virtual directory that holds the mount points and /dev.
//
// Paths are walked here one component at a time, in guest space: each step
// opens one name beneath the directory reached so far with openat2,
// RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS (O_PATH|O_NOFOLLOW, so a symlink
// is opened as itself), so the host kernel never follows a symlink or a ".."
// for us. Symlinks are read and their targets walked as guest paths
// (absolute ones from the guest's root), ".." is the parent of the guest
// path reached (never above "/"), and a guest path that is a mount point
// leads to that mount's directory. Every host fd the walk holds therefore
// lies inside a mount, and each operation acts on the fd it reached: there
// is no check-then-use on host paths.

// maxLinks is how many symlinks one resolution follows before ELOOP (Linux's
// limit).
const maxLinks = 40

// mount is one entry of the mount table.
type mount struct {
	guest string    // absolute and clean
	dir   *HostFile // the mounted host directory, on an fd of its own
}

// FS is the guest's view of the filesystem for WASIX guests: the mount table
// and the virtual directories above and between mount points (including
// /dev). It is inert for preview1 guests.
type FS struct {
	sys atomic.Pointer[System]
	// refs counts the processes that share the tree: a fork or an exec
	// shares its parent's (see Share); the last to close it closes the
	// mounts.
	refs atomic.Int32

	mu     sync.RWMutex
	mounts []*mount // later mounts at one guest path win
	root   *HostFile
}

func newFS(s *System) *FS {
	fs := &FS{}
	fs.sys.Store(s)
	fs.refs.Store(1)
	return fs
}

// Share returns fs for one more process of the tree (a fork, an exec). The
// tree's /dev/stdin, /dev/fd/N and root preopen stay those of the process
// that made it, or of the image that replaced it (Retarget).
func (fs *FS) Share() *FS {
	fs.refs.Add(1)
	return fs
}

// Retarget makes the process that replaced old in an exec the one whose
// fds /dev/fd/N names.
func (fs *FS) Retarget(old, s *System) {
	fs.sys.CompareAndSwap(old, s)
}

// system is the process whose fds /dev/fd/N names.
func (fs *FS) system() *System { return fs.sys.Load() }

// active reports whether WASIX path rules apply: the guest imports WASIX.
func (fs *FS) active() bool { return fs != nil && fs.system().WASIX }

// MountPoint returns the guest mount point of a preopen named name: "." and
// "" are the root, a relative name lies under the root.
func MountPoint(name string) string {
	if name == "." {
		return "/"
	}
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// Mount adds the preopened directory dir at guest path guest (see
// MountPoint) and ties dir to the tree, so that WASIX paths relative to it
// resolve in guest space. The mount keeps a fd of its own: closing the
// preopen does not unmount it.
func (fs *FS) Mount(guest string, dir *HostFile) error {
	fd, err := unix.FcntlInt(uintptr(dir.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	mf, err := NewHostFile(nil, fd, true)
	if err != nil {
		unix.Close(fd)
		return err
	}
	m := &mount{guest: MountPoint(guest), dir: mf}
	mf.fs, mf.guest, mf.mnt = fs, m.guest, m
	dir.fs, dir.guest, dir.mnt = fs, m.guest, m
	fs.mu.Lock()
	fs.mounts = append(fs.mounts, m)
	fs.root = nil
	fs.mu.Unlock()
	return nil
}

// HasMount reports whether a directory is mounted at guest (a clean
// absolute path).
func (fs *FS) HasMount(guest string) bool { return fs.mountAt(guest) != nil }

// Close closes the mounts' fds, when the last process sharing fs does.
func (fs *FS) Close() {
	if fs.refs.Add(-1) > 0 {
		return
	}
	fs.mu.Lock()
	ms := fs.mounts
	fs.mounts = nil
	fs.mu.Unlock()
	for _, m := range ms {
		m.dir.Close()
	}
}

// mountAt returns the mount at guest path p, or nil.
func (fs *FS) mountAt(p string) *mount {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	for i := len(fs.mounts) - 1; i >= 0; i-- {
		if fs.mounts[i].guest == p {
			return fs.mounts[i]
		}
	}
	return nil
}

// childMounts returns the names of the entries of guest directory p that
// mount points create: the first component of every mount point below p.
func (fs *FS) childMounts(p string) []string {
	prefix := p + "/"
	if p == "/" {
		prefix = "/"
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	var names []string
	seen := map[string]bool{}
	for _, m := range fs.mounts {
		if m.guest == p || !strings.HasPrefix(m.guest, prefix) {
			continue
		}
		name, _, _ := strings.Cut(m.guest[len(prefix):], "/")
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// devActive reports whether /dev is ours: no mount at /dev replaces it.
func (fs *FS) devActive() bool { return fs.mountAt("/dev") == nil }

// Root returns the guest's "/" as a directory: the root mount, or the
// virtual root when nothing is mounted there.
func (fs *FS) Root() *HostFile {
	if m := fs.mountAt("/"); m != nil {
		return m.dir
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.root == nil {
		fs.root = fs.virtualFile(node{kind: nodeVirtual, path: "/"})
	}
	return fs.root
}

// PreopenRoot gives a WASIX guest that has no mount at "/" the virtual
// root as a preopen named "/", as Wasmer always does: wasix-libc finds the
// preopen of an absolute path by prefix, and without one for "/" it could
// not reach /dev or list "/". It takes the first free fd, after the user's
// preopens and listeners, whose numbers stay what preview1 gives them
// (Wasmer puts its root at fd 3).
func (fs *FS) PreopenRoot() Errno {
	if fs.mountAt("/") != nil {
		return ESUCCESS
	}
	_, e := fs.system().Table.Insert(&Entry{
		File:             fs.Root(),
		RightsBase:       RightsDirectory | RightFdFilestatGet,
		RightsInheriting: RightsDirectoryInheriting,
		Preopen:          "/",
	}, 3)
	return e
}

// nodeKind is what a position of a walk is.
type nodeKind uint8

const (
	nodeHost    nodeKind = iota // a host file or directory (fd)
	nodeVirtual                 // a virtual directory holding mount points
	nodeDev                     // /dev
	nodeDevFd                   // /dev/fd
	nodeDevice                  // a device under /dev; path names it
)

// node is a position in the guest tree.
type node struct {
	kind  nodeKind
	fd    int  // nodeHost: an O_PATH fd (or a mount's fd)
	owned bool // fd is the walk's to close
	mnt   *mount
	path  string // the real guest path (symlinks resolved)
	mode  uint32 // nodeHost: st_mode
	link  string // a symlink's target
}

func (n *node) isDir() bool {
	if n.kind == nodeHost {
		return n.mode&unix.S_IFMT == unix.S_IFDIR
	}
	return n.kind != nodeDevice
}

func (n *node) isLink() bool { return n.kind == nodeHost && n.mode&unix.S_IFMT == unix.S_IFLNK }

func (n *node) close() {
	if n.owned {
		unix.Close(n.fd)
		n.owned = false
	}
}

// walker is one resolution: the directories from where it started (or the
// root) to where it is, each holding a fd.
type walker struct {
	fs    *FS
	stack []node
	leaf  *node // a final non-directory (or an unfollowed symlink)
	links int
}

func (w *walker) close() {
	for i := range w.stack {
		w.stack[i].close()
	}
	w.stack = nil
	if w.leaf != nil {
		w.leaf.close()
		w.leaf = nil
	}
}

func (w *walker) top() *node { return &w.stack[len(w.stack)-1] }

// toRoot puts the walk at the guest's root.
func (w *walker) toRoot() {
	for i := range w.stack {
		w.stack[i].close()
	}
	root := node{kind: nodeVirtual, path: "/"}
	if m := w.fs.mountAt("/"); m != nil {
		root = node{kind: nodeHost, fd: m.dir.fd, mnt: m, path: "/", mode: unix.S_IFDIR}
	}
	w.stack = append(w.stack[:0], root)
}

// startAt begins a walk of p: from the root when p is absolute, else from
// the directory dir. A directory that is not part of the tree (none is,
// for a WASIX guest, whose directories all come from it) resolves nothing
// relative.
func (fs *FS) startAt(dir *HostFile, p string) (*walker, Errno) {
	w := &walker{fs: fs}
	if strings.HasPrefix(p, "/") {
		w.toRoot()
		return w, ESUCCESS
	}
	if dir == nil || dir.guest == "" {
		return nil, ENOTCAPABLE
	}
	n := node{kind: dir.virt, path: dir.guest}
	if dir.virt == nodeHost {
		n.fd, n.mnt, n.mode = dir.fd, dir.mnt, unix.S_IFDIR
	}
	w.stack = []node{n}
	return w, ESUCCESS
}

// components splits a path; empty components (from "//" or a trailing
// slash) are kept, as "." would be: a trailing one makes the component
// before it a non-final one, which must then be a directory.
func components(p string) []string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func joinGuest(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// walk resolves the components in work from the current position. Every
// component but the last must be (or lead through symlinks to) a directory;
// the last one is followed when it is a symlink only with follow. At the
// end the result is w.leaf, or the top of the stack when it is a directory.
func (w *walker) walk(work []string, follow bool) Errno {
	if w.fast(work, follow) {
		return ESUCCESS
	}
	for len(work) > 0 {
		c := work[0]
		work = work[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(w.stack) > 1 {
				w.top().close()
				w.stack = w.stack[:len(w.stack)-1]
				continue
			}
			p := w.top().path
			if p == "/" {
				continue // "/.." is "/"
			}
			// Above where the walk started: go on from the root along
			// the parent's guest path.
			w.toRoot()
			work = append(components(path.Dir(p)), work...)
			continue
		}
		n, e := w.child(c)
		if e != ESUCCESS {
			return e
		}
		if n.isLink() && (len(work) > 0 || follow) {
			n.close()
			w.links++
			if w.links > maxLinks {
				return ELOOP
			}
			if n.link == "" {
				return ENOENT
			}
			if n.link[0] == '/' {
				w.toRoot()
			}
			work = append(components(n.link), work...)
			continue
		}
		if n.isDir() {
			w.stack = append(w.stack, n)
			continue
		}
		if len(work) > 0 {
			n.close()
			return ENOTDIR
		}
		w.leaf = &n
	}
	return ESUCCESS
}

// fast resolves work with one openat2 when that cannot differ from the
// walk: a path without "..", from a host directory, that meets no mount
// point (or virtual directory on the way to one) and not /dev. The kernel
// then refuses any symlink and anything outside the directory
// (RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH); on any failure the walk runs
// step by step instead, so errors and symlinks are the walk's.
func (w *walker) fast(work []string, follow bool) bool {
	cur := w.top()
	if cur.kind != nodeHost || noFastPath {
		return false
	}
	rel := make([]string, 0, len(work))
	for _, c := range work {
		switch c {
		case "..":
			return false
		case "", ".":
			continue
		}
		rel = append(rel, c)
	}
	if len(rel) == 0 {
		return false
	}
	target := joinGuest(cur.path, strings.Join(rel, "/"))
	if cur.path == "/" && rel[0] == "dev" && w.fs.devActive() || w.fs.crossesMount(cur.path, target) {
		return false
	}
	flags := unix.O_PATH | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	if work[len(work)-1] == "" {
		how.Flags |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat2(cur.fd, strings.Join(rel, "/"), &how)
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return false
	}
	n := node{kind: nodeHost, fd: fd, owned: true, mnt: cur.mnt, path: target, mode: st.Mode}
	if n.isLink() {
		// An unfollowed final symlink: the walk reads its target.
		unix.Close(fd)
		return false
	}
	if n.isDir() {
		w.stack = append(w.stack, n)
	} else {
		w.leaf = &n
	}
	return true
}

// noFastPath turns fast off (tests compare the two).
var noFastPath bool

// crossesMount reports whether guest path target, below directory dir,
// is or passes through a mount point below dir, or lies on the way to one.
func (fs *FS) crossesMount(dir, target string) bool {
	below := dir + "/"
	if dir == "/" {
		below = "/"
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	for _, m := range fs.mounts {
		if m.guest == dir || !strings.HasPrefix(m.guest, below) {
			continue
		}
		if m.guest == target || strings.HasPrefix(target, m.guest+"/") || strings.HasPrefix(m.guest, target+"/") {
			return true
		}
	}
	return false
}

// devNames are the entries of /dev.
var devNames = []string{"null", "zero", "random", "urandom", "stdin", "stdout", "stderr", "tty", "fd"}

// child opens name in the current directory.
func (w *walker) child(name string) (node, Errno) {
	if len(name) > 255 {
		return node{}, ENAMETOOLONG
	}
	cur := w.top()
	p := joinGuest(cur.path, name)
	if m := w.fs.mountAt(p); m != nil {
		return node{kind: nodeHost, fd: m.dir.fd, mnt: m, path: p, mode: unix.S_IFDIR}, ESUCCESS
	}
	switch cur.kind {
	case nodeDev:
		for _, d := range devNames {
			if d == name {
				if d == "fd" {
					return node{kind: nodeDevFd, path: p}, ESUCCESS
				}
				return node{kind: nodeDevice, path: p}, ESUCCESS
			}
		}
		return node{}, ENOENT
	case nodeDevFd:
		if n, ok := parseFd(name); ok {
			if _, e := w.fs.system().Table.Get(n); e == ESUCCESS {
				return node{kind: nodeDevice, path: p}, ESUCCESS
			}
		}
		return node{}, ENOENT
	}
	if p == "/dev" && w.fs.devActive() {
		return node{kind: nodeDev, path: p}, ESUCCESS
	}
	if cur.kind == nodeVirtual {
		if len(w.fs.childMounts(p)) > 0 {
			return node{kind: nodeVirtual, path: p}, ESUCCESS
		}
		return node{}, ENOENT
	}
	fd, e := openStep(cur.fd, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if e != ESUCCESS {
		if e == ENOENT && len(w.fs.childMounts(p)) > 0 {
			// A mount point below a directory the host does not have.
			return node{kind: nodeVirtual, path: p}, ESUCCESS
		}
		return node{}, e
	}
	n := node{kind: nodeHost, fd: fd, owned: true, mnt: cur.mnt, path: p}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return node{}, ErrnoOf(err)
	}
	n.mode = st.Mode
	if n.isLink() {
		target, e := readlinkFd(fd, "")
		if e != ESUCCESS {
			unix.Close(fd)
			return node{}, e
		}
		n.link = target
	}
	return n, ESUCCESS
}

// openStep opens one name beneath dir, following no symlink and no "..".
func openStep(dir int, name string, flags int, mode uint32) (int, Errno) {
	return openBeneath(dir, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS, name, flags, mode, true)
}

// readlinkFd reads the symlink name in dir ("" for dir itself, an O_PATH
// fd of a symlink).
func readlinkFd(dir int, name string) (string, Errno) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", ErrnoOf(err)
		}
		if n < size {
			return string(buf[:n]), ESUCCESS
		}
		if size > 1<<16 {
			return "", ENAMETOOLONG
		}
	}
}

func parseFd(s string) (uint32, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return uint32(n), n < 1<<31
}

func checkPath(p string) Errno {
	if p == "" {
		return ENOENT
	}
	if strings.IndexByte(p, 0) >= 0 {
		return EINVAL
	}
	return ESUCCESS
}

// resolve walks the whole of p from dir (or the root). The result is
// w.leaf, or the top of w.stack for a directory. Close w when done.
func (fs *FS) resolve(dir *HostFile, p string, follow bool) (*walker, *node, Errno) {
	if e := checkPath(p); e != ESUCCESS {
		return nil, nil, e
	}
	w, e := fs.startAt(dir, p)
	if e != ESUCCESS {
		return nil, nil, e
	}
	if e := w.walk(components(p), follow); e != ESUCCESS {
		w.close()
		return nil, nil, e
	}
	if w.leaf != nil {
		return w, w.leaf, ESUCCESS
	}
	return w, w.top(), ESUCCESS
}

// parent walks all of p but its last component, which it returns without
// trailing slashes; slash tells whether there were any (the name must then
// be a directory). The directory is the top of w.stack. "." and ".." as
// the last component are walked too, and the name is then ".".
func (fs *FS) parent(dir *HostFile, p string) (w *walker, name string, slash bool, e Errno) {
	if e := checkPath(p); e != ESUCCESS {
		return nil, "", false, e
	}
	trimmed := strings.TrimRight(p, "/")
	slash = len(trimmed) < len(p)
	dirPart, last := "", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dirPart, last = trimmed[:i], trimmed[i+1:]
	}
	if trimmed == "" {
		last = "." // "/" itself
	}
	if w, e = fs.startAt(dir, p); e != ESUCCESS {
		return nil, "", false, e
	}
	work := components(dirPart)
	if last == "." || last == ".." {
		work = append(work, last)
		last = "."
	}
	if e := w.walk(work, true); e != ESUCCESS {
		w.close()
		return nil, "", false, e
	}
	if w.leaf != nil {
		w.close()
		return nil, "", false, ENOTDIR
	}
	if len(last) > 255 {
		w.close()
		return nil, "", false, ENAMETOOLONG
	}
	return w, last, slash, ESUCCESS
}

// special reports whether name in directory d is not the host's: a mount
// point, /dev, an entry of a virtual directory, or a virtual directory
// itself. exists says whether it is there.
func (fs *FS) special(d *node, name string) (special, exists bool) {
	if d.kind != nodeHost {
		if name == "." {
			return true, true
		}
		w := &walker{fs: fs, stack: []node{*d}}
		w.stack[0].owned = false
		n, e := w.child(name)
		n.close()
		return true, e == ESUCCESS
	}
	if name == "." {
		return false, false
	}
	p := joinGuest(d.path, name)
	if fs.mountAt(p) != nil || p == "/dev" && fs.devActive() {
		return true, true
	}
	if len(fs.childMounts(p)) > 0 {
		// On the way to a mount point: the host's directory if it has
		// one, else a virtual one.
		if _, exists := isDirAt(d.fd, name); !exists {
			return true, true
		}
	}
	return false, false
}

// virtualFile returns a directory fd for a virtual node (no host fd).
func (fs *FS) virtualFile(n node) *HostFile {
	return &HostFile{fd: -1, typ: FiletypeDirectory, rec: polling.AlwaysReady(), fs: fs, guest: n.path, virt: n.kind}
}

// virtualEntries lists a virtual directory.
func (fs *FS) virtualEntries(f *HostFile) []Dirent {
	ents := []Dirent{{Ino: virtualIno(f.guest), Type: FiletypeDirectory, Name: "."},
		{Ino: virtualIno(path.Dir(f.guest)), Type: FiletypeDirectory, Name: ".."}}
	switch f.virt {
	case nodeDev:
		for _, d := range devNames {
			t := FiletypeCharacterDevice
			if d == "fd" {
				t = FiletypeDirectory
			}
			ents = append(ents, Dirent{Ino: virtualIno("/dev/" + d), Type: t, Name: d})
		}
		return ents
	case nodeDevFd:
		for fd := 0; fd < fs.system().Table.Len(); fd++ {
			if _, e := fs.system().Table.Get(uint32(fd)); e == ESUCCESS {
				n := itoa(fd)
				ents = append(ents, Dirent{Ino: virtualIno("/dev/fd/" + n), Type: FiletypeCharacterDevice, Name: n})
			}
		}
		return ents
	}
	return fs.mergeMounts(f.guest, ents)
}

// mergeMounts adds to the listing of guest directory p the mount points it
// holds (and dev at the root), replacing what they hide.
func (fs *FS) mergeMounts(p string, ents []Dirent) []Dirent {
	names := fs.childMounts(p)
	if p == "/" && fs.devActive() {
		names = append(names, "dev")
	}
	for _, name := range names {
		d := Dirent{Ino: virtualIno(joinGuest(p, name)), Type: FiletypeDirectory, Name: name}
		if m := fs.mountAt(joinGuest(p, name)); m != nil {
			var st unix.Stat_t
			if unix.Fstat(m.dir.fd, &st) == nil {
				d.Ino = st.Ino
			}
		}
		found := false
		for i := range ents {
			if ents[i].Name == name {
				ents[i], found = d, true
			}
		}
		if !found {
			ents = append(ents, d)
		}
	}
	return ents
}

// virtualIno is a stable inode number for a virtual path (FNV-1a, high bit
// set so as not to look like a small host inode).
func virtualIno(p string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(p); i++ {
		h ^= uint64(p[i])
		h *= 1099511628211
	}
	return h | 1<<63
}

// statNode returns the filestat of a node.
func (fs *FS) statNode(n *node) (Filestat, Errno) {
	switch n.kind {
	case nodeHost:
		var st unix.Stat_t
		if err := unix.Fstat(n.fd, &st); err != nil {
			return Filestat{}, ErrnoOf(err)
		}
		return filestatOf(&st, -1), ESUCCESS
	case nodeDevice:
		return Filestat{Filetype: FiletypeCharacterDevice, Ino: virtualIno(n.path), Nlink: 1}, ESUCCESS
	}
	return Filestat{Filetype: FiletypeDirectory, Ino: virtualIno(n.path), Nlink: 1}, ESUCCESS
}
