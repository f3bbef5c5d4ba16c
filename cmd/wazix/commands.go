package main

import "github.com/urfave/cli/v2"

// commands lists the subcommands of wazix.
func commands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		inspectCommand(),
		translateCommand(),
	}
}
