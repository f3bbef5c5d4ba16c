package main

import "github.com/urfave/cli/v3"

// commands lists the subcommands of wazix.
func commands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		inspectCommand(),
		translateCommand(),
	}
}
