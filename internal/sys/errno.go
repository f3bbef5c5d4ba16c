// Package sys holds the system state that the ABI layers share: the fd table,
// the objects behind fds (host files, directories, sockets, streams), and
// path resolution inside preopened directories.
//
// The ABI packages (abi/wasi_p1, abi/wasix) decode guest memory and call into
// this package; nothing here knows about wasm memory layouts.
package sys

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errno is a WASI errno value (preview1 numbering; WASIX adds 77 and above).
type Errno uint16

// WASI errno values.
const (
	ESUCCESS        Errno = 0
	E2BIG           Errno = 1
	EACCES          Errno = 2
	EADDRINUSE      Errno = 3
	EADDRNOTAVAIL   Errno = 4
	EAFNOSUPPORT    Errno = 5
	EAGAIN          Errno = 6
	EALREADY        Errno = 7
	EBADF           Errno = 8
	EBADMSG         Errno = 9
	EBUSY           Errno = 10
	ECANCELED       Errno = 11
	ECHILD          Errno = 12
	ECONNABORTED    Errno = 13
	ECONNREFUSED    Errno = 14
	ECONNRESET      Errno = 15
	EDEADLK         Errno = 16
	EDESTADDRREQ    Errno = 17
	EDOM            Errno = 18
	EDQUOT          Errno = 19
	EEXIST          Errno = 20
	EFAULT          Errno = 21
	EFBIG           Errno = 22
	EHOSTUNREACH    Errno = 23
	EIDRM           Errno = 24
	EILSEQ          Errno = 25
	EINPROGRESS     Errno = 26
	EINTR           Errno = 27
	EINVAL          Errno = 28
	EIO             Errno = 29
	EISCONN         Errno = 30
	EISDIR          Errno = 31
	ELOOP           Errno = 32
	EMFILE          Errno = 33
	EMLINK          Errno = 34
	EMSGSIZE        Errno = 35
	EMULTIHOP       Errno = 36
	ENAMETOOLONG    Errno = 37
	ENETDOWN        Errno = 38
	ENETRESET       Errno = 39
	ENETUNREACH     Errno = 40
	ENFILE          Errno = 41
	ENOBUFS         Errno = 42
	ENODEV          Errno = 43
	ENOENT          Errno = 44
	ENOEXEC         Errno = 45
	ENOLCK          Errno = 46
	ENOLINK         Errno = 47
	ENOMEM          Errno = 48
	ENOMSG          Errno = 49
	ENOPROTOOPT     Errno = 50
	ENOSPC          Errno = 51
	ENOSYS          Errno = 52
	ENOTCONN        Errno = 53
	ENOTDIR         Errno = 54
	ENOTEMPTY       Errno = 55
	ENOTRECOVERABLE Errno = 56
	ENOTSOCK        Errno = 57
	ENOTSUP         Errno = 58
	ENOTTY          Errno = 59
	ENXIO           Errno = 60
	EOVERFLOW       Errno = 61
	EOWNERDEAD      Errno = 62
	EPERM           Errno = 63
	EPIPE           Errno = 64
	EPROTO          Errno = 65
	EPROTONOSUPPORT Errno = 66
	EPROTOTYPE      Errno = 67
	ERANGE          Errno = 68
	EROFS           Errno = 69
	ESPIPE          Errno = 70
	ESRCH           Errno = 71
	ESTALE          Errno = 72
	ETIMEDOUT       Errno = 73
	ETXTBSY         Errno = 74
	EXDEV           Errno = 75
	ENOTCAPABLE     Errno = 76
)

