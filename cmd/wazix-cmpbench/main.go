// Command wazix-cmpbench runs the same small preview1 guests under the
// wazix CLI and the stock wazero CLI, one process after the other, and
// reports the paired ratios of their CPU and wall times: the cost of
// starting a runtime and of each host call, as a user of either CLI pays it.
//
//	go run ./cmd/wazix-cmpbench                  # every guest, 30 pairs each
//	go run ./cmd/wazix-cmpbench -runs 60 -guests empty,poll
//	go run ./cmd/wazix-cmpbench -variants wazix,wazix-default,wazero
//	go run ./cmd/wazix-cmpbench -bin before=/tmp/wazix-old -variants before,wazix,wazero
//
// The guest is bench/calls/calls.c (clang + wasi-libc), one host call in a
// loop, chosen by its arguments. Variants:
//
//	wazix          ./cmd/wazix built as the README recommends for speed:
//	               CGO_ENABLED=0 go build
//	wazix-default  ./cmd/wazix built with a plain go build
//	wazero         the wazero CLI v1.12.0 on PATH or in GOPATH/bin
//	               (go install'ed when missing), with -cachedir
//
// Each CLI runs each guest once before measuring, so that both compilation
// caches are warm. A round runs every variant once, in turn; the report
// gives the median CPU (user+system, from wait4) and wall time of each
// variant and, for every variant against the last one, the median of the
// per-round ratios. Ratios are what to read: the machines are noisy, and
// neighbours in time see the same noise.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

var (
	runs     = flag.Int("runs", 30, "measured rounds per guest")
	guests   = flag.String("guests", "empty,clock,write,read,stdout,poll,open,random", "guests to run (modes of bench/calls/calls.c)")
	variants = flag.String("variants", "wazix,wazero", "CLIs to compare; ratios are against the last")
	workDir  = flag.String("work", "", "build directory (default: a temporary one)")
	outFile  = flag.String("out", "", "also write the markdown report to this file")
	extra    = flag.String("bin", "", "more wazix CLIs to compare, as name=path pairs separated by commas (e.g. an older build: before=/tmp/wazix-old); name them in -variants")
)

// guest is one mode of calls.wasm and its loop count.
type guest struct {
	name, what string
	args       []string
}

var allGuests = []guest{
	{"empty", "an empty main: start-up and exit", []string{"empty"}},
	{"clock", "4M clock_gettime (clock_time_get)", []string{"clock", "4000000"}},
	{"write", "600k one-byte writes to a file (fd_write)", []string{"write", "600000", "/d/calls.dat"}},
	{"read", "600k one-byte preads of a file (fd_pread)", []string{"read", "600000", "/d/calls.dat"}},
	{"stdout", "300k one-byte writes to stdout, a pipe (fd_write)", []string{"stdout", "300000"}},
	{"poll", "300k poll(0, 0, 0) (poll_oneoff, one due clock)", []string{"poll", "300000"}},
	{"open", "100k open + close of a file (path_open, fd_close)", []string{"open", "100000", "/d/calls.dat"}},
	{"random", "1M arc4random_buf of 16 bytes (random_get)", []string{"random", "1000000"}},
}

type env struct {
	root, dir, wasm, data string
	bins                  map[string]string
}

