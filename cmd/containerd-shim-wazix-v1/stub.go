package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// The workload process is first the shim binary itself in one of these
// modes, started at Create so that the task has a pid, stdio and network
// namespace before Start; it waits on fd 3 for Start and then execs
// `wazix run` (keeping its pid), or, for a pod sandbox, waits for a
// signal. If the shim goes away before Start, fd 3 reads EOF and the stub
// exits without running anything.
const (
	stubRun   = "__wazix_run"   // argv: self stubRun WAZIX ARGS...
	stubPause = "__wazix_pause" // argv: self stubPause
)

// startByte is what the shim writes to the stub's fd 3 to start it.
const startByte = 's'

// stubMain runs the stub modes; it reports false when args are not a stub
// invocation.
func stubMain(args []string) bool {
	if len(args) < 2 || (args[1] != stubRun && args[1] != stubPause) {
		return false
	}
	// Block until Start, before anything else can run.
	if args[1] == stubPause {
		// Let the signals a pod sandbox gets end it with 0, like the pause
		// container, once it has been started.
		signal.Ignore(syscall.SIGHUP)
	}
	ctl := os.NewFile(3, "start")
	var b [1]byte
	n, _ := ctl.Read(b[:])
	ctl.Close()
	if n != 1 || b[0] != startByte {
		os.Exit(1)
	}
	if args[1] == stubPause {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		os.Exit(0)
	}
	if len(args) < 3 {
		os.Exit(127)
	}
	err := syscall.Exec(args[2], args[2:], os.Environ())
	fmt.Fprintf(os.Stderr, "containerd-shim-wazix-v1: exec %s: %v\n", args[2], err)
	os.Exit(127)
	return true
}
