package sys

import (
	"strings"

	"golang.org/x/sys/unix"
)

// The path operations of the guest tree (fs.go). Each walks to the
// directory that holds the last component and acts on that fd with the
// name, which never contains a slash: the host follows nothing. Trailing
// slashes are checked here instead of being passed to the host, which
// would follow a final symlink on its own.

// isDirAt reports whether name in dir is a directory (not following a
// symlink), and whether it exists.
func isDirAt(dir int, name string) (isDir, exists bool) {
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false, false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, true
}

// mkdir creates directory p.
func (fs *FS) mkdir(dir *HostFile, p string) Errno {
	w, name, _, e := fs.parent(dir, p)
	if e != ESUCCESS {
		return e
	}
	defer w.close()
	d := w.top()
	if sp, exists := fs.special(d, name); sp {
		if exists {
			return EEXIST
		}
		return EROFS
	}
	return ErrnoOf(unix.Mkdirat(d.fd, name, 0o777))
}

// rmdir removes the empty directory p.
func (fs *FS) rmdir(dir *HostFile, p string) Errno {
	w, name, _, e := fs.parent(dir, p)
	if e != ESUCCESS {
		return e
	}
	defer w.close()
	d := w.top()
	if sp, exists := fs.special(d, name); sp {
		if exists {
			return EBUSY
		}
		return ENOENT
	}
	return rmdirAt(d.fd, name)
}

func rmdirAt(dir int, name string) Errno {
	err := unix.Unlinkat(dir, name, unix.AT_REMOVEDIR)
	if err == unix.EEXIST {
		err = unix.ENOTEMPTY
	}
	return ErrnoOf(err)
}

// unlink removes the non-directory p.
func (fs *FS) unlink(dir *HostFile, p string) Errno {
	w, name, slash, e := fs.parent(dir, p)
	if e != ESUCCESS {
		return e
	}
	defer w.close()
	d := w.top()
	if sp, exists := fs.special(d, name); sp {
		if exists {
			return EISDIR
		}
		return ENOENT
	}
	if slash {
		isDir, exists := isDirAt(d.fd, name)
		switch {
		case !exists:
			return ENOENT
		case isDir:
			return EISDIR
		}
		return ENOTDIR
	}
	return unlinkAt(d.fd, name)
}

func unlinkAt(dir int, name string) Errno {
	err := unix.Unlinkat(dir, name, 0)
	if err == unix.EISDIR || err == unix.EPERM {
		// Linux reports EISDIR; POSIX allows EPERM. Report EISDIR when it is one.
		if isDir, _ := isDirAt(dir, name); isDir {
			return EISDIR
		}
	}
	return ErrnoOf(err)
}

// rename moves oldPath to newPath. Between two mounts the host decides:
// when their directories lie on one host filesystem the rename is done (as
// in Wasmer, where it succeeds between any two mounts), else it is EXDEV,
// as between two host filesystems. Both ends are fds inside mounts, so
// nothing outside the guest's tree is named.
func (fs *FS) rename(odir *HostFile, oldPath string, ndir *HostFile, newPath string) Errno {
	ow, oname, oslash, e := fs.parent(odir, oldPath)
	if e != ESUCCESS {
		return e
	}
	defer ow.close()
	nw, nname, nslash, e := fs.parent(ndir, newPath)
	if e != ESUCCESS {
		return e
	}
	defer nw.close()
	od, nd := ow.top(), nw.top()
	if sp, exists := fs.special(od, oname); sp {
		if exists {
			return EBUSY
		}
		return ENOENT
	}
	if sp, _ := fs.special(nd, nname); sp {
		if nd.kind != nodeHost {
			return EROFS
		}
		return EBUSY
	}
	if oslash || nslash {
		isDir, exists := isDirAt(od.fd, oname)
		if !exists {
			return ENOENT
		}
		if !isDir {
			return ENOTDIR
		}
	}
	err := unix.Renameat(od.fd, oname, nd.fd, nname)
	if err == unix.EEXIST {
		err = unix.ENOTEMPTY
	}
	return ErrnoOf(err)
}

// symlink creates newPath pointing at target, stored as given: an absolute
// target resolves from the guest's root when the link is followed.
func (fs *FS) symlink(target string, dir *HostFile, newPath string) Errno {
	if strings.IndexByte(target, 0) >= 0 {
		return EINVAL
	}
	w, name, slash, e := fs.parent(dir, newPath)
	if e != ESUCCESS {
		return e
	}
	defer w.close()
	d := w.top()
	if sp, exists := fs.special(d, name); sp {
		if exists {
			return EEXIST
		}
		return EROFS
	}
	if slash {
		return symlinkSlash(d.fd, name)
	}
	return ErrnoOf(unix.Symlinkat(target, d.fd, name))
}

