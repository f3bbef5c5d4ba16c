package sys

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nowaitState.unsupported is set for a pipe whose kernel refuses RWF_NOWAIT (older
// kernels gave pipes no FMODE_NOWAIT): it stays on poll(2) then I/O.
type nowaitState struct{ unsupported atomic.Bool }

// tryNowait is one readv or writev with RWF_NOWAIT on a blocking pipe we do
// not own (inherited stdio): the kernel does it now or says EAGAIN, so the
// usual case costs one syscall instead of poll(2) then I/O, and a call that
// would block still waits interruptibly on the io path. done is false when
// that path must run: EAGAIN, EINTR or no RWF_NOWAIT support. A blocking
// write that went through in part has its rest written by write.
func (f *HostFile) tryNowait(iovs [][]byte, write bool, nonblock bool, rest func([][]byte) (int, Errno)) (n int, errno Errno, done bool) {
	if f.hostNonblock || f.kind != kindStream || f.typ != FiletypeCharacterDevice || f.rec.IsAlways() || f.nowait.unsupported.Load() {
		return 0, ESUCCESS, false
	}
	n, err := nowaitIO(f.fd, iovs, write)
	switch err {
	case 0:
	case unix.EAGAIN, unix.EINTR:
		return 0, ESUCCESS, false
	case unix.EOPNOTSUPP, unix.EINVAL:
		f.nowait.unsupported.Store(true)
		return 0, ESUCCESS, false
	default:
		return 0, ErrnoOf(err), true
	}
	if !write || nonblock {
		return n, ESUCCESS, true
	}
	left := skipBytes(iovs, n)
	if len(left) == 0 {
		return n, ESUCCESS, true
	}
	// A blocking write writes everything, as it did without RWF_NOWAIT.
	m, e := rest(left)
	if e != ESUCCESS {
		// Part was written: report it, as write(2) does when interrupted.
		return n, ESUCCESS, true
	}
	return n + m, ESUCCESS, true
}

// skipBytes returns iovs without their first n bytes.
func skipBytes(iovs [][]byte, n int) [][]byte {
	for len(iovs) > 0 && n >= len(iovs[0]) {
		n -= len(iovs[0])
		iovs = iovs[1:]
	}
	if len(iovs) == 0 {
		return nil
	}
	out := append([][]byte{iovs[0][n:]}, iovs[1:]...)
	if len(out[0]) == 0 {
		out = out[1:]
	}
	return out
}

// CachedBitsStale reports whether Refresh would ask the kernel: a blocking
// host fd we do not own, whose cached bits can be stale.
func (f *HostFile) CachedBitsStale() bool { return !f.hostNonblock && !f.rec.IsAlways() }

// nowaitIO is preadv2 or pwritev2 at the file position (offset -1) with
// RWF_NOWAIT, the iovecs on the stack. A call with RWF_NOWAIT does not
// sleep, so it is a raw system call: without the scheduler's
// entersyscall/exitsyscall hand-off, which costs as much as a tenth of a
// one-byte pipe write.
func nowaitIO(fd int, iovs [][]byte, write bool) (int, unix.Errno) {
	trap := uintptr(unix.SYS_PREADV2)
	if write {
		trap = unix.SYS_PWRITEV2
	}
	var arr [8]unix.Iovec
	vec := iovecsOf(&arr, iovs)
	// The offset goes as two words, low then high; -1 (the file position)
	// is all ones in the low word on a 64-bit kernel.
	r, _, e := unix.RawSyscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&vec[0])), uintptr(len(iovs)), ^uintptr(0), 0, unix.RWF_NOWAIT)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
