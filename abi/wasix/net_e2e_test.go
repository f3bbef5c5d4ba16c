package wasix_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
	"github.com/wazix/wazix/internal/testtools"
)

// lineWriter hands each complete stdout line of a guest to a channel, so a
// test can react to "listening PORT" while the guest runs.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
	all   strings.Builder
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 1024)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default:
		}
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// waitLine waits for a line starting with prefix and returns the rest.
func waitLine(t *testing.T, w *lineWriter, prefix string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-w.lines:
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix))
			}
		case <-timeout:
			t.Fatalf("no line %q; output so far:\n%s", prefix, w.String())
		}
	}
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// closedPort returns a loopback TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestTCPEcho runs the echo server guest and talks to it with the echo
// client guest (allowed by a --net-allow rule for exactly that port) and
// with a native Go client.
func TestTCPEcho(t *testing.T) {
	wasm := fixtures.Build(t, "c/net")
	out := newLineWriter()
	done := make(chan testrun.Result, 1)
	go func() {
		done <- testrun.Run(t, wasm, testrun.Options{Args: []string{"echo-server", "2"}, Net: true, Stdout: out})
	}()
	port := waitLine(t, out, "listening ")
	client := testrun.Run(t, wasm, testrun.Options{
		Args:     []string{"echo-client", port, "hello from a guest"},
		NetAllow: []string{"127.0.0.1/32:" + port},
	})
	if client.Code != 0 {
		t.Fatalf("client exit %d: %s %s", client.Code, client.Stdout, client.Stderr)
	}
	mustContain(t, client.Stdout, "open: 0", "connect: 0", "status: 1", "peer port ok: 1", "shutdown: 0",
		"echo: hello from a guest")

	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.Repeat("0123456789", 100000) // 1 MB: many partial sends and receives
	go func() {
		c.Write([]byte(msg))
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != msg {
		t.Fatalf("native client got %d bytes (%v), want %d", len(got), err, len(msg))
	}
	res := <-done
	if res.Code != 0 {
		t.Fatalf("server exit %d: %s", res.Code, out.String())
	}
	mustContain(t, out.String(), "bind: 0", "listen: 0", "peer 127.0.0.1", "served 18 (0)", "served 1000000 (0)")
}

func TestUDPRoundTrip(t *testing.T) {
	res := testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"udp"}, NetAllow: []string{"127.0.0.1"}})
	mustContain(t, res.Stdout, "open a: 0", "open b: 0", "type: 2", "bind a: 0", "bind b: 0", "send_to: 0 13",
		"recv_from: 0 13", "data: ping over udp", "from a: 1", "reply: 0", "recv reply: 0 4", "data: pong",
		"truncated: 0 4 roflags=1", "trunc length: 0 13 roflags=1", "empty: 6")
}

// TestConnectClosedPort: a nonblocking connect to a port nothing listens on
// must fail: EINPROGRESS, then sock_status FAILED and LAST_ERROR
// ECONNREFUSED; a blocking connect returns ECONNREFUSED.
func TestConnectClosedPort(t *testing.T) {
	port := strconv.Itoa(closedPort(t))
	res := testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"connect-closed", port}, Net: true})
	out := res.Stdout
	if strings.Contains(out, "connect: refused\n") {
		// The kernel may refuse at once on loopback; that is an error too.
		mustContain(t, out, "blocking connect: 14")
		return
	}
	mustContain(t, out, "open: 0", "connect: inprogress", "poll: 1 writable-or-error: 1", "status: 0 3",
		"error pending: 1", "last_error: 0 14", "blocking connect: 14")
}

// TestPortProbe: wasix-libc's port-order probe gives the same answer with
// and without network access, and the port comes back big-endian, as
// Wasmer writes it (the probe then byte-swaps, as under Wasmer).
func TestPortProbe(t *testing.T) {
	wasm := fixtures.Build(t, "c/net")
	want := "bind: 0\naddr_local: 0\ntag 1 bytes 28 23 addr 0.0.0.0\n"
	for _, net := range []bool{false, true} {
		res := testrun.Run(t, wasm, testrun.Options{Args: []string{"probe"}, Net: net})
		if res.Stdout != want {
			t.Errorf("net=%v: probe printed\n%s\nwant\n%s", net, res.Stdout, want)
		}
	}
}