// hostErrno maps Linux errnos to WASI's (0: no WASI counterpart). An array
// with constant indices is static data: no map to build at start-up, and no
// hashing on the error paths of hot calls (EAGAIN).
var hostErrno = [unix.EHWPOISON + 1]Errno{
	unix.E2BIG: E2BIG, unix.EACCES: EACCES, unix.EADDRINUSE: EADDRINUSE,
	unix.EADDRNOTAVAIL: EADDRNOTAVAIL, unix.EAFNOSUPPORT: EAFNOSUPPORT, unix.EAGAIN: EAGAIN,
	unix.EALREADY: EALREADY, unix.EBADF: EBADF, unix.EBADMSG: EBADMSG, unix.EBUSY: EBUSY,
	unix.ECANCELED: ECANCELED, unix.ECHILD: ECHILD, unix.ECONNABORTED: ECONNABORTED,
	unix.ECONNREFUSED: ECONNREFUSED, unix.ECONNRESET: ECONNRESET, unix.EDEADLK: EDEADLK,
	unix.EDESTADDRREQ: EDESTADDRREQ, unix.EDOM: EDOM, unix.EDQUOT: EDQUOT, unix.EEXIST: EEXIST,
	unix.EFAULT: EFAULT, unix.EFBIG: EFBIG, unix.EHOSTUNREACH: EHOSTUNREACH, unix.EIDRM: EIDRM,
	unix.EILSEQ: EILSEQ, unix.EINPROGRESS: EINPROGRESS, unix.EINTR: EINTR, unix.EINVAL: EINVAL,
	unix.EIO: EIO, unix.EISCONN: EISCONN, unix.EISDIR: EISDIR, unix.ELOOP: ELOOP,
	unix.EMFILE: EMFILE, unix.EMLINK: EMLINK, unix.EMSGSIZE: EMSGSIZE, unix.EMULTIHOP: EMULTIHOP,
	unix.ENAMETOOLONG: ENAMETOOLONG, unix.ENETDOWN: ENETDOWN, unix.ENETRESET: ENETRESET,
	unix.ENETUNREACH: ENETUNREACH, unix.ENFILE: ENFILE, unix.ENOBUFS: ENOBUFS, unix.ENODEV: ENODEV,
	unix.ENOENT: ENOENT, unix.ENOEXEC: ENOEXEC, unix.ENOLCK: ENOLCK, unix.ENOLINK: ENOLINK,
	unix.ENOMEM: ENOMEM, unix.ENOMSG: ENOMSG, unix.ENOPROTOOPT: ENOPROTOOPT, unix.ENOSPC: ENOSPC,
	unix.ENOSYS: ENOSYS, unix.ENOTCONN: ENOTCONN, unix.ENOTDIR: ENOTDIR, unix.ENOTEMPTY: ENOTEMPTY,
	unix.ENOTRECOVERABLE: ENOTRECOVERABLE, unix.ENOTSOCK: ENOTSOCK, unix.EOPNOTSUPP: ENOTSUP,
	unix.ENOTTY: ENOTTY, unix.ENXIO: ENXIO, unix.EOVERFLOW: EOVERFLOW, unix.EOWNERDEAD: EOWNERDEAD,
	unix.EPERM: EPERM, unix.EPIPE: EPIPE, unix.EPROTO: EPROTO, unix.EPROTONOSUPPORT: EPROTONOSUPPORT,
	unix.EPROTOTYPE: EPROTOTYPE, unix.ERANGE: ERANGE, unix.EROFS: EROFS, unix.ESPIPE: ESPIPE,
	unix.ESRCH: ESRCH, unix.ESTALE: ESTALE, unix.ETIMEDOUT: ETIMEDOUT, unix.ETXTBSY: ETXTBSY,
	unix.EXDEV: EXDEV,
}

// fromHost maps a host errno to WASI's; one without a counterpart is EIO.
func fromHost(e syscall.Errno) Errno {
	if uint(e) < uint(len(hostErrno)) {
		if w := hostErrno[e]; w != 0 {
			return w
		}
	}
	return EIO
}

// ErrnoOf maps a host error to a WASI errno. nil maps to ESUCCESS; an error
// that carries no host errno maps to EIO.
func ErrnoOf(err error) Errno {
	// The common shapes first, without errors.As's reflection.
	switch e := err.(type) {
	case nil:
		return ESUCCESS
	case syscall.Errno:
		return fromHost(e)
	case Errno:
		return e
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return fromHost(se)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ENOENT
	case errors.Is(err, fs.ErrExist):
		return EEXIST
	case errors.Is(err, fs.ErrPermission):
		return EPERM
	case errors.Is(err, os.ErrClosed):
		return EBADF
	case errors.Is(err, io.ErrClosedPipe):
		return EPIPE
	}
	return EIO
}

// Error makes Errno usable as a Go error.
func (e Errno) Error() string { return "wasi errno " + itoa(int(e)) }

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
