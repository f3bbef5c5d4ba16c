package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// I/O on nonblocking host fds that wazix owns (sockets, pipes, eventfds it
// made), which cannot sleep in the kernel: raw system calls, without the
// scheduler's entersyscall/exitsyscall hand-off that Go's syscall.Syscall
// makes for calls that may block (a tenth of a small socket or pipe
// write), and the iovecs on the stack rather than in a slice that
// x/sys/unix allocates. An fd wazix does not own can be made blocking by
// whoever shares it, and keeps the ordinary calls.

// nonblockingOwned reports whether f's host fd is ours and nonblocking,
// so that I/O on it never sleeps.
func (f *HostFile) nonblockingOwned() bool { return f.owned && f.hostNonblock }

// vecIO is read/readv (or write/writev when write) of iovs on fd; raw
// makes it a raw system call (see nonblockingOwned). The error is nil or a
// unix.Errno, as f.io expects.
func vecIO(fd int, iovs [][]byte, write, raw bool) (int, error) {
	var arr [8]unix.Iovec
	trap := uintptr(unix.SYS_READV)
	if write {
		trap = unix.SYS_WRITEV
	}
	ptr, n := unsafe.Pointer(nil), len(iovs)
	if len(iovs) == 1 {
		// One buffer: read(2)/write(2), which the kernel sets up for less.
		trap = unix.SYS_READ
		if write {
			trap = unix.SYS_WRITE
		}
		ptr, n = unsafe.Pointer(unsafe.SliceData(iovs[0])), len(iovs[0])
	} else {
		ptr = unsafe.Pointer(&iovecsOf(&arr, iovs)[0])
	}
	var r uintptr
	var e unix.Errno
	if raw {
		r, _, e = unix.RawSyscall(trap, uintptr(fd), uintptr(ptr), uintptr(n))
	} else {
		r, _, e = unix.Syscall(trap, uintptr(fd), uintptr(ptr), uintptr(n))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// sockSend sends iovs on a connected socket with MSG_NOSIGNAL (a closed
// peer gives EPIPE, never SIGPIPE): send(2) for one buffer, sendmsg(2)
// for several.
func sockSend(fd int, iovs [][]byte, raw bool) (int, error) {
	var r uintptr
	var e unix.Errno
	if len(iovs) == 1 {
		b := iovs[0]
		p := unsafe.Pointer(unsafe.SliceData(b))
		if raw {
			r, _, e = unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
		} else {
			r, _, e = unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
		}
	} else {
		var arr [8]unix.Iovec
		var msg unix.Msghdr
		msg.Iov = &iovecsOf(&arr, iovs)[0]
		msg.SetIovlen(len(iovs))
		if raw {
			r, _, e = unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_NOSIGNAL)
		} else {
			r, _, e = unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_NOSIGNAL)
		}
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// sockRecv is recvmsg(2) of iovs with flags, without an address or
// control data; rflags are the message flags the kernel returns
// (MSG_TRUNC).
func sockRecv(fd int, iovs [][]byte, flags int, raw bool) (n, rflags int, err error) {
	var arr [8]unix.Iovec
	var msg unix.Msghdr
	msg.Iov = &iovecsOf(&arr, iovs)[0]
	msg.SetIovlen(len(iovs))
	var r uintptr
	var e unix.Errno
	if raw {
		r, _, e = unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	} else {
		r, _, e = unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	}
	if e != 0 {
		return 0, 0, e
	}
	return int(r), int(msg.Flags), nil
}
