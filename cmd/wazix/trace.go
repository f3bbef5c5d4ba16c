package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/internal/trace"
)

// threadGraceCLI is how long after --timeout the CLI waits for a guest that
// does not stop before it exits anyway.
const threadGraceCLI = 5 * time.Second

// traceFlag is --trace[=CATEGORIES]: alone it is a boolean (every category),
// with a value it selects categories. IsBoolFlag lets the flag package take
// "--trace" without a value, so that the next argument stays the module.
type traceFlag struct {
	set  bool
	cats wazix.TraceCategory
}

func (f *traceFlag) IsBoolFlag() bool { return true }

func (f *traceFlag) Set(s string) error {
	if s == "false" {
		f.set = false
		return nil
	}
	c, err := wazix.ParseTraceCategories(s)
	if err != nil {
		return err
	}
	f.set, f.cats = true, c
	return nil
}

// Get returns the flag itself (cli.Value).
func (f *traceFlag) Get() any { return f }

func (f *traceFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return f.cats.String()
}

// traceOutput returns a function that writes one trace line, to path or to
// stderr, and one that flushes and closes it (safe to call twice).
func traceOutput(path string) (func(string), func(), error) {
	var mu sync.Mutex
	if path == "" {
		return func(line string) {
			mu.Lock()
			os.Stderr.WriteString(line + "\n")
			mu.Unlock()
		}, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--trace-file: %v", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	closed := false
	return func(line string) {
			mu.Lock()
			if !closed {
				w.WriteString(line)
				w.WriteByte('\n')
			}
			mu.Unlock()
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			if !closed {
				closed = true
				w.Flush()
				f.Close()
			}
		}, nil
}

// writeStats prints the --stats table to stderr.
func writeStats(s *trace.Stats, started time.Time, processes int) {
	sum := s.Totals()
	sum.ProcessesCreated = processes
	sum.Wall = time.Since(started)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		sum.User = time.Duration(ru.Utime.Nano())
		sum.System = time.Duration(ru.Stime.Nano())
	}
	s.WriteTable(os.Stderr, sum)
}

// parseSize parses a byte count with an optional K, M, G (or KiB, MiB, GiB;
// all powers of 1024) suffix.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	for _, suf := range []struct {
		s string
		m uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"k", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, suf.s) {
			t, mult = strings.TrimSuffix(t, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad size %q (want bytes with an optional K, M, G, KiB, MiB or GiB suffix)", s)
	}
	if n > (1<<32)/mult {
		return 0, fmt.Errorf("size %q is more than the 4 GiB a 32-bit memory can hold", s)
	}
	return n * mult, nil
}
