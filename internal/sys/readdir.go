package sys

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Dirent is one directory entry as fd_readdir reports it.
type Dirent struct {
	Ino  uint64
	Type Filetype
	Name string
}

// dirState is the listing of a directory fd. fd_readdir cookies are indexes
// into it: cookie 0 re-reads the directory (a rewind), other cookies resume
// the snapshot, so entries are neither repeated nor lost while the guest pages
// through it.
type dirState struct {
	mu      sync.Mutex
	entries []Dirent
	valid   bool
}

// Readdir returns the entries from cookie on. The first entries of a fresh
// listing are "." and "..", as preview1 guests expect.
func (f *HostFile) Readdir(cookie uint64) ([]Dirent, Errno) {
	if f.typ != FiletypeDirectory {
		return nil, ENOTDIR
	}
	f.dir.mu.Lock()
	defer f.dir.mu.Unlock()
	if cookie == 0 || !f.dir.valid {
		var ents []Dirent
		var e Errno
		switch {
		case f.virt != nodeHost:
			ents = f.fs.virtualEntries(f)
		case f.fs.active() && f.guest != "":
			// The mount points a WASIX guest sees in this directory.
			if ents, e = f.readAll(); e == ESUCCESS {
				ents = f.fs.mergeMounts(f.guest, ents)
			}
		default:
			ents, e = f.readAll()
		}
		if e != ESUCCESS {
			return nil, e
		}
		f.dir.entries, f.dir.valid = ents, true
	}
	if cookie >= uint64(len(f.dir.entries)) {
		return nil, ESUCCESS
	}
	return f.dir.entries[cookie:], ESUCCESS
}

func (f *HostFile) readAll() ([]Dirent, Errno) {
	// Read through a fresh descriptor so the guest-visible fd keeps no
	// getdents position of its own.
	fd, err := unix.Openat(f.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, ErrnoOf(err)
	}
	defer unix.Close(fd)
	var ents, dots []Dirent
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, ErrnoOf(err)
		}
		if n <= 0 {
			break
		}
		b := buf[:n]
		for len(b) >= 19 {
			reclen := int(le16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				break
			}
			ino := le64(b[0:])
			typ := b[18]
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			d := Dirent{Ino: ino, Type: direntType(typ), Name: string(name)}
			if d.Name == "." || d.Name == ".." {
				dots = append(dots, d)
			} else {
				ents = append(ents, d)
			}
			b = b[reclen:]
		}
	}
	// "." and ".." first, in that order.
	out := make([]Dirent, 0, len(ents)+2)
	for _, want := range []string{".", ".."} {
		for _, d := range dots {
			if d.Name == want {
				out = append(out, d)
			}
		}
	}
	out = append(out, ents...)
	fixOverlayInodes(fd, out)
	return out, ESUCCESS
}

// fixOverlayInodes replaces the d_ino of entries in an overlayfs directory
// with what stat reports: overlayfs can give getdents the inode of the
// layer a name comes from, and guests compare d_ino with st_ino
// (wasi-testsuite's fdopendir-with-access and fd_readdir do). Other
// filesystems agree already and cost one fstatfs.
func fixOverlayInodes(dirfd int, ents []Dirent) {
	var sfs unix.Statfs_t
	if unix.Fstatfs(dirfd, &sfs) != nil || sfs.Type != unix.OVERLAYFS_SUPER_MAGIC {
		return
	}
	for i := range ents {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, ents[i].Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			ents[i].Ino = st.Ino
		}
	}
}

func direntType(t uint8) Filetype {
	switch t {
	case unix.DT_REG:
		return FiletypeRegularFile
	case unix.DT_DIR:
		return FiletypeDirectory
	case unix.DT_LNK:
		return FiletypeSymbolicLink
	case unix.DT_CHR, unix.DT_FIFO:
		return FiletypeCharacterDevice
	case unix.DT_BLK:
		return FiletypeBlockDevice
	case unix.DT_SOCK:
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
