package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	wsys "github.com/tetratelabs/wazero/sys"
	"github.com/urfave/cli/v3"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/internal/trace"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a WebAssembly module",
		ArgsUsage: "module.wasm [--] [args...]",
		Description: `Runs the module's _start function. The guest sees module.wasm as argv[0]
followed by args; everything after the module name goes to the guest.

The guest sees no files unless you preopen directories (--dir, --mapdir), no
environment unless you pass it (--env, --env-inherit) and no network except
the listening sockets you preopen (--listen): --net gives it the host's
network, --net-allow CIDR[:PORTS] only the listed addresses; refused
operations fail with EACCES (--trace shows and counts them). Preopened
directories get fds 3, 4, ... in the order given, then the listening sockets.

--trace prints one line per host call (arguments decoded, errno, out-values,
time); --stats a table at exit; see docs/trace.md.

A WASIX guest sees the directories as mounts of one tree: --dir HOST::/ is its
root, --mapdir /d:HOST adds /d, absolute paths resolve from the root, and /dev
holds null, zero, urandom, stdin, stdout, stderr, fd/N and tty. Without a mount
at / the root is a read-only directory of the mount points, preopened as / on
the next fd, with a private writable /tmp unless one is mounted (an empty host
temporary directory, removed at exit, as Wasmer's /tmp; --no-tmp leaves it
out). A preview1 guest resolves paths beneath each directory instead.

Exit status: the guest's exit code (1 if it is above 255, which an exit
status cannot hold; a negative one, exit(-1), keeps its low 8 bits: 255); 130 when interrupted; 124 after --timeout; 134 when the guest
traps (the trap and its wasm stack are printed on one line); 1 when the
module cannot be loaded; 2 for usage errors.

Environment: WAZIX_BACKTRACE_DETAILS=1 adds source file:line to a trap's
stack for a guest built with DWARF (clang -g), at the cost of parsing it at
each start.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "dir", Usage: "preopen host directory `HOST[::GUEST]` (GUEST defaults to HOST); repeatable"},
			&cli.StringSliceFlag{Name: "mapdir", Usage: "preopen host directory HOST as GUEST (`GUEST:HOST`, wasmer style); repeatable"},
			&cli.StringSliceFlag{Name: "env", Usage: "set environment variable `KEY=VALUE` for the guest; KEY alone copies the host's value; repeatable"},
			&cli.BoolFlag{Name: "env-inherit", Usage: "pass the host's whole environment to the guest"},
			&cli.StringFlag{Name: "argv0", Usage: "the guest's argv[0] (default: the module path as given)"},
			&cli.BoolFlag{Name: "no-tmp", Usage: "give a WASIX guest without a mount at / no private /tmp"},
			&cli.StringFlag{Name: "cwd", Usage: "the guest's initial working `DIR`, a guest path: a WASIX guest's getcwd, and PWD for the guest's environment unless set"},
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"tcplisten"}, Usage: "preopen a listening TCP socket on `ADDR` (host:port) as the next fd; repeatable"},
			&cli.StringFlag{Name: "cache-dir", Usage: "keep compiled modules in `DIR` (default: wazix in the user cache directory)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "do not cache compiled modules"},
			&cli.BoolFlag{Name: "net", Usage: "give the guest the host's network (bind, connect, sendto anywhere; DNS)"},
			&cli.StringSliceFlag{Name: "net-allow", Usage: "allow bind/connect/sendto only to `CIDR[:PORTS]` (e.g. 127.0.0.1/32:8080,9000-9100); turns on DNS; repeatable"},
			&cli.GenericFlag{Name: "trace", Value: &traceFlag{}, Usage: "print one line per host call to stderr (or --trace-file); `--trace=CATEGORIES` selects fs, net, poll, proc, thread, signal, clock, random, mem (default all); at exit, a summary of what the network policy refused"},
			&cli.StringFlag{Name: "trace-file", Usage: "write the --trace lines to `FILE` instead of stderr"},
			&cli.BoolFlag{Name: "stats", Usage: "at exit, print calls, errors and time per host function, bytes read and written, peak memory, threads, wall and CPU time to stderr"},
			&cli.StringFlag{Name: "max-memory", Usage: "cap the guest's linear memory at `SIZE` bytes (suffix K, M, G or KiB, MiB, GiB); growing past it fails"},
			&cli.DurationFlag{Name: "timeout", Usage: "end the guest and all its threads after `DURATION` (e.g. 30s), exit status 124"},
			&cli.IntFlag{Name: "max-fds", Value: 65536, Usage: "most fds the guest may hold open"},
			&cli.IntFlag{Name: "max-threads", Value: 512, Usage: "most threads the guest may have alive at once, main included (more: EAGAIN)"},
			&cli.IntFlag{Name: "max-procs", Value: 256, Usage: "most processes the guest's tree may have alive at once, itself included: fork and spawn past it fail with EAGAIN"},
			&cli.BoolFlag{Name: "allow-clock-set", Usage: "let a WASIX guest set its own view of the realtime clock (clock_time_set)"},
		},
		Action:       runAction,
		OnUsageError: usageError,
	}
}

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func runAction(cliCtx context.Context, c *cli.Command) error {
	args := commandArgs(cliCtx, c)
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return usageErr("run: missing module (usage: wazix run [flags] module.wasm [--] [args...])")
	}
	modPath, guestArgs := args[0], args[1:]
	if len(guestArgs) > 0 && guestArgs[0] == "--" {
		guestArgs = guestArgs[1:]
	}

	argv0 := modPath
	if c.IsSet("argv0") {
		argv0 = c.String("argv0")
	}
	cfg := wazix.NewConfig().WithArgs(append([]string{argv0}, guestArgs...)...)
	if cwd := c.String("cwd"); cwd != "" {
		if !strings.HasPrefix(cwd, "/") {
			return usageErr("run: --cwd %q: want an absolute guest path", cwd)
		}
		cfg.WithCwd(cwd)
	}
	if c.Bool("env-inherit") {
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			cfg.WithEnv(k, v)
		}
	}
	for _, kv := range c.StringSlice("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v, ok = os.LookupEnv(k)
			if !ok {
				continue
			}
		}
		if k == "" {
			return usageErr("run: --env %q: empty name", kv)
		}
		cfg.WithEnv(k, v)
	}
	for _, d := range c.StringSlice("dir") {
		host, guest, ok := strings.Cut(d, "::")
		if !ok {
			guest = host
		}
		if host == "" {
			return usageErr("run: --dir %q: empty host path", d)
		}
		cfg.WithDir(host, guest)
	}
	for _, d := range c.StringSlice("mapdir") {
		guest, host, ok := strings.Cut(d, ":")
		if !ok || host == "" || guest == "" {
			return usageErr("run: --mapdir %q: want GUEST:HOST", d)
		}
		cfg.WithDir(host, guest)
	}
	for _, a := range c.StringSlice("listen") {
		cfg.WithListen(a)
	}
	if !c.Bool("no-tmp") {
		cfg.WithPrivateTmp()
	}
	cfg.WithMaxFds(c.Int("max-fds"))
	if c.Int("max-threads") < 1 {
		return usageErr("run: --max-threads must be at least 1")
	}
	cfg.WithMaxThreads(c.Int("max-threads"))
	if c.Int("max-procs") < 1 {
		return usageErr("run: --max-procs must be at least 1")
	}
	cfg.WithMaxProcs(c.Int("max-procs"))
	cfg.WithClockSet(c.Bool("allow-clock-set"))
	if c.Bool("net") {
		cfg.WithNet()
	}
	for _, r := range c.StringSlice("net-allow") {
		if _, err := sys.ParseNetRule(r); err != nil {
			return usageErr("run: --%v", err)
		}
		cfg.WithNetAllow(r)
	}
	if s := c.String("max-memory"); s != "" {
		n, err := parseSize(s)
		if err != nil {
			return usageErr("run: --max-memory: %v", err)
		}
		if n < 65536 {
			return usageErr("run: --max-memory %s: less than one 64 KiB page", s)
		}
		cfg.WithMaxMemory(n)
	}
	timeout := c.Duration("timeout")
	if timeout < 0 {
		return usageErr("run: --timeout must not be negative")
	}
	cfg.WithTimeout(timeout)
	tf, _ := c.Generic("trace").(*traceFlag)
	tracing := tf != nil && tf.set
	if !tracing && c.String("trace-file") != "" {
		return usageErr("run: --trace-file needs --trace")
	}
	var closeTrace func()
	if tracing {
		out, done, err := traceOutput(c.String("trace-file"))
		if err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		closeTrace = done
		defer done()
		cfg.WithTracer(func(e wazix.TraceEvent) { out(e.String()) }, tf.cats)
	}
	var stats *trace.Stats
	if c.Bool("stats") {
		stats = trace.NewStats()
		cfg.WithTracer(stats.Add, wazix.TraceAll)
	}
	started := time.Now()

	wasm, err := os.ReadFile(modPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: not a WebAssembly module", modPath)}
	}

	// SIGINT, SIGTERM, SIGHUP and SIGWINCH go to the guest, as to a
	// foreground process group: a guest that handles them runs its
	// handler; one that does not ends with 128+sig (SIGWINCH is ignored).
	ctx := context.Background()
	var running atomic.Pointer[wazix.Host]
	finished := make(chan struct{})
	defer close(finished)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	go forwardSignals(sigs, &running, finished)

	rc := wazix.NewRuntimeConfig()
	// Source lines in trap stacks need the guest's DWARF parsed at every
	// start, a tenth of an empty C guest's start-up: opt in, as with
	// wasmtime's WASMTIME_BACKTRACE_DETAILS.
	backtraceDetails := os.Getenv("WAZIX_BACKTRACE_DETAILS") == "1"
	rc = rc.WithDebugInfoEnabled(backtraceDetails)
	if wazix.SpawnsThreads(wasm) || timeout > 0 {
		// When one thread exits or traps, the others must stop even
		// while they compute; so must a guest that runs out of time.
		rc = rc.WithCloseOnContextDone(true)
	}
	if timeout > 0 {
		// The last resort, as for an interrupt: leave if the guest has
		// not stopped some time after its deadline.
		t := time.AfterFunc(timeout+threadGraceCLI, func() { exitNow(running.Load(), 124) })
		defer t.Stop()
	}
	if !c.Bool("no-cache") {
		dir := c.String("cache-dir")
		if dir == "" {
			if base, err := os.UserCacheDir(); err == nil {
				dir = filepath.Join(base, "wazix")
			}
		}
		if dir != "" && backtraceDetails {
			// wazero's cache key leaves out the debug setting, and a
			// module compiled without it has no source map.
			dir = filepath.Join(dir, "backtrace-details")
		}
		if dir != "" {
			if cache, err := wazix.NewCompilationCacheWithDir(dir); err == nil {
				rc = rc.WithCompilationCache(cache)
				defer cache.Close(ctx)
			}
		}
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	defer rt.Close(context.Background())

	if wasm, err = wazix.PrepareModule(wasm); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: invalid module: %v", modPath, oneLine(err))}
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: invalid module: %v", modPath, oneLine(err))}
	}
	if missing := wazix.CheckImports(compiled); len(missing) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: imports functions wazix does not provide: %s", modPath, strings.Join(missing, ", "))}
	}
	host, err := cfg.Instantiate(ctx, rt)
	if err != nil {
		return &exitError{code: 1, msg: oneLine(err)}
	}
	defer host.Close(context.Background())
	if tracing {
		defer func() {
			closeTrace()
			denied := host.Denied()
			kinds := "kinds of operations"
			if len(denied) == 1 {
				kinds = "kind of operation"
			}
			fmt.Fprintf(os.Stderr, "wazix trace: %d %s denied by the network policy\n", len(denied), kinds)
			for _, d := range denied {
				fmt.Fprintf(os.Stderr, "wazix trace: denied %s (x%d)\n", d.What, d.Count)
			}
		}()
	}
	if stats != nil {
		defer func() { writeStats(stats, started, host.ProcessesCreated()) }()
	}

	running.Store(host)
	code, err := host.Run(ctx, rt, compiled)
	if errors.Is(err, wazix.ErrNotStarted) {
		return &exitError{code: 1, msg: oneLine(err)}
	}
	if errors.Is(err, wazix.ErrTimeout) {
		return &exitError{code: 124, msg: fmt.Sprintf("guest stopped after --timeout %v", timeout)}
	}
	if err != nil {
		var exit *wsys.ExitError
		if errors.As(err, &exit) {
			return &exitError{code: 130}
		}
		return &exitError{code: 134, msg: "trap: " + oneLine(err)}
	}
	if int32(code) < 0 && code&0xff != 0 {
		// exit(-1) in C: a negative status keeps its low 8 bits (255), as
		// on Linux and in Wasmer, and still reads as a failure.
		return &exitError{code: int(code & 0xff)}
	}
	if code > 255 {
		// A process exit status keeps only the low 8 bits, so proc_exit(256)
		// would look like success. Such codes cannot be passed through:
		// report a failure and the real code.
		return &exitError{code: 1, msg: fmt.Sprintf("guest exited with code %d, which does not fit in an exit status", code)}
	}
	if code != 0 {
		return &exitError{code: int(code)}
	}
	return nil
}

// forwardSignals sends the signals the CLI receives to the running guest.
// Before the guest runs, or when a terminating signal is not taken within
// a moment (the guest does not handle it and does not stop, or it handles
// it but computes without host calls, where signals are delivered, so that
// it never takes it: a guest cannot be stopped from outside without slowing
// every guest), the CLI itself exits with 128+sig.
func forwardSignals(sigs <-chan os.Signal, running *atomic.Pointer[wazix.Host], finished <-chan struct{}) {
	for {
		select {
		case <-finished:
			return
		case s := <-sigs:
			n, _ := s.(syscall.Signal)
			host := running.Load()
			if host == nil {
				if n == syscall.SIGWINCH {
					continue
				}
				exitNow(nil, 128+int(n))
			}
			handled := host.Signal(int(n))
			if n == syscall.SIGWINCH {
				continue
			}
			go func() {
				select {
				case <-time.After(2 * time.Second):
					if !handled || host.SignalPending() {
						exitNow(host, 128+int(n))
					}
				case <-finished:
				}
			}()
		}
	}
}

// exitNow ends the CLI at once, with the guest still running: the guest's
// private /tmp goes with it, as when the guest ends.
func exitNow(host *wazix.Host, code int) {
	if host != nil && host.PrivateTmp() != "" {
		os.RemoveAll(host.PrivateTmp())
	}
	os.Exit(code)
}

// oneLine folds a multi-line wazero error (message + wasm stack trace) into
// one line: "msg (wasm stack: f1 <- f2 <- ...)".
func oneLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	msg := lines[0]
	var stack []string
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "wasm stack trace:") {
			continue
		}
		stack = append(stack, l)
	}
	if len(stack) > 0 {
		msg += " (wasm stack: " + strings.Join(stack, " <- ") + ")"
	}
	return msg
}