func TestSocketBadInput(t *testing.T) {
	res := testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"bad"}, Net: true})
	if res.Code != 0 || res.Err != nil {
		t.Fatalf("exit %d, %v: %s", res.Code, res.Err, res.Stderr)
	}
	mustContain(t, res.Stdout,
		"open af=9: 5", "open af=unix: 5", "open type=77: 28", "open stream+udp: 58", "open bad ptr: 21",
		"bind tag=9: 28", "bind v6 on v4: 5", "bind bad ptr: 21", "bind not a socket: 57", "bind bad fd: 8",
		"listen bad fd: 8", "opt unknown: 28", "opt bad bool: 28", "send_to bad iovec: 21",
		"pair: 0", "send to closed peer: 64", "again: 64", "recv after reset: 15", "still alive")
}

func TestSocketEMFILE(t *testing.T) {
	res := testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"emfile"}, MaxFds: 50})
	// fds 0-2 are stdio and 3 the guest's root ("/", see PreopenRoot): 46
	// sockets fit.
	mustContain(t, res.Stdout, "opened 46 then: 33")
}

// TestNetPolicy: without network nothing but literals resolves and every
// bind, connect and sendto is EACCES and counted; a rule opens exactly its
// port.
func TestNetPolicy(t *testing.T) {
	wasm := fixtures.Build(t, "c/net")
	port := closedPort(t)
	var host *wazix.Host
	res := testrun.Run(t, wasm, testrun.Options{Args: []string{"denied", strconv.Itoa(port)},
		Started: func(h *wazix.Host) { host = h }})
	mustContain(t, res.Stdout, "connect: 2", "bind: 2", "sendto: 2", "resolve: 2", "resolve literal: 0 1")
	denied := map[string]int{}
	for _, d := range host.Denied() {
		denied[d.What] = d.Count
	}
	for _, w := range []string{fmt.Sprintf("connect 127.0.0.1:%d", port), "bind 127.0.0.1:0",
		fmt.Sprintf("sendto 127.0.0.1:%d", port), "resolve localhost"} {
		if denied[w] != 1 {
			t.Errorf("denied %q counted %d times, want 1 (all: %v)", w, denied[w], denied)
		}
	}

	res = testrun.Run(t, wasm, testrun.Options{Args: []string{"denied", strconv.Itoa(port)},
		NetAllow: []string{fmt.Sprintf("127.0.0.0/8:%d", port)}})
	// connect is allowed (and refused by the kernel), bind to port 0 is not.
	mustContain(t, res.Stdout, "connect: 14", "bind: 2", "sendto: 0", "resolve: 0")
}

// cpuTime returns this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openFds counts this process's open fds.
func openFds(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(es)
}

// TestNoSocketOutlivesGuest: a guest that exits with sockets open (a
// listener, connections, datagram sockets) leaves no host fd behind.
func TestNoSocketOutlivesGuest(t *testing.T) {
	wasm := fixtures.Build(t, "c/net")
	testrun.Run(t, wasm, testrun.Options{Args: []string{"udp"}, Net: true}) // warm up caches and runtime fds
	before := openFds(t)
	res := testrun.Run(t, wasm, testrun.Options{Args: []string{"emfile"}, MaxFds: 200})
	mustContain(t, res.Stdout, "opened 196 then: 33") // 0-2 stdio, 3 the root
	testrun.Run(t, wasm, testrun.Options{Args: []string{"udp"}, Net: true})
	testrun.Run(t, wasm, testrun.Options{Args: []string{"bad"}, Net: true})
	if after := openFds(t); after > before {
		t.Fatalf("%d host fds open before the guests, %d after", before, after)
	}
}