func main() {
	log.SetFlags(log.Ltime)
	flag.Parse()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		log.Fatalf("go list -m: %v (run from the wazix module)", err)
	}
	e := &env{root: strings.TrimSpace(string(out)), dir: *workDir, bins: map[string]string{}}
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "wazix-cmpbench-"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(e.dir)
	}
	e.data = filepath.Join(e.dir, "data")
	if err := os.MkdirAll(e.data, 0o755); err != nil {
		log.Fatal(err)
	}
	vars := split(*variants)
	if len(vars) < 2 {
		log.Fatal("-variants: name at least two CLIs")
	}
	for _, v := range vars {
		e.build(v)
	}
	e.wasm = filepath.Join(e.dir, "calls.wasm")
	e.run(nil, "clang", "--target=wasm32-wasi", "-O2", "-o", e.wasm, "bench/calls/calls.c")

	var chosen []guest
	for _, name := range split(*guests) {
		found := false
		for _, g := range allGuests {
			if g.name == name {
				chosen, found = append(chosen, g), true
			}
		}
		if !found {
			log.Fatalf("-guests: no guest %q", name)
		}
	}

	var report strings.Builder
	fmt.Fprintf(&report, "| guest | %s | %s |\n", strings.Join(mapList(vars, func(v string) string { return v + " CPU / wall (ms)" }), " | "),
		strings.Join(mapList(vars[:len(vars)-1], func(v string) string { return v + " / " + vars[len(vars)-1] + " CPU (wall)" }), " | "))
	fmt.Fprintf(&report, "|---|%s%s\n", strings.Repeat("---|", len(vars)), strings.Repeat("---|", len(vars)-1))
	for _, g := range chosen {
		for _, v := range vars {
			if _, _, err := e.once(v, g); err != nil {
				log.Fatalf("%s %s: %v", v, g.name, err)
			}
		}
		cpu := make([][]float64, len(vars))
		wall := make([][]float64, len(vars))
		for r := 0; r < *runs; r++ {
			for i, v := range vars {
				c, w, err := e.once(v, g)
				if err != nil {
					log.Fatalf("%s %s: %v", v, g.name, err)
				}
				cpu[i], wall[i] = append(cpu[i], c), append(wall[i], w)
			}
		}
		last := len(vars) - 1
		var cells, ratios []string
		for i := range vars {
			cells = append(cells, fmt.Sprintf("%.1f / %.1f", median(cpu[i]), median(wall[i])))
		}
		for i := 0; i < last; i++ {
			ratios = append(ratios, fmt.Sprintf("**%.2f** (%.2f)", pairedRatio(cpu[i], cpu[last]), pairedRatio(wall[i], wall[last])))
		}
		line := fmt.Sprintf("| %s | %s | %s |", g.what, strings.Join(cells, " | "), strings.Join(ratios, " | "))
		log.Print(line)
		report.WriteString(line + "\n")
	}
	fmt.Print(report.String())
	if *outFile != "" {
		if err := os.WriteFile(*outFile, []byte(report.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// build makes (or finds) the binary of variant v.
func (e *env) build(v string) {
	bin := filepath.Join(e.dir, v)
	for _, kv := range split(*extra) {
		if name, path, ok := strings.Cut(kv, "="); ok && name == v {
			e.bins[v] = path
			return
		}
	}
	switch v {
	case "wazix":
		e.run([]string{"CGO_ENABLED=0"}, "go", "build", "-o", bin, "./cmd/wazix")
	case "wazix-default":
		e.run(nil, "go", "build", "-o", bin, "./cmd/wazix")
	case "wazero":
		var err error
		if bin, err = exec.LookPath("wazero"); err != nil {
			gopath := strings.TrimSpace(string(must(exec.Command("go", "env", "GOPATH").Output())))
			bin = filepath.Join(gopath, "bin", "wazero")
			if _, err := os.Stat(bin); err != nil {
				log.Printf("installing the wazero CLI (go install github.com/tetratelabs/wazero/cmd/wazero@v1.12.0)")
				e.run(nil, "go", "install", "github.com/tetratelabs/wazero/cmd/wazero@v1.12.0")
			}
		}
	default:
		log.Fatalf("-variants: unknown CLI %q (wazix, wazix-default, wazero)", v)
	}
	e.bins[v] = bin
}

// once runs guest g under variant v and returns its CPU and wall time in
// milliseconds.
func (e *env) once(v string, g guest) (cpu, wall float64, err error) {
	var args []string
	if !strings.HasPrefix(v, "wazero") {
		args = append([]string{"run", "--cache-dir", filepath.Join(e.dir, "cache-"+v), "--dir", e.data + "::/d", e.wasm}, g.args...)
	} else {
		args = append([]string{"run", "-cachedir", filepath.Join(e.dir, "cache-"+v), "-mount", e.data + ":/d", e.wasm}, g.args...)
	}
	cmd := exec.Command(e.bins[v], args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard // a pipe that the runner drains, as a caller that captures output
	start := time.Now()
	err = cmd.Run()
	wall = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = float64(ru.Utime.Usec+ru.Stime.Usec)/1000 + float64(ru.Utime.Sec+ru.Stime.Sec)*1000
	return cpu, wall, nil
}

func (e *env) run(extraEnv []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), extraEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// pairedRatio is the median of a[i]/b[i] over the rounds.
func pairedRatio(a, b []float64) float64 {
	var r []float64
	for i := range a {
		if b[i] > 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return median(r)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func mapList(xs []string, f func(string) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
