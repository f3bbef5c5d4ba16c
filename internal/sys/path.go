package sys

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Paths given by the guest are resolved by the host kernel with openat2(2)
// and RESOLVE_BENEATH relative to a directory fd: absolute paths, ".." past
// the directory and symlinks that lead out of it fail inside the kernel, so
// no check-then-use race can let a path escape. Operations on the last
// component (mkdir, unlink, rename, ...) act on a parent directory opened
// that way, with the last component passed to the *at(2) call unresolved.
//
// These are preview1's rules. For a WASIX guest the methods below hand the
// path to the guest tree instead (fs.go, fsops.go).

// ErrnoEscape is what a path that leaves its preopened directory gets: the
// WASI filesystem spec's not-permitted, which is what wasmtime returns.
const ErrnoEscape = EPERM

// Resolution modes. A preopen of the host's root directory resolves like the
// host itself (absolute symlinks, ".." at the root staying at the root), which
// RESOLVE_IN_ROOT gives without any way out; every other directory fails
// paths that would leave it.
const (
	resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS
	resolveInRoot  = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
)

func (f *HostFile) resolveFlags() uint64 {
	if f.hostRoot {
		return resolveInRoot
	}
	return resolveBeneath
}

// openBeneath opens path relative to dir f without leaving it.
func (f *HostFile) openBeneath(path string, flags int, mode uint32, follow bool) (int, Errno) {
	return openBeneath(f.fd, f.resolveFlags(), path, flags, mode, follow)
}

// openBeneath opens path relative to dir without leaving it.
func openBeneath(dir int, resolve uint64, path string, flags int, mode uint32, follow bool) (int, Errno) {
	if path == "" {
		return -1, ENOENT
	}
	if strings.IndexByte(path, 0) >= 0 {
		return -1, EINVAL
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	if flags&unix.O_CREAT != 0 {
		// openat2 rejects a mode without O_CREAT.
		how.Mode = uint64(mode)
	}
	if !follow {
		how.Flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Openat2(dir, path, &how)
		switch err {
		case nil:
			return fd, ESUCCESS
		case unix.EINTR, unix.EAGAIN:
			// EAGAIN: a concurrent rename raced the lookup; retry as the man page says.
			continue
		case unix.EXDEV:
			return -1, ErrnoEscape
		}
		return -1, ErrnoOf(err)
	}
}

// parent opens the directory that holds the last component of path and
// returns it with that component (trailing slashes kept, so that the host
// gives the POSIX errors for "file/").
func (f *HostFile) parent(path string) (pfd int, name string, e Errno) {
	if f.typ != FiletypeDirectory {
		return -1, "", ENOTDIR
	}
	if path == "" {
		return -1, "", ENOENT
	}
	if strings.IndexByte(path, 0) >= 0 {
		return -1, "", EINVAL
	}
	if path[0] == '/' && !f.hostRoot {
		return -1, "", ErrnoEscape
	}
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" {
		if f.hostRoot {
			trimmed = "."
		} else {
			return -1, "", ErrnoEscape
		}
	}
	dir, last := ".", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dir, last = trimmed[:i], trimmed[i+1:]
		if dir == "" {
			dir = "/"
		}
	}
	if last == ".." || last == "." {
		// "a/.." names a directory that must itself stay inside.
		fd, e := f.openBeneath(path, unix.O_PATH|unix.O_DIRECTORY, 0, true)
		if e != ESUCCESS {
			return -1, "", e
		}
		unix.Close(fd)
	}
	pfd, e = f.openBeneath(dir, unix.O_PATH|unix.O_DIRECTORY, 0, true)
	if e != ESUCCESS {
		return -1, "", e
	}
	name = last + path[len(trimmed):]
	if name != last {
		// "link/" would make the host follow a symlink in the last component;
		// a symlink there is not a directory as far as we are concerned.
		var st unix.Stat_t
		if unix.Fstatat(pfd, last, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(pfd)
			return -1, "", ENOTDIR
		}
	}
	return pfd, name, ESUCCESS
}

// OpenOptions are the decoded arguments of path_open.
type OpenOptions struct {
	Oflags        Oflags
	Fdflags       Fdflags
	Follow        bool
	Read, Write   bool
	DirectoryOnly bool
}

// OpenAt opens path relative to the directory f.
func (f *HostFile) OpenAt(path string, o OpenOptions) (*HostFile, Errno) {
	nf, dup, e := f.OpenAtFd(path, o)
	if e == ESUCCESS && dup >= 0 {
		return nil, ENXIO
	}
	return nf, e
}

