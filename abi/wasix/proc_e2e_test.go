package wasix_test

import (
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// TestFork runs fixtures/c/fork.c (built with wasm-opt --asyncify): the
// child's memory diverges, a pipe crosses the fork, a fork deep in nested
// calls keeps every frame, waitpid reaps codes and a trap, ECHILD at the end.
func TestFork(t *testing.T) {
	wasm := fixtures.Build(t, "c/fork")
	r := testrun.Run(t, wasm, testrun.Options{})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	want := []string{
		"parent pid 1 parent 0",
		"child 2 parent 1 counter 15",
		"joined child: 1 code 7",
		"parent counter 11",
		"nested: 1 code 58 parent 1058",
		"nohang: 0 tag 0 pid 0",
		"trap: 1 tag 2 signal 6 code 0",
		"any: 1 echild: 12",
	}
	if got := r.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.Stderr)
	}
}

// TestSetjmp runs fixtures/c/setjmp.c (asyncify): longjmp out of nested
// calls, twice to one checkpoint, to a checkpoint in a callee, in a forked
// child to a checkpoint its parent made before the fork, and to a jmp_buf
// saved by copy while 1000 newer checkpoints went into the same buffer
// (bash's top_level around every nested parse).
func TestSetjmp(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "c/setjmp"), testrun.Options{})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	want := "checkpoint 0 count 1\ncheckpoint 42 count 2\nunwound from depth 10\ncheckpoint 7 count 3\ninner 0\ninner 5 outer still 3\nfork: the child longjmps to its parent's checkpoint: joined code 23\ncopied: back in the outer frame with 9 after 1000 nested checkpoints\ndone\n"
	if r.Stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s", r.Stdout, want)
	}
}

// TestForkBomb: forks past the process limit fail with EAGAIN, the guest
// goes on, and every child is reaped.
func TestForkBomb(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "c/fork"), testrun.Options{Args: []string{"bomb"}, MaxProcs: 6})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	if want := "bomb: 5 children, then errno 6; reaped 5\n"; r.Stdout != want {
		t.Errorf("got %q, want %q", r.Stdout, want)
	}
}

// TestSigchld: a child's end reaches its parent as SIGCHLD, through a
// handler and through a dispatcher that traps for it as wasix-libc's does for
// a program that set no disposition: ignored, with the stack pointer and the
// registered callback as they were.
func TestSigchld(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "c/fork"), testrun.Options{Args: []string{"sigchld"}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	if want := "handler: sigchld 2\ntrapping dispatcher: stack kept 1, dispatcher kept 10, still running\n"; r.Stdout != want {
		t.Errorf("got %q, want %q", r.Stdout, want)
	}
}

// TestAbortStatus: a child that ends as wasix-libc's abort() does (SIGABRT
// raised while signals are blocked, then exit 127) is reported killed by
// SIGABRT, as on Linux; by SIGTERM when it aborts in SIGTERM's default
// action; a plain exit(127) stays an exit.
func TestAbortStatus(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "c/fork"), testrun.Options{Args: []string{"abort"}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	if want := "abort: killed by 6\nsigterm: killed by 15\nexit: exit 127\n"; r.Stdout != want {
		t.Errorf("got %q, want %q", r.Stdout, want)
	}
}

// TestForkInThread: a thread forks; the child has that thread only (it
// runs once), and the parent's thread joins it.
func TestForkInThread(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "wat/thread_fork"), testrun.Options{CloseOnContextDone: true})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	if want := "child of a thread\nthread joined child: 5\n"; r.Stdout != want {
		t.Errorf("got %q, want %q", r.Stdout, want)
	}
}

// TestFork2022Join: the 2022 proc_join(*pid, *exit_code) waits for one
// child or any, and says ECHILD when none is left.
func TestFork2022Join(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "c/fork2022"), testrun.Options{})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
	}
	if want := "joined child 2: 0 code 7\njoined any: 0 code 3\nnothing left: 12\n"; r.Stdout != want {
		t.Errorf("got %q, want %q", r.Stdout, want)
	}
}

// TestSigpipe: a write to a pipe or a sock_pair socket whose reading end is
// closed raises SIGPIPE in the writer before it returns EPIPE (64), as on
// Linux and Wasmer; without a handler the process dies of it (128+13).
func TestSigpipe(t *testing.T) {
	wasm := fixtures.Build(t, "c/sighandler")
	for _, c := range []struct {
		args []string
		code uint32
		out  string
	}{
		{[]string{"epipe"}, 0, "ready\nwrite errno 64 got 13\n"},
		{[]string{"epipe", "pair"}, 0, "ready\nwrite errno 64 got 13\n"},
		{[]string{"epipe", "default"}, 141, "ready\n"},
		{[]string{"epipe", "pair", "default"}, 141, "ready\n"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := testrun.Run(t, wasm, testrun.Options{Args: c.args})
			if r.Code != c.code || r.Stdout != c.out {
				t.Errorf("code %d err %v stdout %q stderr %q, want %d and %q", r.Code, r.Err, r.Stdout, r.Stderr, c.code, c.out)
			}
		})
	}
}
