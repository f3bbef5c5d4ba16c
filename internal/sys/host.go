package sys

import (
	"context"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/polling"
)

// HostFile is a File backed by a host fd: a regular file, a directory, a
// character device, a pipe or a socket.
type HostFile struct {
	fd  int
	typ Filetype
	// owned: the fd is ours to close. Stdio fds inherited from the host are not.
	owned bool
	// hostNonblock: the host fd has O_NONBLOCK set (we set it on fds we own
	// that can block). Otherwise the host fd is blocking and readiness is
	// confirmed with poll(2) before I/O that must not block.
	hostNonblock bool
	// hostRoot: a directory at or under a preopen of the host's "/", which
	// resolves paths as the host does (see resolveInRoot).
	hostRoot bool
	// fs, guest, mnt and virt tie a directory (or file) to the guest tree
	// of a WASIX guest (fs.go): its real guest path and the mount it lies
	// in. virt is not nodeHost for a virtual directory, which has no host
	// fd (fd is -1).
	fs    *FS
	guest string
	mnt   *mount
	virt  nodeKind
	reg   *polling.Registry
	rec   *polling.Record

	closeOnce sync.Once
	closeErr  error

	dir dirState // directory listing snapshot for fd_readdir

	sock sockState // socket state (connect progress, options); see netsock.go
	kind hostKind
	ev   eventState // eventfds only; see eventfd.go

	nowait nowaitState // inherited blocking pipes; see nowait.go
}

// hostKind says how a successful read or write tells about readiness.
type hostKind uint8

const (
	kindOther      hostKind = iota
	kindStream              // pipe or stream socket: a short read drained it
	kindEventfd             // a read empties the counter (not in semaphore mode)
	kindEventfdSem          // a read decrements the counter
)

// MarkEventfd tells f that it is an eventfd, so that reads keep its
// readiness exact.
func (f *HostFile) MarkEventfd(semaphore bool) {
	f.kind = kindEventfd
	if semaphore {
		f.kind = kindEventfdSem
	}
}

// NewHostFile wraps host fd. owned says whether Close closes fd. Pollable
// kinds (pipes, sockets, character devices) are added to the registry.
func NewHostFile(reg *polling.Registry, fd int, owned bool) (*HostFile, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	f := &HostFile{fd: fd, typ: filetypeOfMode(st.Mode, fd), owned: owned, reg: reg}
	if st.Mode&unix.S_IFMT == unix.S_IFIFO || f.typ == FiletypeSocketStream {
		f.kind = kindStream
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK:
		f.rec = polling.AlwaysReady()
		return f, nil
	}
	if owned {
		if err := unix.SetNonblock(fd, true); err == nil {
			f.hostNonblock = true
		}
	} else if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		f.hostNonblock = fl&unix.O_NONBLOCK != 0
	}
	if reg == nil {
		f.rec = polling.AlwaysReady()
		return f, nil
	}
	rec, err := reg.Watch(fd)
	if err != nil {
		return nil, err
	}
	f.rec = rec
	return f, nil
}

// Fd returns the host fd.
func (f *HostFile) Fd() int { return f.fd }

// Filetype implements File.
func (f *HostFile) Filetype() Filetype { return f.typ }

// Record implements File.
func (f *HostFile) Record() *polling.Record { return f.rec }

// Close implements File: the fd leaves the epoll set before it is closed.
func (f *HostFile) Close() error {
	f.closeOnce.Do(func() {
		if f.reg != nil && !f.rec.IsAlways() {
			f.reg.Unwatch(f.rec)
		}
		if f.owned {
			f.closeErr = unix.Close(f.fd)
			if f.kind == kindStream && f.typ == FiletypeCharacterDevice && f.reg != nil {
				// A pipe end: the kernel queued the hang-up of the other end
				// as we closed; post it now, so that the guest's next poll
				// of that end sees it (a poll that finds something else
				// ready does not drain).
				f.reg.Drain()
			}
		}
	})
	return f.closeErr
}

