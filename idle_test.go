package wazix_test

import (
	"bytes"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// lineWriter collects a guest's stdout and announces every complete line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	all   []string
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 64)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // incomplete: keep it for the next write
			return len(p), nil
		}
		line = strings.TrimSuffix(line, "\n")
		w.all = append(w.all, line)
		select {
		case w.lines <- line:
		default: // nobody waits for this many lines; all keeps them
		}
	}
}

// waitLine waits for a line with prefix and returns it.
func (w *lineWriter) waitLine(t *testing.T, name, prefix string, d time.Duration) (string, bool) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case l := <-w.lines:
			if strings.HasPrefix(l, prefix) {
				return l, true
			}
		case <-timer.C:
			t.Errorf("%s: no %q line within %v", name, prefix, d)
			return "", false
		}
	}
}

// idleWaiter is one guest blocked in the host, and how to wake it.
type idleWaiter struct {
	name    string
	fixture string
	args    []string
	stdin   bool     // give it a pipe as stdin; the wake writes a line to it
	tty     *os.File // or this terminal (pw is its master side)
	listen  bool     // give it a listener at fd 3
	connect bool     // connect once it runs (its "sock" wait accepts first)
	// wake: "stdin" writes a line, "connect" dials the listener, "send"
	// writes on the connection made at start.
	wake string
	// woke is the prefix of the line the guest prints when its wait ends.
	woke string

	out    *lineWriter
	pw     *os.File
	addr   string
	conn   net.Conn
	result chan testrun.Result
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Every kind of guest wait costs no CPU while nothing happens, and ends
// within milliseconds when its event comes. The waiters run at once, in this
// process, and the process's own CPU time over the idle window must stay
// under 2% of a core: a single guest spinning in its wait (or a host loop
// behind it) uses far more.
func TestIdleWaitersUseNoCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU over seconds")
	}
	waiters := []*idleWaiter{
		{name: "poll_oneoff pipe", fixture: "c/wasix_idle", args: []string{"poll", "pipe"}, stdin: true, wake: "stdin", woke: "woke poll revents=0x1"},
		{name: "poll_oneoff listener", fixture: "c/wasix_idle", args: []string{"poll", "listen"}, listen: true, wake: "connect", woke: "woke poll revents=0x1"},
		{name: "poll_oneoff socket", fixture: "c/wasix_idle", args: []string{"poll", "sock"}, listen: true, connect: true, wake: "send", woke: "woke poll revents=0x1"},
		{name: "epoll_wait pipe", fixture: "c/wasix_idle", args: []string{"epoll", "pipe"}, stdin: true, wake: "stdin", woke: "woke epoll n=1 events=0x1 fd=0"},
		{name: "epoll_wait listener", fixture: "c/wasix_idle", args: []string{"epoll", "listen"}, listen: true, wake: "connect", woke: "woke epoll n=1 events=0x1 fd=3"},
		{name: "epoll_wait socket", fixture: "c/wasix_idle", args: []string{"epoll", "sock"}, listen: true, connect: true, wake: "send", woke: "woke epoll n=1 events=0x1"},
		// tokio's shape: the main thread in mio's poll_oneoff selector (waker
		// and stall event fds never read, a 0 ns clock for "no timeout"),
		// workers parked in futex_wait with and without a timeout, one
		// blocked reading stdin that writes the waker.
		{name: "threads poll_oneoff eventfd + futexes", fixture: "wat/thread_idle", args: []string{"p"}, stdin: true, wake: "stdin", woke: "woke"},
		{name: "threads epoll_wait eventfd + futexes", fixture: "wat/thread_idle", args: []string{"e"}, stdin: true, wake: "stdin", woke: "woke"},
	}
	// A terminal as stdin: a character device we do not own, left blocking
	// on the host; readable once a line is typed.
	for _, w := range []*idleWaiter{
		{name: "poll_oneoff tty", fixture: "c/wasix_idle", args: []string{"poll", "pipe"}, wake: "stdin", woke: "woke poll revents=0x1"},
		{name: "epoll_wait tty", fixture: "c/wasix_idle", args: []string{"epoll", "pipe"}, wake: "stdin", woke: "woke epoll n=1 events=0x1 fd=0"},
	} {
		master, slave, err := openPty()
		if err != nil {
			t.Logf("no tty waiters: %v", err)
			break
		}
		defer master.Close()
		defer slave.Close()
		w.tty, w.pw = slave, master
		waiters = append(waiters, w)
	}
	wasm := map[string][]byte{}
	for _, w := range waiters {
		if wasm[w.fixture] == nil {
			wasm[w.fixture] = fixtures.Build(t, w.fixture)
		}
	}

	for _, w := range waiters {
		w.out = newLineWriter()
		w.result = make(chan testrun.Result, 1)
		o := testrun.Options{Args: w.args, Stdout: w.out}
		if w.tty != nil {
			o.Stdin = w.tty
		}
		if w.stdin {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			defer pw.Close()
			o.Stdin, w.pw = pr, pw
		}
		addr := make(chan string, 1)
		if w.listen {
			o.Listen = []string{"127.0.0.1:0"}
			o.Started = func(h *wazix.Host) { addr <- h.ListenAddrs()[0] }
		}
		go func() { w.result <- testrun.Run(t, wasm[w.fixture], o) }()
		if w.listen {
			select {
			case w.addr = <-addr:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: not started", w.name)
			}
		}
		if w.connect {
			c, err := net.Dial("tcp", w.addr)
			if err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
			defer c.Close()
			w.conn = c
		}
	}
	for _, w := range waiters {
		if _, ok := w.out.waitLine(t, w.name, "ready", 30*time.Second); !ok {
			t.FailNow()
		}
	}

	// Let every thread reach its wait, then measure. Collect the garbage of
	// compiling the guests and return it to the OS first: a GC cycle or the
	// runtime's background scavenger in the window is not idle cost.
	time.Sleep(300 * time.Millisecond)
	debug.FreeOSMemory()
	const window = 2500 * time.Millisecond
	before, start := cpuTime(t), time.Now()
	time.Sleep(window)
	used, elapsed := cpuTime(t)-before, time.Since(start)
	share := float64(used) / float64(elapsed)
	t.Logf("idle: %v of CPU in %v (%.2f%% of a core) for %d waiters", used, elapsed.Round(time.Millisecond), 100*share, len(waiters))
	if share > 0.02 {
		t.Errorf("idle waiters used %v of CPU in %v (%.1f%% of a core), want < 2%%", used, elapsed, 100*share)
	}

	// Now wake each one and time it.
	for _, w := range waiters {
		start := time.Now()
		switch w.wake {
		case "stdin":
			if _, err := w.pw.Write([]byte("go\n")); err != nil {
				t.Fatal(err)
			}
		case "connect":
			c, err := net.Dial("tcp", w.addr)
			if err != nil {
				t.Errorf("%s: %v", w.name, err)
				continue
			}
			defer c.Close()
		case "send":
			if _, err := w.conn.Write([]byte("go")); err != nil {
				t.Fatal(err)
			}
		}
		line, ok := w.out.waitLine(t, w.name, "woke", 5*time.Second)
		took := time.Since(start)
		if !ok {
			continue
		}
		if !strings.HasPrefix(line, w.woke) {
			t.Errorf("%s: %q, want %q", w.name, line, w.woke)
		}
		// Generous for a loaded machine; an idle wait ends in well under
		// a millisecond.
		if took > time.Second {
			t.Errorf("%s: woke after %v", w.name, took)
		}
		t.Logf("%s: woke after %v", w.name, took)
	}

	for _, w := range waiters {
		var r testrun.Result
		select {
		case r = <-w.result:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: did not exit", w.name)
			continue
		}
		w.out.mu.Lock()
		all := strings.Join(w.out.all, " | ")
		w.out.mu.Unlock()
		if r.Err != nil || r.Code != 0 || t.Failed() {
			t.Errorf("%s: code %d err %v stdout %q stderr %q", w.name, r.Code, r.Err, all, r.Stderr)
		}
		if w.fixture != "wat/thread_idle" {
			continue
		}
		// The threaded guest: every worker woke, and the selector did not
		// loop (it waits once for the stall's report, once for the waker).
		w.out.mu.Lock()
		got := strings.Join(w.out.all, " ")
		w.out.mu.Unlock()
		for _, name := range []string{"A", "B", "R"} {
			if !strings.Contains(" "+got+" ", " "+name+" ") {
				t.Errorf("%s: worker %s did not report waking: %q", w.name, name, got)
			}
		}
		i := strings.Index(got, "waits ")
		if i < 0 {
			t.Errorf("%s: no waits line: %q", w.name, got)
			continue
		}
		n, _ := strconv.Atoi(strings.Fields(got[i+len("waits "):])[0])
		if n < 1 || n > 3 {
			t.Errorf("%s: the selector waited %d times, want 1 to 3", w.name, n)
		}
	}
}

// openPty opens a pseudo-terminal pair: the master side and the terminal.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}
