package trace

import (
	"math/bits"
	"strconv"
	"strings"
	"sync"

	"github.com/wazix/wazix/internal/sys"
)

// errnoNames are the WASI errno names, by value.
var errnoNames = [...]string{
	"ESUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "EAGAIN",
	"EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD", "ECONNABORTED", "ECONNREFUSED",
	"ECONNRESET", "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG",
	"EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO", "EISCONN", "EISDIR",
	"ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP", "ENAMETOOLONG", "ENETDOWN", "ENETRESET",
	"ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV", "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM",
	"ENOMSG", "ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY",
	"ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO", "EOVERFLOW", "EOWNERDEAD", "EPERM",
	"EPIPE", "EPROTO", "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH",
	"ESTALE", "ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE",
}

// ErrnoName returns the name of a WASI errno ("ENOENT"), or its number.
func ErrnoName(e uint16) string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "errno(" + strconv.Itoa(int(e)) + ")"
}

// bitName names one bit of a flag set.
type bitName struct {
	bit  uint64
	name string
}

// flagNames renders v as NAME|NAME, with unknown bits in hex; 0 is "0".
func flagNames(v uint64, names []bitName) string {
	if v == 0 {
		return "0"
	}
	var b strings.Builder
	for _, n := range names {
		if v&n.bit != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n.name)
			v &^= n.bit
		}
	}
	if v != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x" + strconv.FormatUint(v, 16))
	}
	return b.String()
}

// enumName renders v as names[v], or its number.
func enumName(v uint64, names []string) string {
	if v < uint64(len(names)) && names[v] != "" {
		return names[v]
	}
	return strconv.FormatUint(v, 10)
}

var (
	lookupNames  = []bitName{{1, "SYMLINK_FOLLOW"}}
	oflagNames   = []bitName{{1, "CREAT"}, {2, "DIRECTORY"}, {4, "EXCL"}, {8, "TRUNC"}}
	fdflagNames  = []bitName{{1, "APPEND"}, {2, "DSYNC"}, {4, "NONBLOCK"}, {8, "RSYNC"}, {16, "SYNC"}}
	fstflagNames = []bitName{{1, "ATIM"}, {2, "ATIM_NOW"}, {4, "MTIM"}, {8, "MTIM_NOW"}}
	riflagNames  = []bitName{{1, "RECV_PEEK"}, {2, "RECV_WAITALL"}, {4, "RECV_DATA_TRUNCATED"}, {8, "RECV_DONTWAIT"}}
	sdflagNames  = []bitName{{1, "RD"}, {2, "WR"}}
	// WASIX fdflagsext.
	fdflagextNames = []bitName{{1, "CLOEXEC"}}
	// WASIX epoll_type bits (not Linux's values).
	epollNames = []bitName{{1, "IN"}, {2, "OUT"}, {4, "RDHUP"}, {8, "PRI"}, {16, "ERR"}, {32, "HUP"}, {64, "ET"}, {128, "ONESHOT"}}
	// poll_oneoff event flags.
	eventrwNames  = []bitName{{1, "HANGUP"}}
	sockTypeNames = []bitName{{0x4000, "NONBLOCK"}, {0x2000, "CLOEXEC"}}

	clockNames  = []string{"REALTIME", "MONOTONIC", "PROCESS_CPUTIME", "THREAD_CPUTIME"}
	whenceNames = []string{"SET", "CUR", "END"}
	// wasi_unstable numbers whence differently.
	whenceUnstableNames = []string{"CUR", "END", "SET"}
	adviceNames         = []string{"NORMAL", "SEQUENTIAL", "RANDOM", "WILLNEED", "DONTNEED", "NOREUSE"}
	afNames             = []string{"UNSPEC", "INET4", "INET6", "UNIX"}
	sockKindNames       = []string{"", "STREAM", "DGRAM", "RAW", "SEQPACKET"}
	signalNames         = []string{"0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
		"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGCHLD",
		"SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM",
		"SIGPROF", "SIGWINCH", "SIGPOLL", "SIGPWR", "SIGSYS"}
	filetypeNames  = []string{"unknown", "blk", "chr", "dir", "file", "dgram", "sock", "link"}
	eventTypeNames = []string{"clock", "fd_read", "fd_write"}
)

// rightNames are the preview1 rights, by bit.
var rightNames = sync.OnceValue(func() []bitName {
	names := []string{"FD_DATASYNC", "FD_READ", "FD_SEEK", "FD_FDSTAT_SET_FLAGS", "FD_SYNC", "FD_TELL",
		"FD_WRITE", "FD_ADVISE", "FD_ALLOCATE", "PATH_CREATE_DIRECTORY", "PATH_CREATE_FILE",
		"PATH_LINK_SOURCE", "PATH_LINK_TARGET", "PATH_OPEN", "FD_READDIR", "PATH_READLINK",
		"PATH_RENAME_SOURCE", "PATH_RENAME_TARGET", "PATH_FILESTAT_GET", "PATH_FILESTAT_SET_SIZE",
		"PATH_FILESTAT_SET_TIMES", "FD_FILESTAT_GET", "FD_FILESTAT_SET_SIZE", "FD_FILESTAT_SET_TIMES",
		"PATH_SYMLINK", "PATH_REMOVE_DIRECTORY", "PATH_UNLINK_FILE", "POLL_FD_READWRITE",
		"SOCK_SHUTDOWN", "SOCK_ACCEPT"}
	out := make([]bitName, len(names))
	for i, n := range names {
		out[i] = bitName{1 << i, n}
	}
	return out
})

// rightsString names a rights set: every preview1 right is "ALL", and a set
// with most of them is shown by what it lacks, "ALL&~(FD_WRITE|...)", which
// keeps the lines of guests that ask for broad rights readable.
func rightsString(r uint64) string {
	all := uint64(sys.RightsAll)
	rest := ""
	if extra := r &^ all; extra != 0 {
		rest = "|0x" + strconv.FormatUint(extra, 16)
	}
	switch {
	case r&all == all:
		return "ALL" + rest
	case bits.OnesCount64(r&all) > 15:
		return "ALL&~(" + flagNames(all&^r, rightNames()) + ")" + rest
	}
	return flagNames(r, rightNames())
}
