// Command wazix runs and inspects WASI preview1 and WASIX modules.
//
// This file is a minimal entry point for the inspect and translate
// commands; the lead's main.go replaces it at merge.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:     "wazix",
		Usage:    "run and translate WebAssembly system-interface modules",
		Commands: []*cli.Command{inspectCommand(), translateCommand()},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
