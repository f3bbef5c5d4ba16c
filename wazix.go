// Package wazix adds wazix's WASI host modules to a wazero runtime.
//
// wazix implements wasi_snapshot_preview1 (and the older wasi_unstable) itself,
// over its own fd table and a readiness registry on host epoll, so that
// poll_oneoff really waits: an idle guest server uses no CPU.
//
// A program builds a Config, instantiates it into its wazero runtime, and
// runs guests with the returned Host:
//
//	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
//	host, err := wazix.NewConfig().WithArgs("guest", "hello").WithDir("/tmp/data", "/data").Instantiate(ctx, rt)
//	if err != nil { ... }
//	defer host.Close(ctx)
//	code, err := host.Run(ctx, compiled)
//
// One Host serves one guest process.
package wazix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix/abi/wasix"
	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/internal/trace"
)

// Config describes the process a guest runs in: arguments, environment,
// stdio, preopened directories and sockets. The With methods modify and
// return the Config.
type Config struct {
	args    []string
	env     []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	dirs    []preopen
	listens []string
	maxFds  int
	maxThr  int
	// maxProcs bounds the live processes of the guest's tree (forks, spawns).
	maxProcs int
	// cwd is the initial working directory ("" = "/").
	cwd string
	// privateTmp: see WithPrivateTmp.
	privateTmp bool

	allowClockSet bool
	net           bool
	allow         []string

	tracers   []trace.Hook
	maxMemory uint64
	timeout   time.Duration
}

type preopen struct{ host, guest string }

// NewConfig returns a Config with no arguments, no environment, no files and
// the host process's stdio.
func NewConfig() *Config {
	return &Config{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
}

// WithArgs sets the guest's argv; args[0] is the program name.
func (c *Config) WithArgs(args ...string) *Config { c.args = append([]string(nil), args...); return c }

// WithEnv adds one environment variable.
func (c *Config) WithEnv(key, value string) *Config {
	c.env = append(c.env, key+"="+value)
	return c
}

// WithStdin sets the guest's stdin. An *os.File is used through its host fd,
// so that poll_oneoff sees its real readiness; other readers are always ready.
func (c *Config) WithStdin(r io.Reader) *Config { c.stdin = r; return c }

// WithStdout sets the guest's stdout.
func (c *Config) WithStdout(w io.Writer) *Config { c.stdout = w; return c }

// WithStderr sets the guest's stderr.
func (c *Config) WithStderr(w io.Writer) *Config { c.stderr = w; return c }

// WithDir preopens host directory hostPath as guestPath. Preopens get fds
// from 3 upwards, in the order they are added. The guest cannot reach
// anything outside hostPath through it. A preview1 guest resolves paths
// beneath each preopen; for a WASIX guest the preopens are mounts of one
// tree, guestPath "/" (or ".") being its root (docs/filesystem.md).
func (c *Config) WithDir(hostPath, guestPath string) *Config {
	c.dirs = append(c.dirs, preopen{host: hostPath, guest: guestPath})
	return c
}

// WithListen preopens a listening TCP socket on addr ("host:port"; port 0
// picks a free port, see Host.ListenAddrs). Sockets get the fds after the
// preopened directories.
func (c *Config) WithListen(addr string) *Config { c.listens = append(c.listens, addr); return c }

// WithNet gives the guest the host's network: it may bind, connect and
// send datagrams anywhere, and resolve names with the host resolver.
// Without WithNet or WithNetAllow a guest has no network; the sockets
// preopened with WithListen work either way. Operations the policy refuses
// fail with EACCES and are counted (Host.Denied).
func (c *Config) WithNet() *Config { c.net = true; return c }

// WithNetAllow lets the guest bind, connect and send datagrams only to the
// addresses rule matches: "CIDR[:PORTS]", for example "127.0.0.1/32",
// "10.0.0.0/8:80,443", "192.168.1.5:8000-8100" or "[::1]/128:8080" (a bare
// address is a single host; no ports means every port). Rules add up. Any
// rule also turns on name resolution. Instantiate reports a malformed rule.
func (c *Config) WithNetAllow(rule string) *Config { c.allow = append(c.allow, rule); return c }

// WithMaxFds limits how many fds the guest may hold open (default 65536).
func (c *Config) WithMaxFds(n int) *Config { c.maxFds = n; return c }

// WithCwd sets the guest's initial working directory, a guest path: what
// a WASIX guest's getcwd reports (its libc resolves relative paths from
// it), and PWD in the guest's environment unless WithEnv sets it (Go's
// wasip1 runtime starts there). A directory that is not in the guest's
// tree makes Run fail.
func (c *Config) WithCwd(dir string) *Config { c.cwd = path.Clean(dir); return c }

// WithPrivateTmp gives a WASIX guest that has no directory mounted at / or
// /tmp a private, writable /tmp, as Wasmer's root has one: a new empty
// directory in the host's temporary directory, removed with everything in
// it when the Host closes. Preview1 guests, which have no root, get none.
func (c *Config) WithPrivateTmp() *Config { c.privateTmp = true; return c }

// PrivateTmp returns the host directory of the guest's private /tmp (see
// Config.WithPrivateTmp), or "" when it has none.
func (h *Host) PrivateTmp() string {
	if d := h.tmpDir.Load(); d != nil {
		return *d
	}
	return ""
}

// WithMaxProcs limits the live processes of the guest's tree (itself, what
// it forks and spawns, and theirs); past it fork and spawn fail with EAGAIN,
// so a fork bomb ends cleanly. The default is 256.
func (c *Config) WithMaxProcs(n int) *Config { c.maxProcs = n; return c }

// WithMaxThreads limits how many threads the guest may have alive at once,
// the main thread included (default 512); spawning more fails with EAGAIN.
func (c *Config) WithMaxThreads(n int) *Config { c.maxThr = n; return c }

// WithClockSet lets a WASIX guest set its realtime clock with clock_time_set
// (otherwise EPERM). Only the guest's own view changes, never the host's.
func (c *Config) WithClockSet(allow bool) *Config { c.allowClockSet = allow; return c }

// WithMaxMemory caps the guest's linear memory at bytes (rounded down to
// 64 KiB pages), below the maximum the module declares: a memory.grow past
// it fails, so the guest's allocator reports out of memory. A module whose
// initial memory is larger cannot start. 0 means no cap (the default).
func (c *Config) WithMaxMemory(bytes uint64) *Config { c.maxMemory = bytes; return c }

// WithTimeout ends the guest and all its threads when d has passed since
// Run began; Run then returns ErrTimeout. A guest blocked in a host call
// stops at once; one that computes without calling the host stops only on
// a runtime configured WithCloseOnContextDone(true). 0 means no limit.
func (c *Config) WithTimeout(d time.Duration) *Config { c.timeout = d; return c }

// ErrTimeout is returned by Run when the guest ran longer than WithTimeout
// allows.
var ErrTimeout = errors.New("wazix: the guest ran out of time")

// NewRuntimeConfig returns the wazero runtime configuration wazix expects:
// the threads feature is on for guests that import shared memory.
//
// A guest blocked in a wazix host call (poll_oneoff, a blocking read or
// accept) stops as soon as its context is done. To also interrupt a guest
// that computes without calling the host, add WithCloseOnContextDone(true);
// it is off by default because it slows Go guests several times. Turn it on
// for guests that spawn threads (see SpawnsThreads): when one thread exits
// or traps, the others are then stopped even while they compute.
func NewRuntimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads)
}

