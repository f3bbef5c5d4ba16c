package wazix_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
)

// runGuest runs wasm with a Config prepared by configure and returns its
// stdout, exit code and error.
func runGuest(t *testing.T, wasm []byte, closeOnDone bool, configure func(*wazix.Config)) (string, uint32, error) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cfg := wazix.NewConfig().WithArgs("guest").WithStdout(&stdout).WithStderr(&stdout)
	configure(cfg)
	host, err := cfg.Instantiate(ctx, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(ctx)
	code, err := host.Run(ctx, rt, compiled)
	return stdout.String(), code, err
}

// events collects trace events from the guest's threads.
type events struct {
	mu sync.Mutex
	ev []wazix.TraceEvent
}

func (e *events) add(ev wazix.TraceEvent) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }

// find returns the events of function name.
func (e *events) find(name string) []wazix.TraceEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []wazix.TraceEvent
	for _, ev := range e.ev {
		if ev.Func == name {
			out = append(out, ev)
		}
	}
	return out
}

func TestTraceDecodesCalls(t *testing.T) {
	dir := t.TempDir()
	var got events
	_, code, err := runGuest(t, fixtures.Build(t, "wat/tracecalls"), false, func(c *wazix.Config) {
		c.WithDir(dir, "/data").WithTracer(got.add, 0)
	})
	if err != nil || code != 3 {
		t.Fatalf("code %d, err %v; want 3", code, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "data.txt")); string(b) != "hello\n" {
		t.Errorf("data.txt = %q", b)
	}
	opens := got.find("path_open")
	if len(opens) != 3 {
		t.Fatalf("%d path_open events, want 3: %v", len(opens), opens)
	}
	newFd := regexp.MustCompile(`^fd=(\d+)</data/data.txt>$`)
	for i, c := range []struct {
		args   []string
		errno  string
		result *regexp.Regexp
	}{
		{[]string{`fd=3</data>`, `lookup=SYMLINK_FOLLOW`, `path="missing.txt"`, `oflags=0`, `rights=FD_WRITE`}, "ENOENT", regexp.MustCompile(`^$`)},
		{[]string{`fd=3</data>`, `lookup=0`, `path="data.txt"`, `oflags=CREAT|TRUNC`}, "ESUCCESS", newFd},
		// A bad pointer is shown, not followed.
		{[]string{`fd=3</data>`, `path=?(0xfffffff0,10)`}, "EFAULT", regexp.MustCompile(`^$`)},
	} {
		ev := opens[i]
		for _, a := range c.args {
			if !strings.Contains(ev.Args, a) {
				t.Errorf("path_open #%d args %q lack %q", i, ev.Args, a)
			}
		}
		if ev.ErrnoName() != c.errno || !c.result.MatchString(ev.Results) || ev.Thread != 1 || ev.Category != wazix.TraceFS {
			t.Errorf("path_open #%d = %s %q (thread %d, category %v), want %s", i, ev.ErrnoName(), ev.Results, ev.Thread, ev.Category, c.errno)
		}
	}
	fd := newFd.FindStringSubmatch(opens[1].Results)
	if fd == nil {
		t.Fatal("no fd from the second path_open")
	}
	w := got.find("fd_write")
	if len(w) != 1 || w[0].Args != `fd=`+fd[1]+`</data/data.txt> iovs=1/6B "hello\n"` || w[0].Results != "nwritten=6" || w[0].BytesWritten != 6 {
		t.Errorf("fd_write = %+v", w)
	}
	if c := got.find("fd_close"); len(c) != 1 || c[0].Args != "fd="+fd[1]+"</data/data.txt>" || c[0].ErrnoName() != "ESUCCESS" {
		t.Errorf("fd_close = %+v", c)
	}
	p := got.find("poll_oneoff")
	if len(p) != 1 || p[0].Args != "subs=1[{ud=7 clock MONOTONIC rel 0s}]" || p[0].Results != "events=1[{ud=7 clock}]" || p[0].Category != wazix.TracePoll {
		t.Errorf("poll_oneoff = %+v", p)
	}
	if g := got.find("memory.grow"); len(g) != 1 || g[0].Args != "1 -> 2 pages" || g[0].Category != wazix.TraceMem {
		t.Errorf("memory.grow = %+v", g)
	}
	if r := got.find("random_get"); len(r) != 1 || r[0].Args != "buf=8B" || r[0].Category != wazix.TraceRandom {
		t.Errorf("random_get = %+v", r)
	}
	e := got.find("proc_exit")
	if len(e) != 1 || e[0].Args != "code=3" || !e[0].Unwound || e[0].HasErrno {
		t.Errorf("proc_exit = %+v", e)
	}
	line := opens[0].String()
	if !regexp.MustCompile(`^\d+\.\d{6} \[1\] path_open\(fd=3</data> .*path="missing.txt".*\) = ENOENT <[0-9.]+[µnm]?s>$`).MatchString(line) {
		t.Errorf("line %q", line)
	}

	// Only the categories asked for.
	var fsOnly events
	runGuest(t, fixtures.Build(t, "wat/tracecalls"), false, func(c *wazix.Config) {
		c.WithDir(t.TempDir(), "/data").WithTracer(fsOnly.add, wazix.TraceFS|wazix.TraceProc)
	})
	for _, ev := range fsOnly.ev {
		if ev.Category&(wazix.TraceFS|wazix.TraceProc) == 0 {
			t.Errorf("event of category %v: %v", ev.Category, ev)
		}
	}
	if len(fsOnly.find("path_open")) != 3 || len(fsOnly.find("proc_exit")) != 1 || len(fsOnly.find("poll_oneoff")) != 0 {
		t.Errorf("filtered events: %v", fsOnly.ev)
	}
}

