// Command wazix-bench measures HTTP servers under wazix against the wazero
// CLI and native Go, side by side in one run, and writes
// docs/benchmarks-net.md and a PNG chart.
//
//	go run ./cmd/wazix-bench                   # everything, ~10 minutes on 2 cores
//	go run ./cmd/wazix-bench -duration 3s -conns 10,100 -idle 0,1000
//
// Variants:
//
//	c-epoll    fixtures/c/httpd.c (clang + wasi-libc) under wazix run --listen, readiness from epoll_wait
//	c-poll     the same binary with its poll_oneoff event loop
//	go-wazix   bench/goserver (GOOS=wasip1, net/http) under wazix run --listen
//	go-wazero  the same .wasm under the wazero CLI (wazero run -listen)
//	go-native  bench/goserver built for the host, on a listening socket passed as fd 3
//
// The load generator is Debian's wrk; it is installed with apt-get when
// missing, and the wazero CLI with go install. For every connection count
// each variant is started fresh, warmed up, then measured with wrk while the
// server's CPU time is read from /proc; the variants are interleaved so
// that they see the same machine conditions. The idle test holds N idle
// connections open to the server while one wrk connection is busy.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	duration  = flag.Duration("duration", 5*time.Second, "measured wrk run per point")
	warmup    = flag.Duration("warmup", time.Second, "wrk warm-up before each measured run")
	connsFlag = flag.String("conns", "10,100,1000,5000", "connection counts")
	idleFlag  = flag.String("idle", "0,100,1000,5000,10000", "idle connection counts of the idle test (empty: skip)")
	varsFlag  = flag.String("variants", "c-epoll,c-poll,go-wazix,go-wazero,go-native", "variants to measure")
	outFlag   = flag.String("out", "docs/benchmarks-net.md", "markdown report")
	pngFlag   = flag.String("png", "docs/benchmarks-net.png", "chart (req/s vs connections)")
	workFlag  = flag.String("work", "", "build directory (default: a temporary one)")
	rounds    = flag.Int("rounds", 3, "rounds of the load test (the median round is reported)")
	idleRnds  = flag.Int("idle-rounds", 1, "rounds of the idle test")
	profFlag  = flag.String("profile", "c-epoll:5000,c-poll:5000,go-wazix:1000", "variant:conns pairs to profile (wazix variants only; empty: none)")
)

