package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wazix/wazix/fixtures"
)

// --trace prints one decoded line per call, --trace=CATS filters, and
// --trace-file writes elsewhere; the network summary stays.
func TestRunTrace(t *testing.T) {
	wasm := fixtures.Path(t, "wat/tracecalls")
	dir := t.TempDir()
	r := runCLI(t, nil, "run", "--trace", "--dir", dir+"::/data", wasm)
	if r.code != 3 {
		t.Fatalf("code %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, re := range []string{
		`(?m)^\d+\.\d{6} \[1\] path_open\(fd=3</data> lookup=SYMLINK_FOLLOW path="missing.txt" oflags=0 rights=FD_WRITE inheriting=0 fdflags=0\) = ENOENT <[^>]+>$`,
		`(?m)^\d+\.\d{6} \[1\] path_open\(fd=3</data> .*path="data.txt" oflags=CREAT\|TRUNC .*\) = ESUCCESS fd=4</data/data.txt> <[^>]+>$`,
		`(?m)^\d+\.\d{6} \[1\] fd_write\(fd=4</data/data.txt> iovs=1/6B "hello\\n"\) = ESUCCESS nwritten=6 <[^>]+>$`,
		`(?m)^\d+\.\d{6} \[1\] path_open\(.*path=\?\(0xfffffff0,10\).*\) = EFAULT <`,
		`(?m)^\d+\.\d{6} \[1\] memory.grow\(1 -> 2 pages\)$`,
		`(?m)^\d+\.\d{6} \[1\] proc_exit\(code=3\) = \(did not return\) <`,
		`(?m)^wazix trace: 0 kinds of operations denied by the network policy$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("stderr lacks %s:\n%s", re, r.stderr)
		}
	}

	r = runCLI(t, nil, "run", "--trace=poll,random", "--dir", dir+"::/data", wasm)
	if r.code != 3 || strings.Contains(r.stderr, "path_open") || !strings.Contains(r.stderr, "poll_oneoff(subs=1[{ud=7 clock MONOTONIC rel 0s}]) = ESUCCESS events=1[{ud=7 clock}]") ||
		!strings.Contains(r.stderr, "random_get(buf=8B) = ESUCCESS") {
		t.Errorf("--trace=poll,random: code %d\n%s", r.code, r.stderr)
	}

	file := filepath.Join(t.TempDir(), "trace.txt")
	r = runCLI(t, nil, "run", "--trace=fs", "--trace-file", file, "--dir", dir+"::/data", wasm)
	b, _ := os.ReadFile(file)
	if r.code != 3 || strings.Contains(r.stderr, "path_open") || !strings.Contains(string(b), "fd_close(fd=4</data/data.txt>) = ESUCCESS") || strings.Contains(string(b), "random_get") {
		t.Errorf("--trace-file: code %d, stderr %q, file:\n%s", r.code, r.stderr, b)
	}

	for _, bad := range [][]string{{"--trace=disk"}, {"--trace-file", file}} {
		r = runCLI(t, nil, append(append([]string{"run"}, bad...), wasm)...)
		if r.code != 2 {
			t.Errorf("%v: code %d, want 2 (stderr %q)", bad, r.code, r.stderr)
		}
	}
	if r = runCLI(t, nil, "run", "--trace=disk", wasm); !regexp.MustCompile(`(?m)^wazix: --trace=disk: unknown trace category "disk"`).MatchString(r.stderr) || strings.Contains(r.stderr, "wazix trace:") {
		t.Errorf("--trace=disk: stderr %q", r.stderr)
	}

	r = runCLI(t, nil, "run", "--trace=net", fixtures.Path(t, "wat/wasix_denied"))
	if r.code != 2 || !regexp.MustCompile(`sock_connect\(fd=\d+<sock> addr=10.0.0.1:80\) = EACCES \(denied by --net/--net-allow\)`).MatchString(r.stderr) ||
		!strings.Contains(r.stderr, "wazix trace: 1 kind of operation denied by the network policy\n") ||
		!strings.Contains(r.stderr, "wazix trace: denied connect 10.0.0.1:80 (x1)") {
		t.Errorf("denied: code %d\n%s", r.code, r.stderr)
	}
}

func TestRunStats(t *testing.T) {
	r := runCLI(t, nil, "run", "--stats", "--dir", t.TempDir()+"::/data", fixtures.Path(t, "wat/tracecalls"))
	if r.code != 3 {
		t.Fatalf("code %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, re := range []string{
		`(?m)^  path_open +3 +2 +\S+ +\S+$`,
		`(?m)^  fd_write +1 +0 `,
		`(?m)^  total +8 +2 `,
		`(?m)^  bytes read 0, written 6$`,
		`(?m)^  peak memory 2 pages \(128 KiB\)$`,
		`(?m)^  threads created 0, processes created 0$`,
		`(?m)^  wall \d+ms, cpu \d+ms \(user \d+ms, system \d+ms\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("stats lack %s:\n%s", re, r.stderr)
		}
	}
	r = runCLI(t, nil, "run", "--stats", fixtures.Path(t, "wat/thread_wasi"))
	if r.code != 0 || !strings.Contains(r.stderr, "threads created 4, processes created 0\n") {
		t.Errorf("threads: code %d\n%s", r.code, r.stderr)
	}
}

func TestRunLimits(t *testing.T) {
	grow := fixtures.Path(t, "wat/grow")
	for _, c := range []struct {
		size string
		code int
	}{{"1M", 16}, {"1MiB", 16}, {"2097152", 32}, {"64K", 1}, {"1G", 100}, {"x", 2}, {"1000", 2}, {"5G", 2}} {
		if r := runCLI(t, nil, "run", "--max-memory", c.size, grow); r.code != c.code {
			t.Errorf("--max-memory %s: code %d, want %d (stderr %q)", c.size, r.code, c.code, r.stderr)
		}
	}
	for _, c := range []struct {
		name, stdout string
	}{{"wat/spin", "spinning\n"}, {"wat/thread_spin", "16\n"}} {
		start := time.Now()
		r := runCLI(t, nil, "run", "--timeout", "500ms", "--max-memory", "1M", fixtures.Path(t, c.name))
		if d := time.Since(start); r.code != 124 || r.stdout != c.stdout || d > 5*time.Second {
			t.Errorf("%s: code %d after %v, stdout %q, stderr %q", c.name, r.code, d, r.stdout, r.stderr)
		}
		assertOneLine(t, r, "--timeout 500ms")
	}
}

// TestStatsCountsProcesses: --stats counts the processes a guest forks.
func TestStatsCountsProcesses(t *testing.T) {
	r := runCLI(t, strings.NewReader(""), "run", "--stats", fixtures.Path(t, "c/fork"))
	if r.code != 0 || !strings.Contains(r.stderr, ", processes created 3\n") {
		t.Errorf("exit %d stderr %s", r.code, r.stderr)
	}
}

// TestTraceProcesses: a forked child's lines say which process they come
// from ([pid:tid]) and decode with that process's own fds; process calls
// and getcwd are decoded.
func TestTraceProcesses(t *testing.T) {
	r := runCLI(t, strings.NewReader(""), "run", "--trace=proc,fs", fixtures.Path(t, "c/fork"))
	for _, re := range []string{
		`(?m)^\d+\.\d{6} \[1\] proc_fork\(copy_memory=1\) = ESUCCESS pid=2 <`,
		`(?m)^\d+\.\d{6} \[2:1\] proc_id\(\) = ESUCCESS pid=2 <`,
		`(?m)^\d+\.\d{6} \[2:1\] fd_write\(fd=5<pipe> iovs=1/28B "child 2 parent 1 counter 15\\n"\) = ESUCCESS nwritten=28 <`,
		`(?m)^\d+\.\d{6} \[2:1\] proc_exit2\(code=7\) = \(did not return\) <`,
		`(?m)^\d+\.\d{6} \[1\] proc_join\(pid=2 flags=0 status=0x[0-9a-f]+\) = ESUCCESS child=2 <`,
		`(?m)^\d+\.\d{6} \[1\] proc_join\(pid=any flags=0 status=0x[0-9a-f]+\) = ECHILD <`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("stderr lacks %s:\n%s", re, r.stderr)
		}
	}
	r = runCLI(t, nil, "run", "--trace=fs", fixtures.Path(t, "c/wasix_core"), "cwd")
	if !regexp.MustCompile(`(?m)^\d+\.\d{6} \[1\] getcwd\(\) = ESUCCESS cwd="/" <`).MatchString(r.stderr) {
		t.Errorf("getcwd:\n%s", r.stderr)
	}
}