func TestTraceNetworkDenied(t *testing.T) {
	var got events
	_, code, err := runGuest(t, fixtures.Build(t, "wat/wasix_denied"), false, func(c *wazix.Config) {
		c.WithTracer(got.add, wazix.TraceNet)
	})
	if err != nil || code != 2 {
		t.Fatalf("code %d, err %v; want 2 (EACCES)", code, err)
	}
	o := got.find("sock_open")
	if len(o) != 1 || o[0].Args != "af=INET4 type=STREAM proto=0" || !regexp.MustCompile(`^fd=\d+<sock>$`).MatchString(o[0].Results) {
		t.Errorf("sock_open = %+v", o)
	}
	c := got.find("sock_connect")
	if len(c) != 1 || !strings.HasSuffix(c[0].Args, " addr=10.0.0.1:80") || c[0].ErrnoName() != "EACCES" || !c[0].Denied ||
		!strings.Contains(c[0].String(), "= EACCES (denied by --net/--net-allow)") {
		t.Errorf("sock_connect = %+v", c)
	}
	if len(got.find("proc_exit")) != 0 {
		t.Error("a proc event passed a net-only filter")
	}
}

func TestTraceThreads(t *testing.T) {
	var got events
	_, code, err := runGuest(t, fixtures.Build(t, "wat/thread_counter"), true, func(c *wazix.Config) {
		c.WithTracer(got.add, wazix.TraceThread)
	})
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v", code, err)
	}
	spawns := got.find("thread_spawn_v2")
	tids := map[uint32]bool{}
	for _, ev := range got.ev {
		tids[ev.Thread] = true
	}
	spawned := 0
	for _, ev := range spawns {
		if ev.ThreadSpawned && strings.HasPrefix(ev.Results, "tid=") && ev.ErrnoName() == "ESUCCESS" {
			spawned++
		}
	}
	if spawned == 0 || spawned != len(spawns) {
		t.Errorf("spawns: %+v", spawns)
	}
	if len(tids) < 2 {
		t.Errorf("events from threads %v only; want the spawned threads' calls too", tids)
	}
}

