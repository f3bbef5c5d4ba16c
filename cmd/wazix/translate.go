package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v3"
	"github.com/wazix/wazix/translate"
)

// translateCommand is `wazix translate in.wasm -o out.wasm`.
func translateCommand() *cli.Command {
	return &cli.Command{
		Name:      "translate",
		Usage:     "rewrite a WASIX module into a module that imports only WASI preview1",
		ArgsUsage: "in.wasm",
		Description: "Re-points preview1 functions imported under wasix_32v1, emulates epoll, fd_event, fd_pipe, fd_dup,\n" +
			"getcwd/chdir, futexes, signals at start-up, proc_exit2, clocks and tty_get inside the module, and\n" +
			"stubs every other WASIX function with ENOSYS. A module without threads gets a defined, non-shared\n" +
			"memory (the stock wazero CLI and Node run it); one with threads spawns through wasi-threads'\n" +
			"wasi.thread-spawn and runs on hosts with wasi-threads. A report of what was done goes to stderr.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the translated module to `FILE` (required)"},
			&cli.BoolFlag{Name: "strict", Usage: "fail instead of stubbing functions that cannot be translated"},
			&cli.StringFlag{Name: "report", Value: "text", Usage: "report format on stderr: text, json or none"},
			&cli.BoolFlag{Name: "keep-shared-memory", Usage: "keep an imported (shared) memory and atomic instructions as they are, for hosts with threads (by default a module that spawns no threads gets a defined, non-shared memory)"},
			&cli.BoolFlag{Name: "unshare-memory", Usage: "the default, made explicit: a defined non-shared memory and plain instructions instead of atomic ones; refuses a module that spawns threads"},
		},
		OnUsageError: usageError,
		Action: func(ctx context.Context, c *cli.Command) error {
			args, err := argsWithTrailingFlags(ctx, c)
			if err != nil {
				return cli.Exit("translate: "+err.Error(), 2)
			}
			if len(args) != 1 {
				return cli.Exit("translate: expected one input module", 2)
			}
			if c.String("output") == "" {
				return cli.Exit("translate: -o/--output is required", 2)
			}
			format := c.String("report")
			if format != "text" && format != "json" && format != "none" {
				return cli.Exit(fmt.Sprintf("translate: unknown --report %q (want text, json or none)", format), 2)
			}
			in, err := os.ReadFile(args[0])
			if err != nil {
				return cli.Exit("translate: "+err.Error(), 1)
			}
			out, rep, err := translate.Translate(in, translate.Options{
				Strict:           c.Bool("strict"),
				UnshareMemory:    c.Bool("unshare-memory"),
				KeepSharedMemory: c.Bool("keep-shared-memory"),
			})
			if rep != nil && (err == nil || errors.Is(err, translate.ErrStrict)) {
				writeTranslateReport(c.Root().ErrWriter, format, rep)
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("translate %s: %v", args[0], err), 1)
			}
			if err := os.WriteFile(c.String("output"), out, 0o644); err != nil {
				return cli.Exit("translate: "+err.Error(), 1)
			}
			return nil
		},
	}
}

func writeTranslateReport(w io.Writer, format string, rep *translate.Report) {
	if w == nil {
		w = os.Stderr
	}
	switch format {
	case "json":
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		w.Write(b.Bytes())
	case "text":
		fmt.Fprintf(w, "input: %s; %d -> %d bytes\n", rep.Input, rep.InputBytes, rep.OutputBytes)
		fmt.Fprintf(w, "memory: %s\n", rep.Memory)
		if rep.MemoryReason != "" {
			fmt.Fprintf(w, "  why: %s\n", rep.MemoryReason)
		}
		if rep.Threads != "" {
			fmt.Fprintf(w, "threads: %s\n", rep.Threads)
		}
		if rep.FDs != "" {
			fmt.Fprintf(w, "fds: %s\n", rep.FDs)
		}
		if rep.AtomicsLowered > 0 {
			fmt.Fprintf(w, "atomics: %d atomic instructions lowered to plain ones (one thread, unshared memory)\n", rep.AtomicsLowered)
		}
		for _, im := range rep.Imports {
			detail := ""
			switch {
			case im.Target != "":
				detail = " -> " + im.Target
			case im.Stub != "":
				detail = " (" + im.Stub + ")"
			}
			fmt.Fprintf(w, "  %-9s %s.%s %s%s\n", im.Action, im.Module, im.Name, im.Signature, detail)
		}
		if rep.AdapterRegion {
			fmt.Fprintf(w, "adapter state: %s\n", rep.Region)
		}
		if len(rep.Stubbed) > 0 {
			fmt.Fprintf(w, "stubbed (%d): %s\n", len(rep.Stubbed), strings.Join(rep.Stubbed, ", "))
		}
		for _, warn := range rep.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
	}
}

// argsWithTrailingFlags returns the command's positional arguments and applies any
// flags written after them ("wazix translate in.wasm -o out.wasm"), which
// execute leaves among the arguments (flag parsing stops at the first
// positional argument, as it did with urfave/cli v2).
func argsWithTrailingFlags(ctx context.Context, c *cli.Command) ([]string, error) {
	var pos []string
	args := commandArgs(ctx, c)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var flag cli.Flag
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if n == name {
					flag = f
				}
			}
		}
		if flag == nil {
			return nil, fmt.Errorf("unknown flag %s", a)
		}
		if _, isBool := flag.(*cli.BoolFlag); isBool {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			value = args[i]
		}
		if err := c.Set(flag.Names()[0], value); err != nil {
			return nil, fmt.Errorf("flag %s: %v", a, err)
		}
	}
	return pos, nil
}