// result is one measured point.
type result struct {
	Variant  string  `json:"variant"`
	Conns    int     `json:"conns"`
	Idle     int     `json:"idle,omitempty"`
	ReqPerS  float64 `json:"req_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Requests int     `json:"requests"`
	CPUs     float64 `json:"cpu_s"`
	CPUPer10 float64 `json:"cpu_s_per_10k"`
	Errors   string  `json:"errors,omitempty"`
	Failed   string  `json:"failed,omitempty"`
	// Range is the lowest and highest req/s over the rounds.
	Min, Max float64 `json:"-"`
	Rounds   int     `json:"-"`
}

type variant struct {
	name string
	// cmd returns the server command for a listening address; native
	// variants get the listener as fd 3.
	cmd    func(addr string) *exec.Cmd
	native bool
	wazix  bool
}

type env struct {
	dir, wazix, wazero, wrk, httpd, gowasm, gonative, root string
}

func main() {
	log.SetFlags(log.Ltime)
	flag.Parse()
	raiseNofile()
	root, err := repoRoot()
	if err != nil {
		log.Fatal(err)
	}
	e := &env{root: root, dir: *workFlag}
	if e.dir == "" {
		e.dir, err = os.MkdirTemp("", "wazix-bench-")
		if err != nil {
			log.Fatal(err)
		}
	}
	e.setup()
	vars := e.variants()
	var chosen []variant
	for _, name := range splitList(*varsFlag) {
		for _, v := range vars {
			if v.name == name {
				chosen = append(chosen, v)
			}
		}
	}
	var all []result
	for round := 1; round <= *rounds; round++ {
		for _, c := range intList(*connsFlag) {
			for _, v := range roundOrder(chosen, round) {
				r := e.measure(v, c, 0, "")
				log.Printf("round %d %-10s c=%-5d %9.0f req/s p50 %7.2fms p99 %8.2fms cpu %.3fs/10k %s%s", round, v.name, c, r.ReqPerS, r.P50ms, r.P99ms, r.CPUPer10, r.Errors, r.Failed)
				all = append(all, r)
			}
		}
	}
	var allIdle []result
	for round := 1; round <= *idleRnds; round++ {
		for _, n := range intList(*idleFlag) {
			for _, v := range roundOrder(chosen, round) {
				r := e.measure(v, 1, n, "")
				log.Printf("round %d idle %-10s n=%-5d %9.0f req/s p50 %7.2fms p99 %8.2fms cpu %.3fs/10k %s%s", round, v.name, n, r.ReqPerS, r.P50ms, r.P99ms, r.CPUPer10, r.Errors, r.Failed)
				allIdle = append(allIdle, r)
			}
		}
	}
	results, idle := medians(all), medians(allIdle)
	profiles := map[string]string{}
	for _, p := range splitList(*profFlag) {
		name, cs, _ := strings.Cut(p, ":")
		c, _ := strconv.Atoi(cs)
		for _, v := range chosen {
			if v.name == name && v.wazix {
				prof := filepath.Join(e.dir, fmt.Sprintf("%s-%d.pprof", name, c))
				e.measure(v, c, 0, prof)
				out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", e.wazix, prof).CombinedOutput()
				if err != nil {
					log.Printf("pprof %s: %v", p, err)
				}
				profiles[p] = trimProfile(string(out))
			}
		}
	}
	raw, _ := json.MarshalIndent(map[string]any{"load": all, "idle": allIdle}, "", "  ")
	os.WriteFile(filepath.Join(e.dir, "results.json"), raw, 0o644)
	if err := e.chart(results, idle); err != nil {
		log.Printf("chart: %v", err)
	}
	if err := os.WriteFile(*outFlag, []byte(e.report(chosen, all, results, idle, profiles)), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s, %s; raw results in %s", *outFlag, *pngFlag, filepath.Join(e.dir, "results.json"))
}

// medians keeps, per variant and point, the round with the median req/s
// (failed rounds count as 0), with the range over the rounds.
func medians(rs []result) []result {
	type key struct {
		v       string
		c, idle int
	}
	var order []key
	by := map[key][]result{}
	for _, r := range rs {
		k := key{r.Variant, r.Conns, r.Idle}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], r)
	}
	var out []result
	for _, k := range order {
		g := by[k]
		sort.Slice(g, func(i, j int) bool { return g[i].ReqPerS < g[j].ReqPerS })
		m := g[len(g)/2]
		m.Min, m.Max, m.Rounds = g[0].ReqPerS, g[len(g)-1].ReqPerS, len(g)
		out = append(out, m)
	}
	return out
}

// roundOrder is the order of the variants in a round: as given in odd
// rounds, reversed in even ones, so that no variant always runs right
// after the same other one (a run leaves the kernel busy with its
// connections' TIME_WAIT and teardown, which the next one shares).
func roundOrder(vars []variant, round int) []variant {
	if round%2 == 1 {
		return vars
	}
	out := make([]variant, len(vars))
	for i, v := range vars {
		out[len(vars)-1-i] = v
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intList(s string) []int {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil {
			log.Fatalf("bad number %q", p)
		}
		out = append(out, n)
	}
	return out
}

// raiseNofile lifts the soft fd limit to the hard one, for 5000 wrk
// connections and 10k idle ones (children inherit it).
func raiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %v (run from the wazix module)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func run(dir string, extraEnv []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// setup installs the load generator and the wazero CLI when missing and
// builds every server.
func (e *env) setup() {
	var err error
	if e.wrk, err = exec.LookPath("wrk"); err != nil {
		log.Printf("installing wrk (apt-get install -y wrk)")
		apt := []string{"apt-get"}
		if os.Geteuid() != 0 {
			apt = []string{"sudo", "apt-get"}
		}
		run("/", nil, apt[0], append(apt[1:], "update", "-qq")...)
		run("/", []string{"DEBIAN_FRONTEND=noninteractive"}, apt[0], append(apt[1:], "install", "-y", "-qq", "--no-install-recommends", "wrk")...)
		if e.wrk, err = exec.LookPath("wrk"); err != nil {
			log.Fatal("wrk still missing after apt-get install")
		}
	}
	gobin := strings.TrimSpace(string(must(exec.Command("go", "env", "GOPATH").Output()))) + "/bin"
	if e.wazero, err = exec.LookPath("wazero"); err != nil {
		e.wazero = filepath.Join(gobin, "wazero")
		if _, err := os.Stat(e.wazero); err != nil {
			log.Printf("installing the wazero CLI (go install github.com/tetratelabs/wazero/cmd/wazero@v1.12.0)")
			run(e.root, nil, "go", "install", "github.com/tetratelabs/wazero/cmd/wazero@v1.12.0")
		}
	}
	log.Printf("building servers in %s", e.dir)
	e.wazix = filepath.Join(e.dir, "wazix")
	run(e.root, nil, "go", "build", "-o", e.wazix, "./cmd/wazix")
	e.httpd = filepath.Join(e.dir, "httpd.wasm")
	run(e.root, nil, "clang", "--target=wasm32-wasi", "-O2", "-Wall", "-Wl,--strip-all", "-o", e.httpd, "fixtures/c/httpd.c")
	e.gowasm = filepath.Join(e.dir, "goserver.wasm")
	run(e.root, []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}, "go", "build", "-o", e.gowasm, "./bench/goserver")
	e.gonative = filepath.Join(e.dir, "goserver")
	run(e.root, []string{"CGO_ENABLED=0"}, "go", "build", "-o", e.gonative, "./bench/goserver")
}

func must(b []byte, err error) []byte {
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func (e *env) variants() []variant {
	cache := filepath.Join(e.dir, "cache")
	return []variant{
		{name: "c-epoll", wazix: true, cmd: func(a string) *exec.Cmd {
			return exec.Command(e.wazix, "run", "--cache-dir", cache, "--listen", a, e.httpd, "epoll")
		}},
		{name: "c-poll", wazix: true, cmd: func(a string) *exec.Cmd {
			return exec.Command(e.wazix, "run", "--cache-dir", cache, "--listen", a, e.httpd, "poll")
		}},
		{name: "go-wazix", wazix: true, cmd: func(a string) *exec.Cmd {
			return exec.Command(e.wazix, "run", "--cache-dir", cache, "--listen", a, e.gowasm)
		}},
		{name: "go-wazero", cmd: func(a string) *exec.Cmd {
			return exec.Command(e.wazero, "run", "-cachedir", filepath.Join(e.dir, "wazero-cache"), "-listen", a, e.gowasm)
		}},
		{name: "go-native", native: true, cmd: func(string) *exec.Cmd { return exec.Command(e.gonative) }},
	}
}

// commandLine shows how a variant is started, for the report.
func (e *env) commandLine(v variant) string {
	c := v.cmd("127.0.0.1:PORT")
	args := append([]string{filepath.Base(c.Path)}, c.Args[1:]...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, e.dir+"/", "")
	}
	s := strings.Join(args, " ")
	if v.native {
		s += "   # listening socket on 127.0.0.1:PORT passed as fd 3"
	}
	return s
}

// server is a running variant.
type server struct {
	cmd  *exec.Cmd
	addr string
}

func freeAddr() (net.Listener, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return l, l.Addr().String()
}

func (e *env) start(v variant, profile string) (*server, error) {
	l, addr := freeAddr()
	cmd := v.cmd(addr)
	if v.native {
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
	}
	l.Close()
	cmd.Stdout = nil
	logf, _ := os.Create(filepath.Join(e.dir, v.name+".log"))
	cmd.Stderr = logf
	cmd.Env = os.Environ()
	if profile != "" {
		cmd.Env = append(cmd.Env, "WAZIX_CPUPROFILE="+profile)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if logf != nil {
		logf.Close()
	}
	s := &server{cmd: cmd, addr: addr}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if probe(addr, 5*time.Second) == nil {
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s did not answer on %s", v.name, addr)
}

// probe sends one request on a new connection and waits for a 200.
func probe(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// cpuSeconds reads a process's user+system time from /proc.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	// fields after the command: state(0) ... utime(11) stime(12)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// measure starts v, optionally opens idle connections, warms up, and runs
// wrk with conns connections.
func (e *env) measure(v variant, conns, idle int, profile string) result {
	r := result{Variant: v.name, Conns: conns, Idle: idle}
	s, err := e.start(v, profile)
	if err != nil {
		r.Failed = err.Error()
		return r
	}
	defer s.stop()
	var idles []net.Conn
	for i := 0; i < idle; i++ {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			r.Errors = fmt.Sprintf("idle connection %d: %v", i, err)
			break
		}
		idles = append(idles, c)
	}
	defer func() {
		for _, c := range idles {
			c.Close()
		}
	}()
	if idle > 0 {
		// A request on a new connection is answered once the server has
		// accepted everything queued before it: then the idle set is in place.
		if err := probe(s.addr, 120*time.Second); err != nil {
			r.Failed = fmt.Sprintf("server did not answer with %d idle connections: %v", idle, err)
			return r
		}
	}
	threads := "2"
	if conns < 2 {
		threads = "1"
	}
	url := "http://" + s.addr + "/"
	wc := conns
	if wc > 100 {
		wc = 100
	}
	exec.Command(e.wrk, "-t", threads, "-c", strconv.Itoa(wc), "-d", fmt.Sprintf("%ds", int(warmup.Seconds()+0.5)), url).Run()
	cpu0 := cpuSeconds(s.cmd.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), *duration+60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.wrk, "-t", threads, "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(duration.Seconds()+0.5)),
		"--timeout", "10s", "--latency", url).CombinedOutput()
	cpu1 := cpuSeconds(s.cmd.Process.Pid)
	if err != nil {
		r.Failed = fmt.Sprintf("wrk: %v: %s", err, strings.TrimSpace(string(out)))
		return r
	}
	parseWrk(string(out), &r)
	if r.Requests == 0 {
		r.Failed = "no request completed: " + strings.Join(strings.Fields(string(out)), " ")
	}
	r.CPUs = cpu1 - cpu0
	if r.Requests > 0 {
		r.CPUPer10 = r.CPUs / float64(r.Requests) * 10000
	}
	return r
}

var (
	reReqs    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reTotal   = regexp.MustCompile(`(\d+) requests in`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	reErrors  = regexp.MustCompile(`Socket errors: (.*)`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string, r *result) {
	if m := reReqs.FindStringSubmatch(out); m != nil {
		r.ReqPerS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reTotal.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.Atoi(m[1])
	}
	for _, m := range reLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			r.P50ms = v
		} else {
			r.P99ms = v
		}
	}
	var errs []string
	if m := reErrors.FindStringSubmatch(out); m != nil {
		errs = append(errs, "socket errors: "+m[1])
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		errs = append(errs, "non-2xx: "+m[1])
	}
	r.Errors = strings.Join(errs, "; ")
}

func trimProfile(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// chart draws req/s against connections (and the idle test) with gnuplot.
func (e *env) chart(results, idle []result) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		log.Printf("installing gnuplot-nox for the chart")
		apt := "apt-get"
		exec.Command(apt, "install", "-y", "-qq", "--no-install-recommends", "gnuplot-nox").Run()
		if gp, err = exec.LookPath("gnuplot"); err != nil {
			return fmt.Errorf("gnuplot missing: %v", err)
		}
	}
	write := func(rs []result, x func(result) int) ([]string, string) {
		by := map[string][]result{}
		var names []string
		for _, r := range rs {
			if _, ok := by[r.Variant]; !ok {
				names = append(names, r.Variant)
			}
			by[r.Variant] = append(by[r.Variant], r)
		}
		var plots []string
		for _, n := range names {
			f := filepath.Join(e.dir, "chart-"+n+fmt.Sprint(len(rs))+".dat")
			var b strings.Builder
			pts := by[n]
			sort.Slice(pts, func(i, j int) bool { return x(pts[i]) < x(pts[j]) })
			for _, r := range pts {
				if r.Failed == "" {
					fmt.Fprintf(&b, "%d %f\n", max(x(r), 1), r.ReqPerS)
				}
			}
			os.WriteFile(f, []byte(b.String()), 0o644)
			plots = append(plots, fmt.Sprintf("'%s' using 1:2 with linespoints lw 2 pt 7 title '%s'", f, n))
		}
		return plots, ""
	}
	load, _ := write(results, func(r result) int { return r.Conns })
	script := fmt.Sprintf(`set terminal pngcairo size 1200,500 font "sans,10"
set output '%s'
set multiplot layout 1,2 title "wazix networking benchmark (%s, %d CPUs) - higher is better"
set logscale x
set grid
set key top right
set xlabel "concurrent connections (wrk)"
set ylabel "requests/s"
set yrange [0:*]
set title "req/s vs connections"
plot %s
`, *pngFlag, hostCPU(), runtime.NumCPU(), strings.Join(load, ", "))
	if len(idle) > 0 {
		idl, _ := write(idle, func(r result) int { return r.Idle })
		script += fmt.Sprintf(`set xlabel "idle connections (+1 busy; 0 plotted at 1)"
set title "idle test: req/s of the one busy connection"
plot %s
`, strings.Join(idl, ", "))
	}
	script += "unset multiplot\n"
	cmd := exec.Command(gp)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// pngcairo may be missing: fall back to the plain png terminal.
		script = strings.Replace(script, `pngcairo size 1200,500 font "sans,10"`, "png size 1200,500", 1)
		cmd = exec.Command(gp)
		cmd.Stdin = strings.NewReader(script)
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			return fmt.Errorf("%v: %s / %s", err2, out, out2)
		}
	}
	return nil
}

func hostCPU() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func cmdOut(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func find(rs []result, v string, c, idle int) *result {
	for i := range rs {
		if rs[i].Variant == v && rs[i].Conns == c && rs[i].Idle == idle && rs[i].Failed == "" {
			return &rs[i]
		}
	}
	return nil
}

func ratio(a, b *result) string {
	if a == nil || b == nil || b.ReqPerS == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a.ReqPerS/b.ReqPerS)
}

func cpuRatio(a, b *result) string {
	if a == nil || b == nil || b.CPUPer10 == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a.CPUPer10/b.CPUPer10)
}

func (e *env) report(vars []variant, all, results, idle []result, profiles map[string]string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Networking benchmark: HTTP servers under wazix, the wazero CLI and native Go\n\n")
	p("Generated by `go run ./cmd/wazix-bench %s` on %s. Every point is one fresh server process, a %s wrk warm-up, then a %s measured wrk run; the variants are interleaved at each connection count (in reverse order every other round), so they share the machine's conditions. CPU is the server process's user+system time during the measured run (from `/proc/PID/stat`), per 10k requests. wrk runs on the same machine and competes for the same cores.\n\n",
		strings.Join(os.Args[1:], " "), time.Now().UTC().Format("2006-01-02 15:04 UTC"), warmup, duration)
	p("![req/s vs connections](%s)\n\n", filepath.Base(*pngFlag))
	p("## Machine\n\n```\n%s\nCPU: %s, %d logical CPUs\n%s\n%s\nwrk: %s\nwazero: %s\nclang: %s\n```\n\n",
		cmdOut("uname", "-srvmo"), hostCPU(), runtime.NumCPU(), firstLine(cmdOut("free", "-h"), 2), cmdOut("go", "version"),
		firstLine(cmdOut(e.wrk, "-v"), 1), cmdOut(e.wazero, "version"), firstLine(cmdOut("clang", "--version"), 1))
	p("## Commands\n\n```sh\n")
	for _, v := range vars {
		p("# %s\n%s\n", v.name, e.commandLine(v))
	}
	p("# load (per point)\nwrk -t 2 -c CONNS -d %ds --timeout 10s --latency http://127.0.0.1:PORT/\n", int(duration.Seconds()+0.5))
	p("# idle test: N idle TCP connections opened by the benchmark, then\nwrk -t 1 -c 1 -d %ds --timeout 10s --latency http://127.0.0.1:PORT/\n```\n\n", int(duration.Seconds()+0.5))
	p("Servers: `fixtures/c/httpd.c` (one thread, nonblocking sockets, the same event loop fed by `epoll_wait` or by `poll_oneoff`, fixed 14-byte body, keep-alive) and `bench/goserver` (Go `net/http`, the same body).\n\n")

	p("## Load: req/s, latency, CPU\n\nMedian of %d rounds (the round with the median req/s; its latency and CPU); the range is the lowest and highest req/s over the rounds.\n\n| variant | conns | req/s | range | p50 ms | p99 ms | CPU s / 10k req | notes |\n|---|---:|---:|---|---:|---:|---:|---|\n", *rounds)
	for _, r := range results {
		note := r.Errors
		if r.Failed != "" {
			note = "FAILED: " + r.Failed
		}
		p("| %s | %d | %.0f | %.0f–%.0f | %.2f | %.2f | %.3f | %s |\n", r.Variant, r.Conns, r.ReqPerS, r.Min, r.Max, r.P50ms, r.P99ms, r.CPUPer10, note)
	}
	p("\n## Ratios\n\nreq/s ratios of the medians, and CPU-per-request ratios (lower CPU is better; a CPU ratio below 1 means the first variant spends less CPU per request):\n\n| conns | c-epoll / c-poll | c-epoll / go-native | go-wazix / go-wazero | go-wazix / go-native | CPU/req go-wazix / go-wazero | CPU/req c-epoll / c-poll |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range intList(*connsFlag) {
		p("| %d | %s | %s | %s | %s | %s | %s |\n", c, ratio(find(results, "c-epoll", c, 0), find(results, "c-poll", c, 0)),
			ratio(find(results, "c-epoll", c, 0), find(results, "go-native", c, 0)),
			ratio(find(results, "go-wazix", c, 0), find(results, "go-wazero", c, 0)),
			ratio(find(results, "go-wazix", c, 0), find(results, "go-native", c, 0)),
			cpuRatio(find(results, "go-wazix", c, 0), find(results, "go-wazero", c, 0)),
			cpuRatio(find(results, "c-epoll", c, 0), find(results, "c-poll", c, 0)))
	}
	p("%s", pairedCPU(all, "go-wazix", "go-wazero", intList(*connsFlag)))
	p("\n## Targets of issue 5\n\n| target | measured | met? |\n|---|---|---|\n")
	check := func(name string, v string, ok bool) {
		mark := "no"
		if ok {
			mark = "yes"
		}
		p("| %s | %s | %s |\n", name, v, mark)
	}
	e5, e1 := find(results, "c-epoll", 5000, 0), find(results, "c-epoll", 100, 0)
	check("c-epoll req/s at 5000 >= 80% of at 100", ratio(e5, e1), e5 != nil && e1 != nil && e5.ReqPerS >= 0.8*e1.ReqPerS)
	for _, c := range intList(*connsFlag) {
		if c >= 1000 {
			a, bb := find(results, "c-epoll", c, 0), find(results, "c-poll", c, 0)
			check(fmt.Sprintf("c-epoll beats c-poll at %d", c), ratio(a, bb), a != nil && bb != nil && a.ReqPerS > bb.ReqPerS)
		}
	}
	for _, c := range intList(*connsFlag) {
		a, n := find(results, "c-epoll", c, 0), find(results, "go-native", c, 0)
		check(fmt.Sprintf("c-epoll >= 50%% of native at %d", c), ratio(a, n), a != nil && n != nil && a.ReqPerS >= 0.5*n.ReqPerS)
	}
	for _, c := range intList(*connsFlag) {
		a, z := find(results, "go-wazix", c, 0), find(results, "go-wazero", c, 0)
		check(fmt.Sprintf("go-wazix beats go-wazero at %d", c), ratio(a, z), a != nil && z != nil && a.ReqPerS > z.ReqPerS)
	}
	if len(idle) > 0 {
		p("\n## Idle test: N idle connections + 1 busy one\n\n| variant | idle | req/s | p50 ms | p99 ms | CPU s / 10k req | notes |\n|---|---:|---:|---:|---:|---:|---|\n")
		for _, r := range idle {
			note := r.Errors
			if r.Failed != "" {
				note = "FAILED: " + r.Failed
			}
			p("| %s | %d | %.0f | %.2f | %.2f | %.3f | %s |\n", r.Variant, r.Idle, r.ReqPerS, r.P50ms, r.P99ms, r.CPUPer10, note)
		}
	}
	if len(profiles) > 0 {
		p("\n## Profiles (wazix process, `go tool pprof -top`)\n\n")
		var keys []string
		for k := range profiles {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("### %s\n\n```\n%s\n```\n\n", k, profiles[k])
		}
	}
	return b.String()
}