func TestMaxMemory(t *testing.T) {
	grow := fixtures.Build(t, "wat/grow")
	for _, c := range []struct {
		limit uint64
		want  uint32
	}{{0, 100}, {1 << 20, 16}, {1<<20 + 100, 16}, {200 << 20, 100}} {
		_, code, err := runGuest(t, grow, false, func(cfg *wazix.Config) { cfg.WithMaxMemory(c.limit) })
		if err != nil || code != c.want {
			t.Errorf("limit %d: %d pages (err %v), want %d", c.limit, code, err, c.want)
		}
	}

	// An allocator sees out-of-memory, and what it allocated stays intact.
	out, code, err := runGuest(t, fixtures.Build(t, "c/alloc"), false, func(cfg *wazix.Config) { cfg.WithMaxMemory(4 << 20) })
	if err != nil || code != 0 || !strings.HasPrefix(out, "malloc failed\n") || !strings.Contains(out, "blocks_ok 1\n") {
		t.Fatalf("code %d, err %v, out:\n%s", code, err, out)
	}
	kib, _ := strconv.Atoi(regexp.MustCompile(`allocated_kib (\d+)`).FindStringSubmatch(out)[1])
	if kib <= 0 || kib > 4096 {
		t.Errorf("allocated %d KiB under a 4 MiB cap", kib)
	}
	out, _, _ = runGuest(t, fixtures.Build(t, "c/alloc"), false, func(cfg *wazix.Config) {})
	if !strings.HasPrefix(out, "cap reached\n") {
		t.Errorf("without a cap: %s", out)
	}
}

func TestTimeout(t *testing.T) {
	start := time.Now()
	out, code, err := runGuest(t, fixtures.Build(t, "wat/spin"), true, func(c *wazix.Config) { c.WithTimeout(300 * time.Millisecond) })
	if !errors.Is(err, wazix.ErrTimeout) || code != 124 || out != "spinning\n" {
		t.Errorf("spin: code %d, err %v, out %q", code, err, out)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("spin stopped after %v", d)
	}

	// Every thread stops, and the shared memory honours the cap too.
	start = time.Now()
	out, code, err = runGuest(t, fixtures.Build(t, "wat/thread_spin"), true, func(c *wazix.Config) {
		c.WithTimeout(500 * time.Millisecond).WithMaxMemory(1 << 20)
	})
	if !errors.Is(err, wazix.ErrTimeout) || code != 124 || out != "16\n" {
		t.Errorf("thread_spin: code %d, err %v, out %q", code, err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("thread_spin stopped after %v", d)
	}

	// A guest that ends in time is not a timeout.
	_, code, err = runGuest(t, fixtures.Build(t, "wat/grow"), false, func(c *wazix.Config) { c.WithTimeout(time.Minute) })
	if err != nil || code != 100 {
		t.Errorf("grow under a timeout: code %d, err %v", code, err)
	}
}

// Tracing a hostile guest changes nothing: the decoders read memory only
// through bounds checks, and the calls fail as they do untraced.
func TestTraceBadPointers(t *testing.T) {
	wasm := fixtures.Build(t, "wat/badptr")
	plain, code, err := runGuest(t, wasm, false, func(c *wazix.Config) { c.WithArgs("badptr", "x") })
	var got events
	traced, tcode, terr := runGuest(t, wasm, false, func(c *wazix.Config) { c.WithArgs("badptr", "x").WithTracer(got.add, 0) })
	if plain != traced || code != tcode || (err == nil) != (terr == nil) || !strings.HasSuffix(traced, "done\n") {
		t.Errorf("untraced %d %v:\n%s\ntraced %d %v:\n%s", code, err, plain, tcode, terr, traced)
	}
	faults := 0
	for _, ev := range got.ev {
		if ev.ErrnoName() == "EFAULT" {
			faults++
		}
	}
	if faults != strings.Count(plain, " 21\n") {
		t.Errorf("%d EFAULT events for %d EFAULT lines", faults, strings.Count(plain, " 21\n"))
	}
}