// Host is the system state of one guest process, instantiated into a wazero
// runtime as the WASI host modules.
type Host struct {
	tracer    *trace.Tracer // nil unless traced
	maxPages  uint32        // WithMaxMemory in pages; 0 = none
	timeout   time.Duration
	sys       *sys.System
	listeners []string
	maxThr    int
	stderr    io.Writer
	proc      *wasix.Process // set by InstantiateModule or Run
	threads   *wasix.Threads // the process's threads, once it runs
	cwd       string         // WithCwd
	privTmp   bool           // WithPrivateTmp
	// launching is held while Run sets the process up, so that a Signal
	// from another goroutine meanwhile waits for its handlers to exist.
	launching sync.RWMutex
	tmpDir    atomic.Pointer[string] // the private /tmp's host directory, once made
}

// Instantiate creates the process state described by c for a guest of rt.
// The host modules the guest imports are instantiated for it alone when it
// runs (Run or InstantiateModule), so one runtime runs any number of guests
// at once, each with its own Config. Close the Host when the guest is done:
// it closes every fd the guest left open.
func (c *Config) Instantiate(ctx context.Context, rt wazero.Runtime) (*Host, error) {
	s, err := sys.NewSystem(c.maxFds)
	if err != nil {
		return nil, fmt.Errorf("wazix: %w", err)
	}
	h := &Host{sys: s, maxThr: c.maxThr, stderr: c.stderr, timeout: c.timeout}
	if c.maxMemory > 0 {
		h.maxPages = uint32(min(c.maxMemory/65536, 65536))
		if h.maxPages == 0 {
			s.Close()
			return nil, fmt.Errorf("wazix: a memory limit of %d bytes is less than one page (64 KiB)", c.maxMemory)
		}
	}
	if len(c.tracers) > 0 {
		// Decided once: the host functions are wrapped only for a traced
		// guest, so an untraced one runs the same functions as before.
		h.tracer = trace.New(s, c.tracers...)
		h.tracer.Install()
	}
	s.Net.All = c.net
	for _, r := range c.allow {
		rule, err := sys.ParseNetRule(r)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("wazix: %w", err)
		}
		s.Net.Rules = append(s.Net.Rules, rule)
	}
	if err := h.setup(c); err != nil {
		s.Close()
		return nil, err
	}
	if e := s.JoinProcs(sys.NewProcs(c.maxProcs)); e != sys.ESUCCESS {
		s.Close()
		return nil, fmt.Errorf("wazix: %w", e)
	}
	return h, nil
}