// symlinkSlash is the error of creating symlink "name/": ENOENT when
// nothing is there, EEXIST for a directory, ENOTDIR for anything else, as
// Linux says.
func symlinkSlash(dir int, name string) Errno {
	isDir, exists := isDirAt(dir, name)
	switch {
	case !exists:
		return ENOENT
	case isDir:
		return EEXIST
	}
	return ENOTDIR
}

// link makes newPath a hard link to oldPath (resolved with follow).
// Between two mounts the host decides, as for rename.
func (fs *FS) link(odir *HostFile, oldPath string, follow bool, ndir *HostFile, newPath string) Errno {
	nw, nname, nslash, e := fs.parent(ndir, newPath)
	if e != ESUCCESS {
		return e
	}
	defer nw.close()
	nd := nw.top()
	if sp, exists := fs.special(nd, nname); sp {
		if exists {
			return EEXIST
		}
		return EROFS
	}
	if follow {
		ow, n, e := fs.resolve(odir, oldPath, true)
		if e != ESUCCESS {
			return e
		}
		defer ow.close()
		if n.kind != nodeHost {
			return EXDEV
		}
		if n.isDir() {
			return EPERM
		}
		if nslash {
			return symlinkSlash(nd.fd, nname)
		}
		return ErrnoOf(unix.Linkat(unix.AT_FDCWD, procPath(n.fd), nd.fd, nname, unix.AT_SYMLINK_FOLLOW))
	}
	ow, oname, oslash, e := fs.parent(odir, oldPath)
	if e != ESUCCESS {
		return e
	}
	defer ow.close()
	od := ow.top()
	if sp, exists := fs.special(od, oname); sp {
		if exists {
			return EPERM
		}
		return ENOENT
	}
	if oslash {
		if isDir, exists := isDirAt(od.fd, oname); !exists {
			return ENOENT
		} else if isDir {
			return EPERM
		}
		return ENOTDIR
	}
	if nslash {
		return symlinkSlash(nd.fd, nname)
	}
	return ErrnoOf(unix.Linkat(od.fd, oname, nd.fd, nname, 0))
}

// readlink returns the target of symlink p.
func (fs *FS) readlink(dir *HostFile, p string) (string, Errno) {
	w, name, slash, e := fs.parent(dir, p)
	if e != ESUCCESS {
		return "", e
	}
	defer w.close()
	d := w.top()
	if sp, exists := fs.special(d, name); sp {
		if exists {
			return "", EINVAL
		}
		return "", ENOENT
	}
	if slash {
		// "link/" names what the link points to, which is no symlink.
		if _, exists := isDirAt(d.fd, name); !exists {
			return "", ENOENT
		}
		return "", EINVAL
	}
	return readlinkFd(d.fd, name)
}

// statAt returns the filestat of p; follow resolves a final symlink.
func (fs *FS) statAt(dir *HostFile, p string, follow bool) (Filestat, Errno) {
	w, n, e := fs.resolve(dir, p, follow)
	if e != ESUCCESS {
		return Filestat{}, e
	}
	defer w.close()
	return fs.statNode(n)
}

