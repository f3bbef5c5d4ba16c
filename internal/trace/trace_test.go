package trace

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wazix/wazix/internal/sys"
)

func TestParseCategories(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Category
		err  bool
	}{
		{"", All, false}, {"all", All, false}, {"true", All, false},
		{"fs", FS, false}, {"fs,net", FS | Net, false}, {" poll , mem ", Poll | Mem, false},
		{"fs,all", All, false}, {"disk", 0, true}, {"fs,", 0, true},
	} {
		got, err := ParseCategories(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseCategories(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
	if s := (FS | Net).String(); s != "fs,net" {
		t.Errorf("String = %q", s)
	}
}

func TestCategoryOf(t *testing.T) {
	for name, want := range map[string]Category{
		"path_open": FS, "fd_read": FS, "fd_pipe": FS, "getcwd": FS, "sock_connect": Net, "resolve": Net,
		"poll_oneoff": Poll, "epoll_wait": Poll, "proc_exit": Proc, "args_get": Proc, "thread_spawn_v2": Thread,
		"thread-spawn": Thread, "futex_wait": Thread, "thread_signal": Signal, "proc_raise": Signal,
		"clock_time_get": Clock, "random_get": Random, "stack_checkpoint": Mem, "sock_send_msg": Net,
	} {
		if got := CategoryOf(name); got != want {
			t.Errorf("CategoryOf(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ErrnoName(0), "ESUCCESS"}, {ErrnoName(44), "ENOENT"}, {ErrnoName(76), "ENOTCAPABLE"}, {ErrnoName(300), "errno(300)"},
		{flagNames(9, oflagNames), "CREAT|TRUNC"}, {flagNames(0, oflagNames), "0"}, {flagNames(0x21, oflagNames), "CREAT|0x20"},
		{rightsString(1<<30 - 1), "ALL"}, {rightsString(1<<31 | 1<<30 - 1), "ALL|0x80000000"}, {rightsString(2 | 64), "FD_READ|FD_WRITE"}, {rightsString(1<<30 - 1 - 64 - 1), "ALL&~(FD_DATASYNC|FD_WRITE)"},
		{enumName(1, clockNames), "MONOTONIC"}, {enumName(9, clockNames), "9"},
		{nsString(^uint64(0)), "inf"}, {nsString(1500), "1.5µs"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// Every spec parses and names only known kinds.
func TestSpecs(t *testing.T) {
	for name, spec := range specs() {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", name, r)
				}
			}()
			parseSpec(spec)
		}()
	}
	// A function without a decoder (or with another signature) shows its
	// raw arguments.
	c := &call{args: []uint64{3, 0x10}}
	if got := decoderFor("wasix_32v1", "sock_send_msg", 2).pre(c); got != "0x3, 0x10" {
		t.Errorf("raw args %q", got)
	}
	if got := decoderFor("wasix_32v1", "sock_accept", 4).pre(&call{t: New(&sys.System{Table: sys.NewTable(0)}), args: []uint64{3, 4, 0, 0}}); got != "fd=3 flags=NONBLOCK" {
		t.Errorf("sock_accept/4: %q", got)
	}
	if got := decoderFor("wasix_32v1", "fd_close", 2).pre(c); got != "0x3, 0x10" {
		t.Errorf("mismatched signature %q", got)
	}
}

func TestEventString(t *testing.T) {
	e := Event{Since: 1234567 * time.Microsecond, Thread: 2, Func: "sock_connect", Args: "fd=3<sock> addr=10.0.0.1:80",
		HasErrno: true, Errno: 2, Denied: true, Duration: 12 * time.Microsecond}
	if s := e.String(); s != "1.234567 [2] sock_connect(fd=3<sock> addr=10.0.0.1:80) = EACCES (denied by --net/--net-allow) <12µs>" {
		t.Errorf("%q", s)
	}
	e = Event{Func: "fd_read", Args: "fd=0<chr> iovs=1/10B", HasErrno: true, Results: "nread=4", Duration: time.Millisecond}
	if s := e.String(); s != "0.000000 [0] fd_read(fd=0<chr> iovs=1/10B) = ESUCCESS nread=4 <1ms>" {
		t.Errorf("%q", s)
	}
}

func TestStats(t *testing.T) {
	s := NewStats()
	s.Add(Event{Func: "fd_read", HasErrno: true, BytesRead: 10, Duration: time.Millisecond, MemoryPages: 3})
	s.Add(Event{Func: "fd_read", HasErrno: true, Errno: 6, Duration: time.Millisecond})
	s.Add(Event{Func: "fd_write", HasErrno: true, BytesWritten: 7, Duration: 3 * time.Millisecond})
	s.Add(Event{Func: "thread-spawn", Module: "wasi", ThreadSpawned: true})
	s.Add(Event{Func: "thread-spawn", Module: "wasi"}) // failed
	s.Add(Event{Func: "memory.grow", MemoryPages: 9})
	f := s.Funcs()
	if len(f) != 3 || f[0].Name != "fd_write" || f[1] != (FuncStats{Name: "fd_read", Calls: 2, Errors: 1, Time: 2 * time.Millisecond}) ||
		f[2].Calls != 2 || f[2].Errors != 1 {
		t.Errorf("funcs %+v", f)
	}
	sum := s.Totals()
	if sum != (Summary{BytesRead: 10, BytesWritten: 7, ThreadsCreated: 1, PeakPages: 9}) {
		t.Errorf("totals %+v", sum)
	}
	var b bytes.Buffer
	s.WriteTable(&b, sum)
	for _, want := range []string{"  fd_read                              2       1          2ms        1ms\n", "  total                                5       2          5ms\n",
		"bytes read 10, written 7\n", "peak memory 9 pages (576 KiB)\n", "threads created 1, processes created 0\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
