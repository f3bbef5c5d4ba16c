// Package trace records the host calls of a guest: one Event per call, with
// its arguments decoded from guest memory, its errno and out-values, and the
// time it took. It is installed as the system's host-function wrapper
// (sys.System.Wrap) before the host modules are built, so a guest that is not
// traced runs exactly the functions it would run without this package.
package trace

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// Category is a set of kinds of host calls.
type Category uint16

// Categories of host calls.
const (
	FS Category = 1 << iota
	Net
	Poll
	Proc
	Thread
	Signal
	Clock
	Random
	Mem
	All = FS | Net | Poll | Proc | Thread | Signal | Clock | Random | Mem
)

var categoryNames = []struct {
	c    Category
	name string
}{
	{FS, "fs"}, {Net, "net"}, {Poll, "poll"}, {Proc, "proc"}, {Thread, "thread"},
	{Signal, "signal"}, {Clock, "clock"}, {Random, "random"}, {Mem, "mem"},
}

// String names the categories in c, comma separated ("all" for All).
func (c Category) String() string {
	if c == All {
		return "all"
	}
	var names []string
	for _, n := range categoryNames {
		if c&n.c != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// ParseCategories parses "fs,net" (or "all", or "") into a Category.
func ParseCategories(s string) (Category, error) {
	if s == "" || s == "all" || s == "true" {
		return All, nil
	}
	var c Category
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		found := false
		for _, n := range categoryNames {
			if n.name == part {
				c |= n.c
				found = true
			}
		}
		if part == "all" {
			c, found = All, true
		}
		if !found {
			return 0, fmt.Errorf("unknown trace category %q (want fs, net, poll, proc, thread, signal, clock, random, mem or all)", part)
		}
	}
	return c, nil
}

// CategoryOf returns the category of the host function name.
func CategoryOf(name string) Category {
	switch name {
	case "poll_oneoff", "epoll_create", "epoll_ctl", "epoll_wait":
		return Poll
	case "proc_raise", "proc_signal", "proc_raise_interval", "proc_raise_interval2", "proc_signals_sizes_get",
		"proc_signals_get", "thread_signal", "callback_signal", "signal":
		return Signal
	case "random_get":
		return Random
	case "resolve":
		return Net
	case "getcwd", "chdir", "fd_pipe", "fd_event":
		return FS
	case "thread-spawn", "thread_spawn":
		return Thread
	case "stack_checkpoint", "stack_restore", "memory.grow":
		return Mem
	}
	for _, p := range []struct {
		prefix string
		c      Category
	}{
		{"fd_", FS}, {"path_", FS}, {"tty_", FS}, {"sock_", Net}, {"port_", Net},
		{"thread_", Thread}, {"futex_", Thread}, {"context_", Thread}, {"clock_", Clock},
	} {
		if strings.HasPrefix(name, p.prefix) {
			return p.c
		}
	}
	return Proc
}

// Event is one host call, or a memory growth seen between calls (Func
// "memory.grow", category Mem).
type Event struct {
	// Time is when the call began; Since is the same as the time since the
	// tracer started (about the process start).
	Time     time.Time
	Since    time.Duration
	Duration time.Duration
	Thread   uint32 // guest thread id (1 = main)
	// Process is the guest process's pid (1 = the first; 0 when the guest
	// has no process table yet, which is the first process too).
	Process  uint32
	Module   string // import module: wasi_snapshot_preview1, wasix_32v1, wasi, ...
	Func     string
	Category Category
	// Args are the decoded arguments: "fd=3</data> path=\"x\" oflags=CREAT".
	Args string
	// HasErrno is set for functions that return an errno, in Errno.
	HasErrno bool
	Errno    uint16
	// Results are the decoded out-values of a call ("fd=4", "nread=12").
	Results string
	// Denied: the network policy refused the call (Errno is EACCES).
	Denied bool
	// Unwound: the call did not return to the guest (proc_exit, thread_exit,
	// or the process ended while it waited).
	Unwound bool
	// BytesRead and BytesWritten are the bytes moved by a read or write
	// call (fd_read, fd_pwrite, sock_recv, ...).
	BytesRead, BytesWritten uint64
	// ThreadSpawned: the call created a thread.
	ThreadSpawned bool
	// MemoryPages is the size of the caller's memory after the call.
	MemoryPages uint32
}

// ErrnoName is the name of e.Errno ("ENOENT"), or "" without an errno.
func (e Event) ErrnoName() string {
	if !e.HasErrno {
		return ""
	}
	return ErrnoName(e.Errno)
}

// String formats e as one line (without newline):
//
//	0.001234 [1] path_open(fd=3</data> ... path="x") = ENOENT <12µs>
func (e Event) String() string {
	var b strings.Builder
	if e.Process > 1 {
		// another process of the guest's tree: [pid:tid]
		fmt.Fprintf(&b, "%d.%06d [%d:%d] %s(%s)", int64(e.Since/time.Second), int64(e.Since%time.Second/time.Microsecond), e.Process, e.Thread, e.Func, e.Args)
	} else {
		fmt.Fprintf(&b, "%d.%06d [%d] %s(%s)", int64(e.Since/time.Second), int64(e.Since%time.Second/time.Microsecond), e.Thread, e.Func, e.Args)
	}
	if e.Func == "memory.grow" {
		return b.String()
	}
	switch {
	case e.Unwound:
		b.WriteString(" = (did not return)")
	case e.HasErrno:
		b.WriteString(" = " + e.ErrnoName())
	default:
		b.WriteString(" =")
	}
	if e.Results != "" {
		b.WriteString(" " + e.Results)
	}
	if e.Denied {
		b.WriteString(" (denied by --net/--net-allow)")
	}
	fmt.Fprintf(&b, " <%s>", e.Duration.Round(time.Microsecond/10))
	return b.String()
}

// Hook receives the events of the categories it asks for (0 = all). It is
// called from the guest's threads, concurrently, after each call.
type Hook struct {
	Categories Category
	Func       func(Event)
}

// Tracer decodes and dispatches the host calls of one guest process.
type Tracer struct {
	sys   *sys.System
	hooks []Hook
	cats  Category
	start time.Time

	// fds remembers the guest path each fd was opened with, and the object,
	// so that a stale entry (the fd closed and reused) is never shown.
	mu  sync.Mutex
	fds map[uint32]fdPath

	pages *atomic.Uint32 // largest memory size seen, in pages (by every process)
}

type fdPath struct {
	file sys.File
	path string
}

// New returns a tracer for s that calls hooks. Install it with Install
// before the host modules are built.
func New(s *sys.System, hooks ...Hook) *Tracer {
	t := &Tracer{sys: s, start: time.Now(), fds: map[uint32]fdPath{}, pages: new(atomic.Uint32)}
	for _, h := range hooks {
		if h.Func == nil {
			continue
		}
		if h.Categories == 0 {
			h.Categories = All
		}
		t.hooks = append(t.hooks, h)
		t.cats |= h.Categories
	}
	return t
}

// Install makes t wrap the host functions of s built from now on. A tracer
// without hooks installs nothing.
func (t *Tracer) Install() {
	if len(t.hooks) > 0 {
		t.sys.Wrap = t.Wrap
		t.sys.WrapFor = t.forProcess
	}
}

// forProcess returns the wrapper for a process made from t's (fork, exec,
// spawn): the same hooks and clock, and that process's pid, threads and
// fds (the paths t knows are copied: a child inherits its fds).
func (t *Tracer) forProcess(s *sys.System) sys.HostWrapper {
	c := &Tracer{sys: s, start: t.start, hooks: t.hooks, cats: t.cats, fds: map[uint32]fdPath{}, pages: t.pages}
	t.mu.Lock()
	for fd, p := range t.fds {
		c.fds[fd] = p
	}
	t.mu.Unlock()
	return c.Wrap
}

// PeakPages is the largest memory size seen at a host call (or given to
// NotePages), in 64 KiB pages.
func (t *Tracer) PeakPages() uint32 { return t.pages.Load() }

// NotePages records a memory size seen outside a call (at exit), emitting a
// memory.grow event if it grew.
func (t *Tracer) NotePages(pages uint32, thread uint32) {
	t.notePages(pages, thread)
}

func (t *Tracer) notePages(pages, thread uint32) {
	for {
		old := t.pages.Load()
		if pages <= old {
			return
		}
		if t.pages.CompareAndSwap(old, pages) {
			if old != 0 {
				now := time.Now()
				t.emit(Event{Time: now, Since: now.Sub(t.start), Thread: thread, Module: "memory", Func: "memory.grow",
					Category: Mem, Args: fmt.Sprintf("%d -> %d pages", old, pages), MemoryPages: pages})
			}
			return
		}
	}
}

func (t *Tracer) emit(e Event) {
	for _, h := range t.hooks {
		if h.Categories&e.Category != 0 {
			h.Func(e)
		}
	}
}

// Wrap returns f wrapped so that each call becomes an Event; f itself when
// no hook wants the function's category. It has the sys.HostWrapper type.
func (t *Tracer) Wrap(module, name string, params, results []api.ValueType, f api.GoModuleFunc) api.GoModuleFunc {
	cat := CategoryOf(name)
	if t.cats&(cat|Mem) == 0 {
		return f
	}
	d := decoderFor(module, name, len(params))
	np := len(params)
	hasErrno := len(results) == 1 && module != "wasi"
	spawn := hasErrno && strings.HasPrefix(name, "thread_spawn")
	return func(ctx context.Context, m api.Module, stack []uint64) {
		c := call{t: t, m: m, module: module, args: make([]uint64, np)}
		copy(c.args, stack[:np])
		for i, p := range params {
			if p == api.ValueTypeI32 {
				// The upper half of an i32 slot is not the guest's.
				c.args[i] = uint64(uint32(c.args[i]))
			}
		}
		if m != nil {
			c.mem = m.Memory()
		}
		ev := Event{Module: module, Func: name, Category: cat, Process: t.sys.Pid, Thread: t.sys.TidOf(m), HasErrno: hasErrno}
		wanted := t.cats&cat != 0
		if wanted {
			ev.Args = c.safe(d.pre)
		}
		if c.mem != nil {
			// Before the call too: proc_exit does not return.
			t.notePages(c.mem.Size()/65536, ev.Thread)
		}
		denied := t.sys.Denied.Total()
		ev.Time = time.Now()
		done := false
		defer func() {
			if done {
				return
			}
			// The call unwound the thread (proc_exit, thread_exit, the
			// process ending): report it without recovering anything.
			if wanted {
				ev.Duration = time.Since(ev.Time)
				ev.Since = ev.Time.Sub(t.start)
				ev.Unwound = true
				ev.HasErrno = false
				t.emit(ev)
			}
		}()
		f(ctx, m, stack)
		done = true
		ev.Duration = time.Since(ev.Time)
		ev.Since = ev.Time.Sub(t.start)
		if c.mem != nil {
			t.notePages(c.mem.Size()/65536, ev.Thread)
			ev.MemoryPages = c.mem.Size() / 65536
		}
		if !wanted {
			return
		}
		if hasErrno {
			ev.Errno = uint16(stack[0])
			ev.Denied = ev.Errno == uint16(sys.EACCES) && t.sys.Denied.Total() != denied
		}
		c.ev = &ev
		c.results = stack[:len(results)]
		ev.Results = c.safe(d.post)
		if spawn && ev.Errno == 0 {
			ev.ThreadSpawned = true // every form, the 2022 ones too
		}
		t.emit(ev)
	}
}