// ready reports whether the host fd is ready for events now (poll(2) with a
// zero timeout). Used for blocking host fds we do not own, whose cached bits
// can be stale because we never see their EAGAIN.
func (f *HostFile) ready(events int16) bool {
	pfd := []unix.PollFd{{Fd: int32(f.fd), Events: events}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// Refresh brings the cached bits of a blocking host fd up to date. It is a
// no-op for fds whose readiness is tracked exactly.
func (f *HostFile) Refresh() {
	if f.hostNonblock || f.rec.IsAlways() {
		return
	}
	bits, gen := f.rec.Bits()
	if bits&polling.In != 0 && !f.ready(unix.POLLIN) {
		f.rec.Clear(polling.In, gen)
	}
}

// io runs op until it does not return EAGAIN (blocking guest fd) or once
// (nonblocking guest fd), keeping the readiness record in step.
func (f *HostFile) io(ctx context.Context, want uint32, nonblock bool, op func() (int, error)) (int, Errno) {
	pollEv := int16(unix.POLLIN)
	if want == polling.Out {
		pollEv = unix.POLLOUT
	}
	for {
		if !f.hostNonblock && !f.rec.IsAlways() {
			// A blocking host fd: only call op once poll(2) says it will not block,
			// so that the wait stays interruptible.
			if !f.ready(pollEv) {
				_, gen := f.rec.Bits()
				f.rec.Clear(want, gen)
				if nonblock {
					return 0, EAGAIN
				}
				if err := polling.WaitFor(ctx, f.reg, f.rec, want); err != nil {
					return 0, EINTR
				}
				continue
			}
		}
		_, gen := f.rec.Bits()
		n, err := op()
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			if f.reg == nil {
				f.rec.Clear(want, gen)
			} else {
				// The fd just said it would block, but an event the poller
				// harvested before (while it had room) may be posted after
				// a clear and leave the bit set for good: clear while no
				// event is being posted (later harvests see the host's
				// state after the EAGAIN), and ask the kernel only if an
				// event posted since gen kept the bit.
				f.reg.Quiet(func() { f.rec.Clear(want, gen) })
				if bits, _ := f.rec.Bits(); bits&want != 0 {
					f.eventResync()
				}
			}
			if nonblock {
				return 0, EAGAIN
			}
			if f.reg != nil {
				// About to wait: post what the host has queued (nobody
				// harvests while no waiter sleeps), such as the RDHUP of a
				// shutdown the check below looks for.
				f.reg.Drain()
			}
			ended := polling.Err | polling.Hup
			if want == polling.In {
				ended |= polling.RdHup
			}
			if bits, _ := f.rec.Bits(); bits&ended != 0 && f.isSocket() {
				// A wait wakes on ERR and HUP, and nothing clears them: a
				// UDP socket keeps the ERR of an ICMP error it has already
				// reported, and would spin here. Take the socket's state now.
				f.Resync()
				if bits, _ := f.rec.Bits(); bits&ended != 0 {
					// Really shut down or hung up, yet nothing to read or
					// write (a UDP socket after shutdown): a blocking read
					// ends as the kernel ends it (0), a write cannot go on.
					if want == polling.In {
						return 0, ESUCCESS
					}
					return 0, EPIPE
				}
			}
			if err := polling.WaitFor(ctx, f.reg, f.rec, want); err != nil {
				return 0, EINTR
			}
			continue
		}
		if err != nil {
			return 0, ErrnoOf(err)
		}
		return n, ESUCCESS
	}
}

// Readv implements Reader.
func (f *HostFile) Readv(ctx context.Context, iovs [][]byte, nonblock bool) (int, Errno) {
	if f.typ == FiletypeDirectory {
		return 0, EISDIR
	}
	if n, e, done := f.tryNowait(iovs, false, nonblock, nil); done {
		return n, e
	}
	f.eventIO()
	var gen uint64
	n, e := f.io(ctx, polling.In, nonblock, func() (int, error) {
		_, gen = f.rec.Bits()
		return vecIO(f.fd, iovs, false, f.nonblockingOwned())
	})
	if e == ESUCCESS && n > 0 {
		f.afterRead(n, iovs, gen)
	}
	return n, e
}

// afterRead keeps the cached readiness exact after a successful read, so
// that level-triggered waits do not report a drained fd as readable. The
// host epoll is edge-triggered, so new data after the read posts In again;
// gen (read before the read) keeps a racing event from being lost.
func (f *HostFile) afterRead(n int, iovs [][]byte, gen uint64) {
	if !f.owned || !f.hostNonblock || f.rec.IsAlways() {
		return
	}
	switch f.kind {
	case kindEventfd, kindEventfdSem:
		f.eventResync()
	case kindStream:
		total := 0
		for _, b := range iovs {
			total += len(b)
		}
		if n < total {
			f.rec.Clear(polling.In, gen)
		} else if v, err := unix.IoctlGetInt(f.fd, unix.TIOCINQ); err == nil && v == 0 {
			f.rec.Clear(polling.In, gen)
		}
	}
}

// Writev implements Writer.
func (f *HostFile) Writev(ctx context.Context, iovs [][]byte, nonblock bool) (int, Errno) {
	if f.typ == FiletypeDirectory {
		return 0, EISDIR
	}
	if f.isSocket() {
		return f.Send(ctx, iovs, nonblock)
	}
	if n, e, done := f.tryNowait(iovs, true, nonblock, func(rest [][]byte) (int, Errno) {
		return f.Writev(ctx, rest, nonblock)
	}); done {
		return n, e
	}
	f.eventIO()
	var gen uint64
	n, e := f.io(ctx, polling.Out, nonblock, func() (int, error) {
		_, gen = f.rec.Bits()
		return vecIO(f.fd, iovs, true, f.nonblockingOwned())
	})
	if e == ESUCCESS && f.owned && f.hostNonblock && !f.rec.IsAlways() {
		switch f.kind {
		case kindEventfd, kindEventfdSem:
			f.eventResync()
		case kindStream:
			// A short write filled the pipe: not writable until the reader
			// makes room, which the host reports as a new edge.
			total := 0
			for _, b := range iovs {
				total += len(b)
			}
			if n < total {
				f.rec.Clear(polling.Out, gen)
			}
		}
	}
	return n, e
}

// Preadv reads at offset without moving the file position.
func (f *HostFile) Preadv(iovs [][]byte, off int64) (int, Errno) {
	return f.positionedIO(iovs, off, unix.SYS_PREADV)
}

// Pwritev writes at offset without moving the file position.
func (f *HostFile) Pwritev(iovs [][]byte, off int64) (int, Errno) {
	return f.positionedIO(iovs, off, unix.SYS_PWRITEV)
}

// positionedIO runs a preadv or pwritev (trap): only seekable files have
// positions. The iovecs are built on the stack for the usual few buffers,
// and the system call is made directly (x/sys/unix's Preadv allocates).
func (f *HostFile) positionedIO(iovs [][]byte, off int64, trap uintptr) (int, Errno) {
	switch f.typ {
	case FiletypeDirectory:
		return 0, EISDIR
	case FiletypeRegularFile, FiletypeBlockDevice:
	default:
		return 0, ESPIPE
	}
	if len(iovs) == 1 {
		// One buffer (the usual pread): pread64/pwrite64, which the
		// kernel serves with less set-up than the vector forms.
		op := uintptr(unix.SYS_PREAD64)
		if trap == unix.SYS_PWRITEV {
			op = unix.SYS_PWRITE64
		}
		b := iovs[0]
		return rawIO(op, f.fd, unsafe.Pointer(unsafe.SliceData(b)), len(b), off)
	}
	var arr [8]unix.Iovec
	vec := iovecsOf(&arr, iovs)
	// 64-bit Linux: the offset is one register (its high half is 0).
	return rawIO(trap, f.fd, unsafe.Pointer(&vec[0]), len(iovs), off)
}

// iovecsOf fills host iovecs for iovs, in arr when they fit (no
// allocation for the usual few buffers); the result always has a valid
// first element, even for an empty list.
func iovecsOf(arr *[8]unix.Iovec, iovs [][]byte) []unix.Iovec {
	vec := arr[:0]
	if len(iovs) > len(arr) {
		vec = make([]unix.Iovec, 0, len(iovs))
	}
	for _, b := range iovs {
		v := unix.Iovec{Base: unsafe.SliceData(b)}
		v.SetLen(len(b))
		vec = append(vec, v)
	}
	if len(vec) == 0 {
		vec = arr[:1]
	}
	return vec
}

// rawIO makes the read or write system call trap(fd, buf, n, off) (off is
// ignored by the calls that take none) and retries it on EINTR. buf stays
// an unsafe.Pointer until the Syscall6 argument list, so that what it
// points to (a vector on the caller's stack, guest memory) is kept in
// place during the call.
func rawIO(trap uintptr, fd int, buf unsafe.Pointer, n int, off int64) (int, Errno) {
	for {
		r, _, e := unix.Syscall6(trap, uintptr(fd), uintptr(buf), uintptr(n), uintptr(off), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, ErrnoOf(e)
		}
		return int(r), ESUCCESS
	}
}

// Lseek moves the file position; whence is 0 SET, 1 CUR, 2 END (Unix values).
func (f *HostFile) Lseek(off int64, whence int) (int64, Errno) {
	switch f.typ {
	case FiletypeRegularFile, FiletypeBlockDevice:
	case FiletypeDirectory:
		// Directories seek only by readdir cookies.
		return 0, EBADF
	default:
		return 0, ESPIPE
	}
	n, err := unix.Seek(f.fd, off, whence)
	return n, ErrnoOf(err)
}

// Stat returns the filestat of the open file.
func (f *HostFile) Stat() (Filestat, Errno) {
	if f.virt != nodeHost {
		return f.fs.statNode(&node{kind: f.virt, path: f.guest})
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return Filestat{}, ErrnoOf(err)
	}
	fs := filestatOf(&st, f.fd)
	return fs, ESUCCESS
}

// Truncate sets the file size.
func (f *HostFile) Truncate(size int64) Errno {
	if f.typ != FiletypeRegularFile {
		return EINVAL
	}
	return ErrnoOf(unix.Ftruncate(f.fd, size))
}

// Allocate ensures that [off, off+n) is backed by storage, growing the file.
func (f *HostFile) Allocate(off, n int64) Errno {
	if f.typ != FiletypeRegularFile {
		return ESPIPE
	}
	err := unix.Fallocate(f.fd, 0, off, n)
	if err == unix.EOPNOTSUPP {
		// Filesystems without fallocate: grow with ftruncate, as posix_fallocate does.
		var st unix.Stat_t
		if err := unix.Fstat(f.fd, &st); err != nil {
			return ErrnoOf(err)
		}
		if off+n > st.Size {
			return ErrnoOf(unix.Ftruncate(f.fd, off+n))
		}
		return ESUCCESS
	}
	return ErrnoOf(err)
}

// Advise passes an access-pattern hint to the host.
func (f *HostFile) Advise(off, n int64, advice int) Errno {
	switch f.typ {
	case FiletypeRegularFile, FiletypeBlockDevice:
		return ErrnoOf(unix.Fadvise(f.fd, off, n, advice))
	case FiletypeDirectory:
		return ESUCCESS
	}
	return ESPIPE
}

// Sync flushes data and metadata; dataOnly flushes data only.
func (f *HostFile) Sync(dataOnly bool) Errno {
	var err error
	if dataOnly {
		err = unix.Fdatasync(f.fd)
	} else {
		err = unix.Fsync(f.fd)
	}
	if err == unix.EINVAL || err == unix.EROFS {
		// Pipes, sockets and special files have nothing to flush.
		return ESUCCESS
	}
	return ErrnoOf(err)
}

// SetTimes sets access and modification times (nanoseconds) as fstflags say.
func (f *HostFile) SetTimes(atim, mtim uint64, flags Fstflags) Errno {
	ts, e := timespecs(atim, mtim, flags)
	if e != ESUCCESS {
		return e
	}
	return ErrnoOf(unix.UtimesNanoAt(unix.AT_FDCWD, procPath(f.fd), ts, 0))
}

// SetAppend switches the host O_APPEND flag.
func (f *HostFile) SetAppend(on bool) Errno {
	fl, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0)
	if err != nil {
		return ErrnoOf(err)
	}
	if on {
		fl |= unix.O_APPEND
	} else {
		fl &^= unix.O_APPEND
	}
	_, err = unix.FcntlInt(uintptr(f.fd), unix.F_SETFL, fl)
	return ErrnoOf(err)
}