func (h *Host) setup(c *Config) error {
	s := h.sys
	if err := sys.CheckArgsEnv(c.args, c.env); err != nil {
		return fmt.Errorf("wazix: %w", err)
	}
	s.Args = append([]string(nil), c.args...)
	s.AllowClockSet = c.allowClockSet
	s.Environ = append([]string(nil), c.env...)
	if c.cwd != "" && c.cwd != "/" && !hasEnv(s.Environ, "PWD") {
		s.Environ = append(s.Environ, "PWD="+c.cwd)
	}
	h.cwd = c.cwd
	h.privTmp = c.privateTmp
	for fd, std := range []any{c.stdin, c.stdout, c.stderr} {
		f, err := stdioFile(s, std)
		if err != nil {
			return fmt.Errorf("wazix: stdio %d: %w", fd, err)
		}
		rights := sys.RightsStream | sys.RightFdSeek | sys.RightFdTell
		if hf, ok := f.(*sys.HostFile); ok {
			switch {
			case hf.Filetype() == sys.FiletypeRegularFile:
				rights = sys.RightsRegularFile
			case isTerminal(hf.Fd()):
				rights = sys.RightsStream
			}
		}
		if e := s.Table.Set(uint32(fd), &sys.Entry{File: f, RightsBase: rights}); e != sys.ESUCCESS {
			return fmt.Errorf("wazix: stdio %d: %w", fd, e)
		}
	}
	for _, d := range c.dirs {
		f, err := sys.OpenDir(d.host)
		if err != nil {
			return fmt.Errorf("wazix: preopen %s: %w", d.host, err)
		}
		if f.Filetype() != sys.FiletypeDirectory {
			f.Close()
			return fmt.Errorf("wazix: preopen %s: not a directory", d.host)
		}
		guest := cleanGuest(d.guest)
		if err := s.FS.Mount(sys.MountPoint(guest), f); err != nil {
			f.Close()
			return fmt.Errorf("wazix: preopen %s: %w", d.host, err)
		}
		if _, e := s.Table.Insert(&sys.Entry{
			File:             f,
			RightsBase:       sys.RightsDirectory | sys.RightFdFilestatGet,
			RightsInheriting: sys.RightsDirectoryInheriting,
			Preopen:          guest,
		}, 3); e != sys.ESUCCESS {
			f.Close()
			return fmt.Errorf("wazix: preopen %s: %w", d.host, e)
		}
	}
	for _, addr := range c.listens {
		f, err := sys.Listen(s.Registry, addr)
		if err != nil {
			return fmt.Errorf("wazix: listen %s: %w", addr, err)
		}
		if _, e := s.Table.Insert(&sys.Entry{File: f, RightsBase: sys.RightsSocket}, 3); e != sys.ESUCCESS {
			f.Close()
			return fmt.Errorf("wazix: listen %s: %w", addr, e)
		}
		h.listeners = append(h.listeners, f.LocalAddr())
	}
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// cleanGuest normalises a guest preopen path; "" becomes ".".
func cleanGuest(p string) string {
	if p == "" {
		return "."
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return path.Clean(p)
}

func stdioFile(s *sys.System, std any) (sys.File, error) {
	if f, ok := std.(*os.File); ok && f != nil {
		return sys.NewHostFile(s.Registry, int(f.Fd()), false)
	}
	switch v := std.(type) {
	case io.Reader:
		if v == nil {
			return &sys.Stream{}, nil
		}
		st := &sys.Stream{R: v}
		if w, ok := v.(io.Writer); ok {
			st.W = w
		}
		return st, nil
	case io.Writer:
		return &sys.Stream{W: v}, nil
	}
	return &sys.Stream{}, nil
}

// ListenAddrs returns the bound addresses of the preopened sockets, in fd order.
func (h *Host) ListenAddrs() []string { return append([]string(nil), h.listeners...) }

// Denial is one kind of operation the network policy refused, and how often.
type Denial struct {
	What  string // "connect 10.0.0.1:80", "bind 0.0.0.0:8080", "resolve example.com", ...
	Count int
}

// Denied lists the operations the network policy refused so far, sorted.
func (h *Host) Denied() []Denial {
	var out []Denial
	for _, d := range h.sys.Denied.Counts() {
		out = append(out, Denial{What: d.What, Count: d.N})
	}
	return out
}

// Close ends the guest process if it still runs (stopping its threads),
// closes every fd of the guest and stops the readiness registry.
func (h *Host) Close(context.Context) error {
	if h.threads != nil {
		h.sys.End(0, nil)
		h.waitThreads()
	}
	h.sys.Procs.KillAll(h.sys)
	if h.proc != nil {
		h.proc.Close()
	}
	h.sys.Close()
	if d := h.tmpDir.Swap(nil); d != nil {
		os.RemoveAll(*d)
	}
	return nil
}

// Signal sends the signal sig (Linux numbering) to every process of the
// guest, as a terminal sends one to its foreground process group. A WASIX
// guest that registered a handler runs it on return from its next host
// call (blocking calls return EINTR); otherwise the default action applies
// at once: SIGCHLD, SIGURG and SIGWINCH are ignored, every other signal
// ends the process with status 128+sig. Signal reports whether the first
// process handles sig.
func (h *Host) Signal(sig int) bool {
	if sig <= 0 || sig > 31 {
		return false
	}
	h.launching.RLock()
	defer h.launching.RUnlock()
	procs := h.sys.Procs
	top := procs.Lookup(h.sys.Pid) // the current image, after execs
	handled := false
	for _, s := range procs.All() {
		if s.Signal != nil {
			s.Signal(uint32(sig))
		} else if sig != 17 && sig != 23 && sig != 28 {
			// A preview1 guest has no handlers: the default action.
			s.TermSignal.CompareAndSwap(0, uint32(sig))
			s.End(uint32(128+sig), nil)
		}
		if s == top {
			handled = s.Handles(uint32(sig))
		}
	}
	return handled
}

// SignalPending reports whether a signal sent with Signal still waits to
// be delivered to the guest's current process. Signals are delivered when
// a host call returns, so a guest that computes without host calls never
// takes one (the CLI then applies the default action itself).
func (h *Host) SignalPending() bool {
	h.launching.RLock()
	defer h.launching.RUnlock()
	top := h.sys.Procs.Lookup(h.sys.Pid)
	return top != nil && top.SigPending.Load() != 0
}

// ProcessesCreated returns how many processes the guest's tree made: its
// forks and spawns, and theirs (what `wazix run --stats` shows).
func (h *Host) ProcessesCreated() int { return h.sys.Procs.Created() }

// ErrNotStarted wraps what kept Run from starting the guest: imports wazix
// does not provide, a limit the module cannot fit, a working directory
// that is not there. The guest did not run.
var ErrNotStarted = errors.New("the guest did not start")

// ErrMissingImports is returned by Run for a module that imports something
// wazix does not provide.
var ErrMissingImports = errors.New("module imports functions wazix does not provide")

// CheckImports reports the imports of compiled that wazix cannot provide,
// as "module.name" strings, with the expected signature when only the
// signature is wrong. Memories are provided whatever their name.
func CheckImports(compiled wazero.CompiledModule) []string { return wasix.CheckImports(compiled) }

// Run instantiates compiled as the guest, runs its _start function and
// returns its exit code: the code passed to proc_exit, or 0 when _start
// returns. A trap or a failed instantiation is returned as an error.
// Call Run (or InstantiateModule) once per Host.
//
// Threads: a guest that imports a shared memory may spawn threads
// (wasix_32v1 thread_spawn in either ABI generation, wasi.thread-spawn);
// each is a new instance of compiled over the same memory. proc_exit from
// any thread ends the process with its code, a trap in any thread ends it
// with the trap as the error (exit code 1), and the main thread returning
// ends it with 0. Run returns once every thread has stopped: threads blocked
// in the host are woken; threads that compute without calling the host stop
// only if the runtime was configured WithCloseOnContextDone(true), otherwise
// Run gives up on them after a grace period of a few seconds and says so on
// stderr.
func (h *Host) Run(ctx context.Context, rt wazero.Runtime, compiled wazero.CompiledModule) (uint32, error) {
	parent := ctx
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	if err := h.launch(ctx, rt, compiled); err != nil {
		return 1, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	final, code, err := h.proc.Run()
	// An exec replaced the process: the Host now holds the last image.
	h.launching.Lock()
	h.proc, h.threads, h.sys = final, final.Threads, final.Sys
	h.launching.Unlock()
	// Every process the guest forked or spawned ends with it.
	h.sys.Procs.KillAll(h.sys)
	if h.timeout > 0 && ctx.Err() == context.DeadlineExceeded && parent.Err() == nil && timedOut(code, err) {
		return 124, ErrTimeout
	}
	return code, err
}

// launch prepares the process for compiled (see wasix.Launch).
func (h *Host) launch(ctx context.Context, rt wazero.Runtime, compiled wazero.CompiledModule) error {
	if missing := CheckImports(compiled); len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingImports, strings.Join(missing, ", "))
	}
	if h.proc != nil {
		return errAlreadyRunning
	}
	opts := wasix.LaunchOptions{MaxThreads: h.maxThr, Warn: h.stderr, MaxPages: h.maxPages, Cwd: h.cwd, PrivateTmp: h.privTmp}
	if h.tracer != nil {
		tr := h.tracer
		opts.MainEnded = func(mod api.Module) {
			if mod.Memory() != nil {
				tr.NotePages(mod.Memory().Size()/65536, sys.MainTid)
			}
		}
	}
	h.launching.Lock()
	p, err := wasix.Launch(ctx, rt, h.sys, compiled, opts)
	h.launching.Unlock()
	if err != nil {
		return err
	}
	h.proc, h.threads = p, p.Threads
	if p.TmpDir != "" {
		h.tmpDir.Store(&p.TmpDir)
	}
	return nil
}

// timedOut reports whether an exit status is that of a guest stopped by
// its context rather than one that ended by itself.
func timedOut(code uint32, err error) bool {
	var exit *wsys.ExitError
	return code == wsys.ExitCodeDeadlineExceeded || code == wsys.ExitCodeContextCanceled || errors.As(err, &exit)
}

// errAlreadyRunning is returned for a second guest on one Host.
var errAlreadyRunning = errors.New("wazix: the Host already runs a guest")

// threadGrace is how long the host waits for the other threads after the
// process ended.
const threadGrace = 3 * time.Second

// waitThreads waits for the guest's threads to stop after the process ended.
func (h *Host) waitThreads() {
	if h.threads == nil {
		return
	}
	if !h.threads.Wait(threadGrace) && h.stderr != nil {
		fmt.Fprintf(h.stderr, "wazix: %d guest threads did not stop within %v of the exit (computing without host calls; see NewRuntimeConfig)\n",
			h.threads.Live(), threadGrace)
	}
}

// PrepareModule returns wasm ready to be compiled for wazix. A module that
// can fork or longjmp (it imports wasix_32v1 proc_fork or stack_checkpoint and
// was built with asyncify) has
// its mutable globals exported, so that a fork can copy them into the
// child; any other module is returned as it is. The CLI does this; a Go
// program that runs such guests calls it before CompileModule.
func PrepareModule(wasm []byte) ([]byte, error) { return wasix.PrepareModule(wasm) }

// SpawnsThreads reports whether the module in wasm can spawn threads: it
// imports wasi.thread-spawn or a wasix_32v1 thread_spawn form. Runtimes for
// such guests should be configured WithCloseOnContextDone(true).
func SpawnsThreads(wasm []byte) bool {
	in, err := wasix.DecodeImports(wasm)
	if err != nil {
		return false
	}
	for _, im := range in.Imports {
		if wasix.IsThreadSpawn(im.Module, im.Name) {
			return true
		}
	}
	return false
}

// InstantiateModule provides what the guest's imports ask for and
// instantiates compiled with cfg (whose start functions run), leaving the
// module open for the caller: for reactor modules, or to call exports.
//
// For a WASIX guest it adds the wasix_32v1 module (in the ABI generation the
// guest was built for) and switches on WASIX semantics where they differ
// from preview1's; for a wasi-threads guest the wasi module; and it provides
// the memory the guest imports (shared when it has a maximum, as threaded
// WASIX binaries import env.memory).
//
// The module runs as the guest's main thread; threads it spawns are new
// instances of compiled (see Run). Closing the Host ends them.
func (h *Host) InstantiateModule(ctx context.Context, rt wazero.Runtime, compiled wazero.CompiledModule, cfg wazero.ModuleConfig) (api.Module, error) {
	if err := h.launch(ctx, rt, compiled); err != nil {
		return nil, err
	}
	return h.proc.Instantiate(cfg)
}
