package sys

import (
	"context"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// File is an object behind a guest fd. Every File has a filetype and a
// readiness record; the I/O it supports is given by the optional interfaces
// below (a File that lacks one gets EBADF, ESPIPE or ENOTSUP from the ABI).
type File interface {
	Filetype() Filetype
	// Record is the readiness record waiters attach to.
	Record() *polling.Record
	// Close releases the object's host resources.
	Close() error
}

// Reader is a File that fd_read works on. nonblock is the guest's view of
// the fd's NONBLOCK flag: when set, a read that would block returns EAGAIN.
type Reader interface {
	Readv(ctx context.Context, iovs [][]byte, nonblock bool) (int, Errno)
}

// Writer is a File that fd_write works on.
type Writer interface {
	Writev(ctx context.Context, iovs [][]byte, nonblock bool) (int, Errno)
}

// Stream is a File backed by Go readers and writers rather than a host fd,
// for embedders that pass an io.Reader or io.Writer as stdio. It is always
// ready: reads and writes block in Go.
type Stream struct {
	R  io.Reader
	W  io.Writer
	mu sync.Mutex
}

// Filetype implements File. Streams look like character devices, as a
// terminal or pipe would.
func (s *Stream) Filetype() Filetype { return FiletypeCharacterDevice }

// Record implements File.
func (s *Stream) Record() *polling.Record { return polling.AlwaysReady() }

// Close implements File; the embedder owns the reader and writer.
func (s *Stream) Close() error { return nil }

// Readv implements Reader.
func (s *Stream) Readv(_ context.Context, iovs [][]byte, _ bool) (int, Errno) {
	if s.R == nil {
		return 0, EBADF
	}
	total := 0
	for _, b := range iovs {
		if len(b) == 0 {
			continue
		}
		n, err := s.R.Read(b)
		total += n
		if err == io.EOF {
			return total, ESUCCESS
		}
		if err != nil {
			if total > 0 {
				return total, ESUCCESS
			}
			return 0, ErrnoOf(err)
		}
		if n < len(b) {
			break
		}
	}
	return total, ESUCCESS
}

// Writev implements Writer.
func (s *Stream) Writev(_ context.Context, iovs [][]byte, _ bool) (int, Errno) {
	if s.W == nil {
		return 0, EBADF
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for _, b := range iovs {
		n, err := s.W.Write(b)
		total += n
		if err != nil {
			if total > 0 {
				return total, ESUCCESS
			}
			return 0, ErrnoOf(err)
		}
	}
	return total, ESUCCESS
}

// filetypeOfMode maps a host st_mode to a preview1 filetype.
func filetypeOfMode(mode uint32, fd int) Filetype {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return FiletypeRegularFile
	case unix.S_IFDIR:
		return FiletypeDirectory
	case unix.S_IFCHR:
		return FiletypeCharacterDevice
	case unix.S_IFBLK:
		return FiletypeBlockDevice
	case unix.S_IFLNK:
		return FiletypeSymbolicLink
	case unix.S_IFIFO:
		// Pipes have no preview1 filetype; wasi-libc and Go treat them like
		// character devices (unseekable streams).
		return FiletypeCharacterDevice
	case unix.S_IFSOCK:
		if fd >= 0 {
			if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil && t == unix.SOCK_DGRAM {
				return FiletypeSocketDgram
			}
		}
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}

func filestatOf(st *unix.Stat_t, fd int) Filestat {
	return Filestat{
		Dev:      st.Dev,
		Ino:      st.Ino,
		Filetype: filetypeOfMode(st.Mode, fd),
		Nlink:    uint64(st.Nlink),
		Size:     uint64(st.Size),
		Atim:     uint64(st.Atim.Nano()),
		Mtim:     uint64(st.Mtim.Nano()),
		Ctim:     uint64(st.Ctim.Nano()),
	}
}
