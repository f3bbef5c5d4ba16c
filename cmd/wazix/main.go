// Command wazix runs WebAssembly programs built for WASI preview1 and WASIX.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
)

// exitError carries the process exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func newApp() *cli.Command {
	return &cli.Command{
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
		ExitErrHandler:  func(context.Context, *cli.Command, error) {},
		OnUsageError:    usageError,
	}
}

// usageError returns a flag error as it is, so that run prints it as one
// line: without it, urfave/cli prints "Incorrect Usage" and the help text.
func usageError(_ context.Context, _ *cli.Command, err error, _ bool) error {
	return err
}

// tailKey is the context key of the arguments that execute kept away from
// the flag parser: those after a command's first positional argument.
type tailKey struct{}

// execute runs app on args. Flag parsing stops at a command's first
// positional argument (the module), as with urfave/cli v2 and Go's flag
// package: what follows it, the guest's own arguments and flags included, is
// left untouched and reaches the command through commandArgs. urfave/cli v3
// would parse flags anywhere on the line (and its StopOnNthArg still drops a
// "--" right after the module and parses flags after an empty argument).
func execute(app *cli.Command, args []string) error {
	ctx := context.Background()
	if len(args) > 2 {
		if cmd := app.Command(args[1]); cmd != nil {
			if i := firstPositional(cmd, args[2:]); i >= 0 {
				i += 2
				ctx = context.WithValue(ctx, tailKey{}, args[i+1:])
				args = args[:i+1]
			}
		}
	}
	return app.Run(ctx, args)
}

// firstPositional returns the index in args of the first argument that is
// not a flag of cmd or a flag's value, under the rules of Go's flag package
// (a "--" ends the flags; "-" and "" are positional), or -1 when there is
// none or when a flag is unknown (the parser then reports it).
func firstPositional(cmd *cli.Command, args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		}
		if len(a) < 2 || a[0] != '-' {
			return i
		}
		name := strings.TrimPrefix(a[1:], "-")
		name, _, hasValue := strings.Cut(name, "=")
		if name == "help" || name == "h" {
			continue
		}
		var flag cli.Flag
		for _, f := range cmd.Flags {
			for _, n := range f.Names() {
				if n == name {
					flag = f
				}
			}
		}
		if flag == nil {
			return -1
		}
		if isBoolFlag(flag) {
			continue
		}
		if !hasValue {
			i++
		}
	}
	return -1
}

// isBoolFlag reports whether f takes no value: a BoolFlag, or a GenericFlag
// whose value says so (--trace). (A flag's own IsBoolFlag only answers once
// the command has run.)
func isBoolFlag(f cli.Flag) bool {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return true
	case *cli.GenericFlag:
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return ok && b.IsBoolFlag()
	}
	return false
}

// commandArgs returns the command's positional arguments: those the parser
// left and the tail that execute kept from it.
func commandArgs(ctx context.Context, c *cli.Command) []string {
	args := c.Args().Slice()
	if tail, ok := ctx.Value(tailKey{}).([]string); ok {
		args = append(args[:len(args):len(args)], tail...)
	}
	return args
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
	err := execute(newApp(), args)
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

// flagMessage words urfave/cli's flag errors as wazix always has (those of
// Go's flag package): `invalid value "V" for flag -NAME: parse error` rather
// than the parser's own error, `invalid boolean value "V" for -NAME: parse
// error` for a boolean and `flag needs an argument: -NAME` with one dash.
// --trace=CATEGORIES gets its own message: "--trace=V: " and the reason.
func flagMessage(msg string) string {
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "flag needs an argument: -" + strings.TrimLeft(name, "-")
	}
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	if !ok {
		return msg
	}
	i := strings.Index(rest, " for flag -")
	if i < 0 {
		return msg
	}
	value := rest[:i]
	name, reason, ok := strings.Cut(rest[i+len(" for flag -"):], ": ")
	if !ok {
		return msg
	}
	if name == "trace" {
		if v, err := strconv.Unquote(value); err == nil {
			value = v
		}
		return "--trace=" + value + ": " + reason
	}
	for _, cmd := range commands() {
		for _, f := range cmd.Flags {
			if _, isBool := f.(*cli.BoolFlag); isBool && slices.Contains(f.Names(), name) {
				return "invalid boolean value " + value + " for -" + name + ": parse error"
			}
		}
	}
	return "invalid value " + value + " for flag -" + name + ": parse error"
}