// OpenAtFd opens path relative to the directory f. For a WASIX guest's
// /dev/stdin, /dev/fd/N and the like it opens nothing and returns the guest
// fd to duplicate instead (dup >= 0); dup is -1 otherwise.
func (f *HostFile) OpenAtFd(path string, o OpenOptions) (nf *HostFile, dup int, e Errno) {
	if f.typ != FiletypeDirectory {
		return nil, -1, ENOTDIR
	}
	flags := unix.O_RDONLY
	switch {
	case o.Read && o.Write:
		flags = unix.O_RDWR
	case o.Write:
		flags = unix.O_WRONLY
	}
	if o.Oflags&OflagCreat != 0 {
		flags |= unix.O_CREAT
	}
	if o.Oflags&OflagExcl != 0 {
		flags |= unix.O_EXCL
	}
	if o.Oflags&OflagTrunc != 0 {
		flags |= unix.O_TRUNC
	}
	if o.Oflags&OflagDirectory != 0 {
		flags |= unix.O_DIRECTORY
	}
	if o.Fdflags&FdflagAppend != 0 {
		flags |= unix.O_APPEND
	}
	if o.Fdflags&FdflagDsync != 0 {
		flags |= unix.O_DSYNC
	}
	if o.Fdflags&(FdflagSync|FdflagRsync) != 0 {
		flags |= unix.O_SYNC
	}
	// Never block in open(2) on a FIFO without a writer.
	flags |= unix.O_NONBLOCK | unix.O_NOCTTY
	if f.fs.active() {
		nf, dup, e = f.fs.open(f, path, flags, o.Follow)
	} else {
		nf, dup, e = f.openHost(path, flags, o.Follow)
	}
	if e == ELOOP && !o.Follow && o.Oflags&OflagDirectory != 0 {
		// O_NOFOLLOW|O_DIRECTORY on a symlink: the guest asked for a directory.
		e = ENOTDIR
	}
	return nf, dup, e
}

// openHost opens path beneath f (preview1 rules).
func (f *HostFile) openHost(path string, flags int, follow bool) (*HostFile, int, Errno) {
	fd, e := f.openBeneath(path, flags, 0o666, follow)
	if e != ESUCCESS {
		return nil, -1, e
	}
	nf, err := NewHostFile(f.reg, fd, true)
	if err != nil {
		unix.Close(fd)
		return nil, -1, ErrnoOf(err)
	}
	nf.hostRoot = f.hostRoot
	if nf.typ == FiletypeRegularFile || nf.typ == FiletypeDirectory {
		// Regular files never block; drop the O_NONBLOCK used for open.
		unix.SetNonblock(fd, false)
	}
	return nf, -1, ESUCCESS
}

// OpenDir opens a host directory as a preopen.
func OpenDir(hostPath string) (*HostFile, error) {
	fd, err := unix.Open(hostPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f, err := NewHostFile(nil, fd, true)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if abs, err := filepath.Abs(hostPath); err == nil && filepath.Clean(abs) == "/" {
		f.hostRoot = true
	}
	return f, nil
}

// Mkdir creates a directory.
func (f *HostFile) Mkdir(path string) Errno {
	if f.fs.active() {
		return f.fs.mkdir(f, path)
	}
	pfd, name, e := f.parent(path)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(pfd)
	return ErrnoOf(unix.Mkdirat(pfd, name, 0o777))
}

// Rmdir removes an empty directory.
func (f *HostFile) Rmdir(path string) Errno {
	if f.fs.active() {
		return f.fs.rmdir(f, path)
	}
	pfd, name, e := f.parent(path)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(pfd)
	err := unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
	if err == unix.EEXIST {
		err = unix.ENOTEMPTY
	}
	return ErrnoOf(err)
}

// Unlink removes a non-directory.
func (f *HostFile) Unlink(path string) Errno {
	if f.fs.active() {
		return f.fs.unlink(f, path)
	}
	pfd, name, e := f.parent(path)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(pfd)
	err := unix.Unlinkat(pfd, name, 0)
	if err == unix.EISDIR || err == unix.EPERM {
		// Linux reports EISDIR; POSIX allows EPERM. Report EISDIR when it is one.
		var st unix.Stat_t
		if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return EISDIR
		}
	}
	return ErrnoOf(err)
}

// Rename moves oldPath in f to newPath in dst.
func (f *HostFile) Rename(oldPath string, dst *HostFile, newPath string) Errno {
	if f.fs.active() {
		return f.fs.rename(f, oldPath, dst, newPath)
	}
	opfd, oname, e := f.parent(oldPath)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(opfd)
	npfd, nname, e := dst.parent(newPath)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(npfd)
	err := unix.Renameat(opfd, oname, npfd, nname)
	if err == unix.EEXIST {
		// rename(2) may say EEXIST or ENOTEMPTY for a non-empty target
		// directory; report one (the suites expect ENOTEMPTY).
		err = unix.ENOTEMPTY
	}
	return ErrnoOf(err)
}