// setTimesAt sets the times of p; follow resolves a final symlink.
func (fs *FS) setTimesAt(dir *HostFile, p string, follow bool, ts []unix.Timespec) Errno {
	w, n, e := fs.resolve(dir, p, follow)
	if e != ESUCCESS {
		return e
	}
	defer w.close()
	if n.kind != nodeHost {
		return EROFS
	}
	if n.isLink() {
		// The link itself: utimensat on the fd would follow it.
		pw, name, _, e := fs.parent(dir, p)
		if e != ESUCCESS {
			return e
		}
		defer pw.close()
		return ErrnoOf(unix.UtimesNanoAt(pw.top().fd, name, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return ErrnoOf(unix.UtimesNanoAt(unix.AT_FDCWD, procPath(n.fd), ts, 0))
}

// Chdir resolves p (relative to the guest directory cwd) to a directory
// and returns its guest path, symlinks resolved, as getcwd reports it.
func (fs *FS) Chdir(cwd, p string) (string, Errno) {
	if e := checkPath(p); e != ESUCCESS {
		return "", e
	}
	full := p
	if !strings.HasPrefix(p, "/") {
		full = cwd + "/" + p
	}
	w, n, e := fs.resolve(nil, full, true)
	if e != ESUCCESS {
		return "", e
	}
	defer w.close()
	if !n.isDir() {
		return "", ENOTDIR
	}
	return n.path, ESUCCESS
}

// open opens p with the host open flags. For /dev/stdin, /dev/fd/N and
// the like it opens nothing and returns the guest fd the caller must
// duplicate instead (dup >= 0).
func (fs *FS) open(dir *HostFile, p string, flags int, follow bool) (f *HostFile, dup int, e Errno) {
	for links := 0; ; {
		w, name, slash, e := fs.parent(dir, p)
		if e != ESUCCESS {
			return nil, -1, e
		}
		if slash {
			flags |= unix.O_DIRECTORY
			follow = true
		}
		d := w.top()
		if sp, exists := fs.special(d, name); sp {
			f, dup, e := fs.openSpecial(w, d, name, exists, flags)
			w.close()
			return f, dup, e
		}
		fd, e := openStep(d.fd, name, flags|unix.O_NOFOLLOW, 0o666)
		if e == ELOOP {
			if target, le := readlinkFd(d.fd, name); le == ESUCCESS {
				if !follow {
					w.close()
					return nil, -1, ELOOP
				}
				links++
				if links > maxLinks || target == "" {
					w.close()
					if target == "" {
						return nil, -1, ENOENT
					}
					return nil, -1, ELOOP
				}
				np := target
				if target[0] != '/' {
					np = joinGuest(d.path, target)
				}
				if slash {
					np += "/"
				}
				w.close()
				p, dir = np, nil
				continue
			}
		}
		if e != ESUCCESS {
			w.close()
			return nil, -1, e
		}
		guest, mnt := d.path, d.mnt
		if name != "." {
			guest = joinGuest(d.path, name)
		}
		w.close()
		f, e = fs.wrapOpened(fd)
		if e != ESUCCESS {
			return nil, -1, e
		}
		f.guest, f.mnt = guest, mnt
		return f, -1, ESUCCESS
	}
}

// wrapOpened makes a HostFile of a fd the tree opened.
func (fs *FS) wrapOpened(fd int) (*HostFile, Errno) {
	f, err := NewHostFile(fs.system().Registry, fd, true)
	if err != nil {
		unix.Close(fd)
		return nil, ErrnoOf(err)
	}
	f.fs = fs
	if f.typ == FiletypeRegularFile || f.typ == FiletypeDirectory {
		// Regular files never block; drop the O_NONBLOCK used for open.
		unix.SetNonblock(fd, false)
	}
	return f, ESUCCESS
}

// openSpecial opens name in d when it is not the host's (see special).
func (fs *FS) openSpecial(w *walker, d *node, name string, exists bool, flags int) (*HostFile, int, Errno) {
	if !exists {
		if flags&unix.O_CREAT != 0 {
			return nil, -1, EROFS
		}
		return nil, -1, ENOENT
	}
	if flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		return nil, -1, EEXIST
	}
	n := *d
	n.owned = false
	if name != "." {
		var e Errno
		if n, e = w.child(name); e != ESUCCESS {
			return nil, -1, e
		}
		defer n.close()
	}
	switch n.kind {
	case nodeHost: // a mount's root
		fd, e := openStep(n.fd, ".", flags&^(unix.O_CREAT|unix.O_EXCL), 0)
		if e != ESUCCESS {
			return nil, -1, e
		}
		f, e := fs.wrapOpened(fd)
		if e != ESUCCESS {
			return nil, -1, e
		}
		f.guest, f.mnt = n.path, n.mnt
		return f, -1, ESUCCESS
	case nodeDevice:
		if flags&unix.O_DIRECTORY != 0 {
			return nil, -1, ENOTDIR
		}
		return fs.openDevice(n.path, flags)
	}
	if flags&(unix.O_WRONLY|unix.O_RDWR) != 0 {
		return nil, -1, EISDIR
	}
	return fs.virtualFile(n), -1, ESUCCESS
}

// openDevice opens a device of /dev: null, zero, random and urandom are
// the host's devices; stdin, stdout, stderr and fd/N are new fds on the
// guest's own fds; tty is the terminal of the guest's stdio, if any.
func (fs *FS) openDevice(p string, flags int) (*HostFile, int, Errno) {
	name := strings.TrimPrefix(p, "/dev/")
	host := ""
	switch name {
	case "null", "zero":
		host = "/dev/" + name
	case "random", "urandom":
		host = "/dev/urandom"
	case "stdin":
		return nil, 0, ESUCCESS
	case "stdout":
		return nil, 1, ESUCCESS
	case "stderr":
		return nil, 2, ESUCCESS
	case "tty":
		for fd := uint32(0); fd < 3; fd++ {
			if e, errno := fs.system().Table.Get(fd); errno == ESUCCESS {
				if hf, ok := e.File.(*HostFile); ok {
					if _, err := unix.IoctlGetTermios(hf.fd, unix.TCGETS); err == nil {
						return nil, int(fd), ESUCCESS
					}
				}
			}
		}
		return nil, -1, ENXIO
	default:
		if n, ok := parseFd(strings.TrimPrefix(name, "fd/")); ok && strings.HasPrefix(name, "fd/") {
			return nil, int(n), ESUCCESS
		}
		return nil, -1, ENOENT
	}
	// A fixed host device chosen here, never a guest path.
	fd, err := unix.Open(host, flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_DIRECTORY)|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, -1, ErrnoOf(err)
	}
	f, e := fs.wrapOpened(fd)
	if e != ESUCCESS {
		return nil, -1, e
	}
	f.guest = p
	return f, -1, ESUCCESS
}
