// Command wazix runs WebAssembly programs built for WASI preview1 and WASIX.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/urfave/cli/v2"
)

// exitError carries the process exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func newApp() *cli.App {
	return &cli.App{
		Name:  "wazix",
		Usage: "run, inspect and translate WebAssembly programs built for WASI preview1 and WASIX",
		Description: `wazix runs WebAssembly modules that import the WASI preview1 interface
(wasi_snapshot_preview1, or the older wasi_unstable) on the wazero engine,
with its own implementation of every host function: files and directories
confined to the directories you preopen, clocks, random, arguments and
environment, preopened sockets, and a poll_oneoff that really waits, so an
idle server uses no CPU.

It also inspects a module's system interface (wazix inspect) and rewrites
WASIX modules into modules that import only WASI preview1, so that any
preview1 host runs them (wazix translate).

Examples:
   wazix run hello.wasm
   wazix run --dir . app.wasm -- --flag value
   wazix run --dir /srv/data::/data --env MODE=prod app.wasm
   wazix run --listen 127.0.0.1:8080 server.wasm
   wazix inspect --format json app.wasm
   wazix translate app.wasm -o app-p1.wasm`,
		HideHelpCommand: true,
		Commands:        commands(),
		ExitErrHandler:  func(*cli.Context, error) {},
	}
}

func main() {
	// WAZIX_CPUPROFILE=FILE writes a CPU profile of the whole run (used by
	// cmd/wazix-bench to show where a server's time goes).
	if p := os.Getenv("WAZIX_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args))
}

// run executes the CLI and returns the process exit code; errors are
// printed as one line on stderr.
func run(args []string) int {
	err := newApp().Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "wazix: "+ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "wazix: "+flagMessage(err.Error()))
	var coder cli.ExitCoder
	if errors.As(err, &coder) && coder.ExitCode() != 0 {
		return coder.ExitCode()
	}
	return 2
}

// flagMessage rewords the flag package's error for --trace=CATEGORIES: the
// flag is a boolean to the parser (so that a bare --trace takes no value),
// which calls any bad value an "invalid boolean value".
func flagMessage(msg string) string {
	const pre = "invalid boolean value "
	if rest, ok := strings.CutPrefix(msg, pre); ok {
		if i := strings.Index(rest, " for -trace: "); i >= 0 {
			return "--trace=" + strings.Trim(rest[:i], `"`) + ": " + rest[i+len(" for -trace: "):]
		}
	}
	return msg
}
