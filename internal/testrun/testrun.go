// Package testrun runs guest fixtures through the wazix Go API for tests.
package testrun

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
)

var (
	cacheOnce sync.Once
	cache     wazero.CompilationCache
)

// Cache is one in-memory compilation cache shared by the tests of a binary,
// so that each fixture is compiled once.
func Cache() wazero.CompilationCache {
	cacheOnce.Do(func() { cache = wazero.NewCompilationCache() })
	return cache
}

// Options describe one guest run.
type Options struct {
	Args   []string // argv[1:]; argv[0] is "guest"
	Env    []string // KEY=VALUE
	Dirs   [][2]string
	Listen []string
	// Net gives the guest the network; NetAllow adds --net-allow rules.
	Net      bool
	NetAllow []string
	MaxFds   int
	Stdin    io.Reader
	Stdout   io.Writer // default: captured into Result.Stdout
	Ctx      context.Context
	// Started is called with the host once it is instantiated, before _start.
	Started func(h *wazix.Host)
	// MaxThreads limits the guest's live threads (0: the default).
	MaxThreads int
	// MaxProcs limits the live processes of the guest's tree (0: the default).
	MaxProcs int
	// CloseOnContextDone configures the runtime so that guests computing
	// without host calls can be stopped (as the CLI does for threaded guests).
	CloseOnContextDone bool
}

// Result is what a guest run produced.
type Result struct {
	Stdout, Stderr string
	Code           uint32
	Err            error
}

// Lines returns stdout split into lines.
func (r Result) Lines() []string {
	s := strings.TrimRight(r.Stdout, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// syncBuffer is a bytes.Buffer safe for the guest and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Run runs wasm to completion with o and returns its output and exit code.
func Run(tb testing.TB, wasm []byte, o Options) Result {
	tb.Helper()
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	rc := wazix.NewRuntimeConfig().WithCompilationCache(Cache())
	if o.CloseOnContextDone {
		rc = rc.WithCloseOnContextDone(true)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	defer rt.Close(context.Background())
	wasm, err := wazix.PrepareModule(wasm)
	if err != nil {
		tb.Fatalf("prepare: %v", err)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	var stdout, stderr syncBuffer
	cfg := wazix.NewConfig().WithArgs(append([]string{"guest"}, o.Args...)...).WithStderr(&stderr)
	if o.Stdout != nil {
		cfg.WithStdout(o.Stdout)
	} else {
		cfg.WithStdout(&stdout)
	}
	if o.Stdin != nil {
		cfg.WithStdin(o.Stdin)
	} else {
		cfg.WithStdin(strings.NewReader(""))
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg.WithEnv(k, v)
	}
	for _, d := range o.Dirs {
		cfg.WithDir(d[0], d[1])
	}
	for _, l := range o.Listen {
		cfg.WithListen(l)
	}
	if o.MaxThreads > 0 {
		cfg.WithMaxThreads(o.MaxThreads)
	}
	if o.MaxProcs > 0 {
		cfg.WithMaxProcs(o.MaxProcs)
	}
	if o.Net {
		cfg.WithNet()
	}
	for _, r := range o.NetAllow {
		cfg.WithNetAllow(r)
	}
	if o.MaxFds > 0 {
		cfg.WithMaxFds(o.MaxFds)
	}
	host, err := cfg.Instantiate(ctx, rt)
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	defer host.Close(ctx)
	if o.Started != nil {
		o.Started(host)
	}
	code, err := host.Run(ctx, rt, compiled)
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code, Err: err}
}