// runHTTPD starts the C HTTP server guest in mode on a preopened socket
// and returns its address and a function that stops it and returns its
// result.
func runHTTPD(t *testing.T, mode string) (string, func() testrun.Result) {
	t.Helper()
	wasm := fixtures.Build(t, "c/httpd")
	out := newLineWriter()
	addrc := make(chan string, 1)
	done := make(chan testrun.Result, 1)
	go func() {
		done <- testrun.Run(t, wasm, testrun.Options{Args: []string{mode}, Listen: []string{"127.0.0.1:0"}, Stdout: out,
			Started: func(h *wazix.Host) { addrc <- h.ListenAddrs()[0] }})
	}()
	addr := <-addrc
	waitLine(t, out, "ready "+mode)
	return addr, func() testrun.Result {
		resp, err := http.Get("http://" + addr + "/exit")
		if err == nil {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		select {
		case r := <-done:
			r.Stdout = out.String()
			return r
		case <-time.After(20 * time.Second):
			t.Fatalf("server did not exit; output:\n%s", out.String())
		}
		return testrun.Result{}
	}
}

// TestHTTPServerGuest drives the C HTTP server, on epoll and on
// poll_oneoff, with 200 concurrent keep-alive clients, pipelined requests
// and 10k connections closed abruptly.
func TestHTTPServerGuest(t *testing.T) {
	for _, mode := range []string{"epoll", "poll"} {
		t.Run(mode, func(t *testing.T) {
			addr, stop := runHTTPD(t, mode)
			tr := &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 200}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			var wg sync.WaitGroup
			var bad atomic.Int64
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 20; j++ {
						resp, err := client.Get("http://" + addr + "/")
						if err != nil {
							bad.Add(1)
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(b) != "Hello, World!\n" {
							bad.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if n := bad.Load(); n != 0 {
				t.Fatalf("%d failed requests", n)
			}

			// Pipelining: three requests in one write, three answers.
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3)))
			r := bufio.NewReader(c)
			for i := 0; i < 3; i++ {
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("pipelined response %d: %v", i, err)
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			c.Close()

			// 10k connections opened and closed abruptly (RST, some with a
			// request in flight): the server stays up.
			var wg2 sync.WaitGroup
			for w := 0; w < 20; w++ {
				wg2.Add(1)
				go func(w int) {
					defer wg2.Done()
					for i := 0; i < 500; i++ {
						c, err := net.Dial("tcp", addr)
						if err != nil {
							continue
						}
						if i%2 == 0 {
							c.Write([]byte("GET / HTTP/1.1\r\n"))
						}
						c.(*net.TCPConn).SetLinger(0)
						c.Close()
					}
				}(w)
			}
			wg2.Wait()
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				t.Fatalf("after 10k aborted connections: %v", err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			tr.CloseIdleConnections()

			// Idle with connections open: no CPU (the guest sleeps in
			// epoll_wait or poll_oneoff, and nothing spins).
			var idle []net.Conn
			for i := 0; i < 100; i++ {
				if c, err := net.Dial("tcp", addr); err == nil {
					idle = append(idle, c)
				}
			}
			time.Sleep(300 * time.Millisecond)
			// Give back what compiling and serving allocated, so that the
			// runtime's background scavenger does not run in the window.
			debug.FreeOSMemory()
			before := cpuTime()
			time.Sleep(time.Second)
			if used := cpuTime() - before; used > 100*time.Millisecond && !testtools.RaceEnabled {
				t.Errorf("idle server with 100 open connections used %v of CPU in 1s", used)
			}
			for _, c := range idle {
				c.Close()
			}
			res := stop()
			if res.Code != 0 || !strings.Contains(res.Stdout, "exiting") {
				t.Fatalf("exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
			}
		})
	}
}

func TestSendFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/f.txt", []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"sendfile", "f.txt"}, Dirs: [][2]string{{dir, "."}}})
	mustContain(t, res.Stdout, "open file: 1", "send_file: 0 5", "file position: 0", "got: 23456", "send_file from a socket: 28")
}

func TestSocketOptions(t *testing.T) {
	res := testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"opts"}, Net: true})
	mustContain(t, res.Stdout, "set reuseaddr: 0", "get reuseaddr: 1", "set nodelay: 0", "get nodelay: 1",
		"nodelay on udp: 50", "set rcvbuf: 0", "rcvbuf >= 65536: 1", "proto: 6", "set recv timeout: 0",
		"get recv timeout: 1 30000000", "recv with timeout: 6", "p1 recv with timeout: 6", "join non-multicast: 28",
		"addr_list empty buffer: 61 more=1", "addr_list: 0 loopback /8: 1")
	if !strings.Contains(res.Stdout, "join multicast: ok\n") && !strings.Contains(res.Stdout, "join multicast: no multicast route\n") {
		t.Errorf("multicast join: %s", res.Stdout)
	}
	// Without network access: no interfaces, no multicast.
	res = testrun.Run(t, fixtures.Build(t, "c/net"), testrun.Options{Args: []string{"opts"}})
	mustContain(t, res.Stdout, "join multicast: error", "addr_list empty buffer: 0 more=0")
}