// Symlink creates newPath pointing at target. A relative target is stored
// as given; resolving it later is confined like any other path. An absolute
// target could never resolve inside the directory, so it is refused, as
// wasmtime does (wasi-testsuite's symlink_create expects an error), except
// under a preopen of the host's root, where absolute paths resolve.
func (f *HostFile) Symlink(target, newPath string) Errno {
	if f.fs.active() {
		return f.fs.symlink(target, f, newPath)
	}
	if strings.IndexByte(target, 0) >= 0 {
		return EINVAL
	}
	if strings.HasPrefix(target, "/") && !f.hostRoot {
		return ErrnoEscape
	}
	pfd, name, e := f.parent(newPath)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(pfd)
	if strings.HasSuffix(name, "/") {
		// symlinkat cannot create "name/": ENOENT when nothing is there,
		// EEXIST for a directory, ENOTDIR for anything else, as Linux says
		// (wasmtime's preview1_path_symlink_trailing_slashes accepts only
		// ENOTDIR or ENOENT for a file; wasi-testsuite also EEXIST).
		var st unix.Stat_t
		if unix.Fstatat(pfd, strings.TrimRight(name, "/"), &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return ENOENT
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return EEXIST
		}
		return ENOTDIR
	}
	return ErrnoOf(unix.Symlinkat(target, pfd, name))
}

// Link makes newPath in dst a hard link to oldPath in f. With follow, a
// symlink at oldPath is resolved (inside f) and its target linked.
func (f *HostFile) Link(oldPath string, follow bool, dst *HostFile, newPath string) Errno {
	if f.fs.active() {
		return f.fs.link(f, oldPath, follow, dst, newPath)
	}
	npfd, nname, e := dst.parent(newPath)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(npfd)
	if follow {
		fd, e := f.openBeneath(oldPath, unix.O_PATH, 0, true)
		if e != ESUCCESS {
			return e
		}
		defer unix.Close(fd)
		return ErrnoOf(unix.Linkat(unix.AT_FDCWD, procPath(fd), npfd, nname, unix.AT_SYMLINK_FOLLOW))
	}
	opfd, oname, e := f.parent(oldPath)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(opfd)
	return ErrnoOf(unix.Linkat(opfd, oname, npfd, nname, 0))
}

// Readlink returns the target of the symlink at path.
func (f *HostFile) Readlink(path string) (string, Errno) {
	if f.fs.active() {
		return f.fs.readlink(f, path)
	}
	pfd, name, e := f.parent(path)
	if e != ESUCCESS {
		return "", e
	}
	defer unix.Close(pfd)
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(pfd, name, buf)
		if err != nil {
			return "", ErrnoOf(err)
		}
		if n < size {
			return string(buf[:n]), ESUCCESS
		}
		if size > 1<<20 {
			return "", ENAMETOOLONG
		}
	}
}

// StatAt returns the filestat of path; follow resolves a final symlink.
func (f *HostFile) StatAt(path string, follow bool) (Filestat, Errno) {
	if f.fs.active() {
		return f.fs.statAt(f, path, follow)
	}
	if f.typ != FiletypeDirectory {
		return Filestat{}, ENOTDIR
	}
	fd, e := f.openBeneath(path, unix.O_PATH, 0, follow)
	if e != ESUCCESS {
		return Filestat{}, e
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Filestat{}, ErrnoOf(err)
	}
	return filestatOf(&st, -1), ESUCCESS
}

// SetTimesAt sets the times of path; follow resolves a final symlink.
func (f *HostFile) SetTimesAt(path string, follow bool, atim, mtim uint64, flags Fstflags) Errno {
	ts, e := timespecs(atim, mtim, flags)
	if e != ESUCCESS {
		return e
	}
	if f.fs.active() {
		return f.fs.setTimesAt(f, path, follow, ts)
	}
	if !follow {
		pfd, name, e := f.parent(path)
		if e != ESUCCESS {
			return e
		}
		defer unix.Close(pfd)
		return ErrnoOf(unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	if f.typ != FiletypeDirectory {
		return ENOTDIR
	}
	fd, e := f.openBeneath(path, unix.O_PATH, 0, true)
	if e != ESUCCESS {
		return e
	}
	defer unix.Close(fd)
	return ErrnoOf(unix.UtimesNanoAt(unix.AT_FDCWD, procPath(fd), ts, 0))
}
