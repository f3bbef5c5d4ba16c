package wasi_p1_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
	"github.com/wazix/wazix/internal/testtools"
)

// cpuTime returns this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestHTTPServer runs a Go net/http server that takes its listener from fd 3
// and talks to it with a real Go HTTP client on loopback. While idle, the
// guest must not burn CPU: poll_oneoff really waits.
func TestHTTPServer(t *testing.T) {
	wasm := fixtures.Build(t, "go/httpserver")
	addrc := make(chan string, 1)
	done := make(chan testrun.Result, 1)
	go func() {
		done <- testrun.Run(t, wasm, testrun.Options{
			Listen:  []string{"127.0.0.1:0"},
			Started: func(h *wazix.Host) { addrc <- h.ListenAddrs()[0] },
		})
	}()
	base := "http://" + <-addrc
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) string {
		t.Helper()
		var lastErr error
		for i := 0; i < 100; i++ {
			resp, err := client.Get(base + path)
			if err != nil {
				lastErr = err
				time.Sleep(50 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		t.Fatalf("GET %s: %v", path, lastErr)
		return ""
	}
	if got := get("/hello"); got != "hello\n" {
		t.Fatalf("/hello = %q", got)
	}
	resp, err := client.Post(base+"/echo", "text/plain", strings.NewReader(strings.Repeat("x", 100000)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != 100000 {
		t.Fatalf("/echo returned %d bytes", len(b))
	}

	// Concurrent requests, one of them slow: the others are served meanwhile.
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := get("/hello"); got != "hello\n" {
				errs <- got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent /hello = %q", e)
	}

	// Idle: keep-alive connections open, nothing to do.
	client.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	// Give back what compiling and serving allocated, so that the
	// runtime's background scavenger does not run in the window.
	debug.FreeOSMemory()
	before := cpuTime()
	time.Sleep(time.Second)
	if used := cpuTime() - before; used > 100*time.Millisecond && !testtools.RaceEnabled {
		t.Errorf("idle server used %v of CPU in 1s", used)
	}

	get("/exit")
	select {
	case r := <-done:
		if r.Err != nil || r.Code != 0 {
			t.Fatalf("server exit: code %d err %v stderr %s", r.Code, r.Err, r.Stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit after /exit")
	}
}

// TestCSocket drives the C socket fixture: blocking accept, then nonblocking
// accept with poll, peek and waitall receives, send, shutdown.
func TestCSocket(t *testing.T) {
	wasm := fixtures.Build(t, "c/sock")
	for _, mode := range []string{"blocking", "nonblock"} {
		t.Run(mode, func(t *testing.T) {
			addrc := make(chan string, 1)
			done := make(chan testrun.Result, 1)
			go func() {
				done <- testrun.Run(t, wasm, testrun.Options{
					Args:    []string{mode, "2", "5"},
					Listen:  []string{"127.0.0.1:0"},
					Started: func(h *wazix.Host) { addrc <- h.ListenAddrs()[0] },
				})
			}()
			addr := <-addrc
			if mode == "nonblock" {
				time.Sleep(300 * time.Millisecond) // let the early accept see EAGAIN
			}
			for i := 0; i < 2; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				// Send in two pieces: MSG_WAITALL must gather both.
				c.Write([]byte("he"))
				time.Sleep(20 * time.Millisecond)
				c.Write([]byte("llo"))
				b, err := io.ReadAll(c)
				if err != nil || string(b) != "hello" {
					t.Fatalf("echo = %q, %v", b, err)
				}
				c.Close()
			}
			var r testrun.Result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("guest did not finish")
			}
			if r.Code != 0 || r.Err != nil {
				t.Fatalf("code %d err %v\n%s", r.Code, r.Err, r.Stdout)
			}
			out := r.Stdout
			for _, want := range []string{"accept 1 ok", "recv 1 n=5 data=hello", "send 2 n=5", "shutdown 2 ret=0", "eof 2 n=0", "done"} {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
			if mode == "nonblock" && !strings.Contains(out, "early_accept errno=6\n") {
				t.Errorf("nonblocking accept with no client should give EAGAIN:\n%s", out)
			}
		})
	}
}

// openFds counts this process's open fds.
func openFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestExitWhileBlocked cancels a guest blocked in poll_oneoff that holds a
// listening socket and an accepted connection: Run returns, and no fd or
// goroutine is left behind.
func TestExitWhileBlocked(t *testing.T) {
	wasm := fixtures.Build(t, "go/httpserver")
	fdsBefore := openFds(t)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan testrun.Result, 1)
	go func() {
		done <- testrun.Run(t, wasm, testrun.Options{
			Ctx:     ctx,
			Listen:  []string{"127.0.0.1:0"},
			Started: func(h *wazix.Host) { addrc <- h.ListenAddrs()[0] },
		})
	}()
	addr := <-addrc
	var conn net.Conn
	for i := 0; i < 100; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Write([]byte("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
			buf := make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.Read(buf); err == nil && strings.Contains(string(buf[:n]), "hello") {
				conn = c
				break
			}
			c.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if conn == nil {
		t.Fatal("server never answered")
	}
	defer conn.Close()
	time.Sleep(100 * time.Millisecond) // the guest is now blocked in poll_oneoff
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("canceled guest did not stop")
	}
	// The server side of the connection was closed with the guest.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after the guest stopped")
	}
	conn.Close()
	deadline := time.Now().Add(3 * time.Second)
	for openFds(t) > fdsBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := openFds(t); n > fdsBefore {
		t.Errorf("fds: %d before, %d after", fdsBefore, n)
	}
}

// TestNoGoroutineLeak cancels guests blocked in poll_oneoff (a sleeping Go
// guest holding a listening socket) and checks that the goroutines the host
// started are all gone afterwards.
func TestNoGoroutineLeak(t *testing.T) {
	wasm := fixtures.Build(t, "go/sleep")
	settle := func() int {
		n := runtime.NumGoroutine()
		for i := 0; i < 100; i++ {
			time.Sleep(10 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n {
				return n
			}
			n = m
		}
		return n
	}
	// Warm up once so that lazily started runtime goroutines are not counted.
	for round := 0; round < 2; round++ {
		before := settle()
		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			started := &firstWrite{ch: make(chan struct{})}
			go func() {
				testrun.Run(t, wasm, testrun.Options{Ctx: ctx, Args: []string{"forever"}, Listen: []string{"127.0.0.1:0"}, Stdout: started})
				close(done)
			}()
			<-started.ch // the guest printed "sleeping": it is about to block
			time.Sleep(50 * time.Millisecond)
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("canceled guest did not stop")
			}
		}
		if after := settle(); round == 1 && after > before {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
		}
	}
}

// firstWrite closes ch at the first write.
type firstWrite struct {
	once sync.Once
	ch   chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.ch) })
	return len(p), nil
}