func firstLine(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// pairedCPU is the table of issue 13: the CPU per request of a against b
// over every round, not only the median one. At high connection counts the
// CPU per request of one variant moves by tens of percent between rounds
// (it follows how many requests wrk completes while it opens its
// connections), so the figures that hold are the pooled one (all CPU over
// all requests) and the median of the per-round ratios (a and b of one
// round ran back to back).
func pairedCPU(all []result, a, b string, conns []int) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	rounds := func(v string, c int) []result {
		var out []result
		for _, r := range all {
			if r.Variant == v && r.Conns == c && r.Idle == 0 && r.Failed == "" {
				out = append(out, r)
			}
		}
		return out
	}
	head := false
	for _, c := range conns {
		ra, rb := rounds(a, c), rounds(b, c)
		n := min(len(ra), len(rb))
		if n == 0 {
			continue
		}
		if !head {
			p("\n## CPU per request over all rounds: %s / %s\n\nPooled: the CPU of all rounds over their requests. Paired: the median of the per-round ratios (the two variants of a round run back to back); below 1: the rounds where %s spent less CPU per request.\n\n| conns | %s CPU s / 10k | %s CPU s / 10k | pooled ratio | paired ratio (median) | below 1 |\n|---:|---:|---:|---:|---:|---:|\n", a, b, a, a, b)
			head = true
		}
		var cpuA, reqA, cpuB, reqB float64
		var ratios []float64
		below := 0
		for i := 0; i < n; i++ {
			cpuA += ra[i].CPUs
			reqA += float64(ra[i].Requests)
			cpuB += rb[i].CPUs
			reqB += float64(rb[i].Requests)
			if ra[i].CPUPer10 > 0 && rb[i].CPUPer10 > 0 {
				r := ra[i].CPUPer10 / rb[i].CPUPer10
				ratios = append(ratios, r)
				if r < 1 {
					below++
				}
			}
		}
		if reqA == 0 || reqB == 0 || len(ratios) == 0 {
			continue
		}
		sort.Float64s(ratios)
		med := ratios[len(ratios)/2]
		if len(ratios)%2 == 0 {
			med = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
		}
		pa, pb := cpuA/reqA*1e4, cpuB/reqB*1e4
		p("| %d | %.3f | %.3f | %.2f | %.2f | %d of %d |\n", c, pa, pb, pa/pb, med, below, len(ratios))
	}
	return sb.String()
}