// BytesReadable reports how many bytes a read would return now, for the
// nbytes of poll events; ok is false when the host cannot tell.
func (f *HostFile) BytesReadable() (n uint64, ok bool) {
	switch f.typ {
	case FiletypeRegularFile:
		var st unix.Stat_t
		if unix.Fstat(f.fd, &st) != nil {
			return 0, false
		}
		pos, err := unix.Seek(f.fd, 0, 1)
		if err != nil || pos > st.Size {
			return 0, err == nil
		}
		return uint64(st.Size - pos), true
	case FiletypeDirectory:
		return 0, false
	}
	if f.IsEventfd() {
		return 8, true // a read returns the 8-byte counter; FIONREAD is ENOTTY here
	}
	v, err := unix.IoctlGetInt(f.fd, unix.TIOCINQ)
	if err != nil || v < 0 {
		return 0, false
	}
	return uint64(v), true
}

func procPath(fd int) string { return "/proc/self/fd/" + itoa(fd) }

const (
	utimeNow  = (1 << 30) - 1
	utimeOmit = (1 << 30) - 2
)

func timespecs(atim, mtim uint64, flags Fstflags) ([]unix.Timespec, Errno) {
	if flags&(FstflagAtim|FstflagAtimNow) == FstflagAtim|FstflagAtimNow ||
		flags&(FstflagMtim|FstflagMtimNow) == FstflagMtim|FstflagMtimNow {
		return nil, EINVAL
	}
	if flags&^(FstflagAtim|FstflagAtimNow|FstflagMtim|FstflagMtimNow) != 0 {
		return nil, EINVAL
	}
	ts := []unix.Timespec{{Nsec: utimeOmit}, {Nsec: utimeOmit}}
	switch {
	case flags&FstflagAtimNow != 0:
		ts[0].Nsec = utimeNow
	case flags&FstflagAtim != 0:
		ts[0] = unix.NsecToTimespec(int64(atim))
	}
	switch {
	case flags&FstflagMtimNow != 0:
		ts[1].Nsec = utimeNow
	case flags&FstflagMtim != 0:
		ts[1] = unix.NsecToTimespec(int64(mtim))
	}
	return ts, ESUCCESS
}

// FileIO is Readv or Writev for a regular file, which never blocks and has
// no readiness to keep: one readv or writev at the file position. Up to
// eight iovecs go to the kernel from the stack (unix.Readv allocates).
// (The guest memory they point into is a Go slice the module holds, and
// the conversion in the Syscall call keeps vec alive during the call.)
func (f *HostFile) FileIO(iovs [][]byte, write bool) (int, Errno) {
	if len(iovs) == 1 {
		// One buffer (every write(2) through wasi-libc): read/write, which
		// the kernel serves with less set-up than readv/writev.
		op := uintptr(unix.SYS_READ)
		if write {
			op = unix.SYS_WRITE
		}
		b := iovs[0]
		return rawIO(op, f.fd, unsafe.Pointer(unsafe.SliceData(b)), len(b), 0)
	}
	trap := uintptr(unix.SYS_READV)
	if write {
		trap = unix.SYS_WRITEV
	}
	var arr [8]unix.Iovec
	vec := iovecsOf(&arr, iovs)
	return rawIO(trap, f.fd, unsafe.Pointer(&vec[0]), len(iovs), 0)
}
