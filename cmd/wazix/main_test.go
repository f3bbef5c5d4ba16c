package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wazix/wazix/fixtures"
)

var wazixBin, cacheHome string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wazix-cli")
	if err != nil {
		panic(err)
	}
	wazixBin = filepath.Join(dir, "wazix")
	// One compilation cache for every run of this test binary.
	cacheHome = filepath.Join(dir, "cache")
	out, err := exec.Command("go", "build", "-o", wazixBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliResult struct {
	stdout, stderr string
	code           int
}

func runCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(wazixBin, args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, stdin
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{stdout.String(), stderr.String(), code}
}

// oneLine checks that stderr is exactly one line mentioning want, and no Go
// stack trace.
func assertOneLine(t *testing.T, r cliResult, want string) {
	t.Helper()
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "goroutine") {
		t.Errorf("stderr is not one line with %q:\n%s", want, r.stderr)
	}
}

func TestRunArgsEnvExitCode(t *testing.T) {
	hello := fixtures.Path(t, "go/hello")
	t.Setenv("FROM_HOST", "yes")
	r := runCLI(t, nil, "run", "--env", "A=1", "--env", "FROM_HOST", hello, "--", "-exit", "3", "-env", "A", "-env", "FROM_HOST", "x")
	if r.code != 3 {
		t.Errorf("exit code %d, want 3 (stderr %s)", r.code, r.stderr)
	}
	for _, want := range []string{"ARG:x\n", "ENV:A=1\n", "ENV:FROM_HOST=yes\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "run", "--env-inherit", hello, "-env", "FROM_HOST")
	if !strings.Contains(r.stdout, "ENV:FROM_HOST=yes\n") || r.code != 0 {
		t.Errorf("--env-inherit: code %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, nil, "run", hello, "-env", "FROM_HOST")
	if !strings.Contains(r.stdout, "NOENV:FROM_HOST\n") {
		t.Errorf("host environment leaked without --env-inherit:\n%s", r.stdout)
	}
}

// TestRunGuestArgs: flag parsing stops at the module path, so the guest's
// own flags (wazix's names included) reach it untouched; one "--" before the
// module and one right after it are separators, any other "--" is the
// guest's, and an empty argument does not restart flag parsing.
func TestRunGuestArgs(t *testing.T) {
	hello := fixtures.Path(t, "go/hello")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{hello, "-x", "--y", "--dir", "/nonexistent", "--help"}, []string{"-x", "--y", "--dir", "/nonexistent", "--help"}},
		{[]string{hello, "--", "-x", "--y"}, []string{"-x", "--y"}},
		{[]string{hello, "--", "--", "x"}, []string{"--", "x"}},
		{[]string{"--", hello, "--", "x"}, []string{"x"}},
		{[]string{"--no-cache", "--max-fds=100", "--trace-file", "", hello, "", "-x"}, []string{"", "-x"}},
		{[]string{hello, "x", "--", "y"}, []string{"x", "--", "y"}},
	} {
		r := runCLI(t, nil, append([]string{"run"}, c.args...)...)
		want := fmt.Sprintf("ARGC:%d\n", len(c.want)+1)
		for _, a := range c.want {
			want += "ARG:" + a + "\n"
		}
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("%q: exit %d stdout %q stderr %q, want args %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// TestFlagErrors: a bad flag is one line naming it, exit status 2, worded
// as Go's flag package words it.
func TestFlagErrors(t *testing.T) {
	hello := fixtures.Path(t, "go/hello")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--bogus", hello}, "wazix: flag provided but not defined: -bogus\n"},
		{[]string{"run", "--cache-dir", "/tmp", "--bogus", hello}, "wazix: flag provided but not defined: -bogus\n"},
		{[]string{"run", "--dir"}, "wazix: flag needs an argument: -dir\n"},
		{[]string{"run", "--max-fds", "x", hello}, `wazix: invalid value "x" for flag -max-fds: parse error` + "\n"},
		{[]string{"run", "--timeout=zz", hello}, `wazix: invalid value "zz" for flag -timeout: parse error` + "\n"},
		{[]string{"run", "--no-cache=maybe", hello}, `wazix: invalid boolean value "maybe" for -no-cache: parse error` + "\n"},
		{[]string{"inspect", "--format"}, "wazix: flag needs an argument: -format\n"},
		{[]string{"inspect", hello, "--bogus"}, "wazix: inspect: unknown flag --bogus\n"},
		{[]string{"translate", hello, "-o"}, "wazix: translate: flag -o needs a value\n"},
	} {
		r := runCLI(t, nil, c.args...)
		if r.code != 2 || r.stderr != c.want {
			t.Errorf("%q: exit %d stderr %q, want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// TestRunExitCodes checks that exit codes reach the process, and that one
// too large for an exit status does not turn into success (256 & 0xff == 0).
func TestRunExitCodes(t *testing.T) {
	hello := fixtures.Path(t, "go/hello")
	for _, tc := range []struct {
		guest string
		code  int
	}{{"0", 0}, {"1", 1}, {"33", 33}, {"255", 255}, {"256", 1}, {"512", 1}, {"70000", 1}, {"-1", 255}, {"-2", 254}, {"-256", 1}} {
		r := runCLI(t, nil, "run", hello, "-exit", tc.guest)
		if r.code != tc.code {
			t.Errorf("guest exit %s: code %d, want %d (stderr %q)", tc.guest, r.code, tc.code, r.stderr)
		}
		if tc.code == 1 && tc.guest != "1" && tc.guest[0] != '-' && !strings.Contains(r.stderr, "exited with code "+tc.guest) {
			t.Errorf("guest exit %s: stderr %q does not give the real code", tc.guest, r.stderr)
		}
	}
}

func TestRunDirs(t *testing.T) {
	fs := fixtures.Path(t, "go/fs")
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "f"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(b, "f"), []byte("B"), 0o644)
	r := runCLI(t, nil, "run", "--dir", a+"::/one", "--mapdir", "/two:"+b, fs, "read", "/one/f", "read", "/two/f")
	if r.code != 0 || r.stdout != "read /one/f OK \"A\"\nread /two/f OK \"B\"\n" {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// --dir HOST alone maps the same path.
	r = runCLI(t, nil, "run", "--dir", a, fs, "read", a+"/f")
	if r.code != 0 || !strings.Contains(r.stdout, `OK "A"`) {
		t.Errorf("--dir HOST: code %d stdout %q", r.code, r.stdout)
	}
}

func TestRunTrap(t *testing.T) {
	r := runCLI(t, nil, "run", fixtures.Path(t, "wat/trap"))
	if r.code != 134 {
		t.Errorf("exit code %d, want 134", r.code)
	}
	if r.stdout != "before trap\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	assertOneLine(t, r, "unreachable")
	for _, fn := range []string{"explode", "middle", "main"} {
		if !strings.Contains(r.stderr, fn) {
			t.Errorf("wasm stack lacks %s: %s", fn, r.stderr)
		}
	}
}

// TestRunTrapSourceLines: a guest built with DWARF shows source lines in
// its trap's stack only with WAZIX_BACKTRACE_DETAILS=1 (parsing DWARF at
// each start is not free), and the message stays one line either way.
func TestRunTrapSourceLines(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("no clang")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "trapline.c")
	os.WriteFile(src, []byte("int main(void) {\n  __builtin_trap();\n}\n"), 0o644)
	wasm := filepath.Join(dir, "trapline.wasm")
	// -O0: clang runs wasm-opt when it is on PATH at -O1 and above, which
	// drops the name section.
	if out, err := exec.Command(clang, "--target=wasm32-wasi", "-O0", "-gdwarf-4", "-o", wasm, src).CombinedOutput(); err != nil {
		t.Skipf("clang with wasi-libc cannot build: %v\n%s", err, out)
	}
	for _, details := range []string{"", "1"} {
		t.Setenv("WAZIX_BACKTRACE_DETAILS", details)
		r := runCLI(t, nil, "run", wasm)
		if r.code != 134 {
			t.Errorf("WAZIX_BACKTRACE_DETAILS=%q: exit code %d, want 134", details, r.code)
		}
		assertOneLine(t, r, "unreachable")
		if got := strings.Contains(r.stderr, "trapline.c:2:"); got != (details == "1") {
			t.Errorf("WAZIX_BACKTRACE_DETAILS=%q: source line shown = %v:\n%s", details, got, r.stderr)
		}
	}
}

func TestRunBadModules(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "x.wasm")
	os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o644)
	truncated := filepath.Join(dir, "t.wasm")
	os.WriteFile(truncated, []byte("\x00asm\x01\x00\x00\x00\x01\x05"), 0o644)
	// A module importing env.foo: () -> ().
	unknown := filepath.Join(dir, "u.wasm")
	os.WriteFile(unknown, []byte("\x00asm\x01\x00\x00\x00"+
		"\x01\x04\x01\x60\x00\x00"+ // type section: one func type () -> ()
		"\x02\x0b\x01\x03env\x03foo\x00\x00", // import section: env.foo func type 0
	), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{"run", filepath.Join(dir, "nope.wasm")}, 1, "no such file"},
		{"not wasm", []string{"run", notWasm}, 1, "not a WebAssembly module"},
		{"truncated", []string{"run", truncated}, 1, "invalid module"},
		{"unknown import", []string{"run", unknown}, 1, "env.foo"},
		{"no module", []string{"run"}, 2, "missing module"},
		{"bad dir", []string{"run", "--dir", filepath.Join(dir, "nodir"), notWasm}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			assertOneLine(t, r, tc.want)
		})
	}
}

func TestHelp(t *testing.T) {
	r := runCLI(t, nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "wazix run") {
		t.Errorf("wazix --help: code %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, nil, "run", "--help")
	for _, flag := range []string{"--dir", "--mapdir", "--env", "--env-inherit", "--listen", "--tcplisten", "--cache-dir", "--no-cache", "Exit status"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("wazix run --help lacks %s", flag)
		}
	}
}

func TestRunListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(wazixBin, "run", "--tcplisten", addr, fixtures.Path(t, "go/httpserver"))
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var body string
	for i := 0; i < 1200; i++ { // a cold compile of a 9 MB guest on a loaded machine takes a while
		resp, err := http.Get("http://" + addr + "/hello")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "hello\n" {
		t.Fatalf("GET /hello = %q; stderr %s", body, stderr.String())
	}
	http.Get("http://" + addr + "/exit")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("wazix exited with %v; stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
	}
}

func TestRunInterrupt(t *testing.T) {
	for _, mode := range []string{"forever", "stdin"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(wazixBin, "run", fixtures.Path(t, "go/sleep"), mode)
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome)
			pr, pw, _ := os.Pipe()
			defer pw.Close()
			cmd.Stdin = pr
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pr.Close()
			buf := make([]byte, 9)
			if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "sleeping\n" {
				t.Fatalf("guest did not start: %q %v", buf, err)
			}
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			cmd.Process.Signal(os.Interrupt)
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
				t.Errorf("exit: %v, want code 130", err)
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("took %v to stop a guest blocked in the host", d)
			}
		})
	}
}

// TestRunWASIX runs a WASIX guest through the CLI: wazix run recognises it
// and provides wasix_32v1 with WASIX semantics.
func TestRunWASIX(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "file"), []byte("f"), 0o644)
	r := runCLI(t, strings.NewReader(""), "run", "--dir", dir+"::/data", fixtures.Path(t, "c/wasix_core"),
		"level", "dup", "cwd", "exit2", "5")
	if r.code != 5 {
		t.Errorf("exit code %d, want 5 (stderr %s)", r.code, r.stderr)
	}
	for _, want := range []string{"level drained errno=0 n=0", "dup old-still-open=1", "cwd getcwd errno=0 len=9 path=/data/sub"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
}

// TestBadModuleExitCodes: a file that is not wasm is one line and exit 1
// for every command that reads a module.
func TestBadModuleExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("garbage\n"), 0o644)
	for _, args := range [][]string{{"run", bad}, {"inspect", bad}, {"translate", bad, "-o", bad + ".out"}} {
		r := runCLI(t, nil, args...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1 (stderr %q)", args, r.code, r.stderr)
		}
		assertOneLine(t, r, "")
	}
}

// TestRunForwardsSignals: a WASIX guest that handles SIGHUP and SIGTERM
// gets them from wazix run and goes on; one that does not ends with
// 128+sig; SIGWINCH reaches a handler and is otherwise ignored.
func TestRunForwardsSignals(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		sigs   []syscall.Signal
		code   int
		output string
	}{
		{"handled HUP", nil, []syscall.Signal{syscall.SIGWINCH, syscall.SIGHUP}, 0, "got 1"},
		{"handled TERM", nil, []syscall.Signal{syscall.SIGTERM}, 0, "got 15"},
		{"default HUP", []string{"nohandler"}, []syscall.Signal{syscall.SIGWINCH, syscall.SIGHUP}, 129, ""},
		// A handler that traps (wasix-libc without a disposition): the
		// default action, not a trap.
		{"trapping TERM", []string{"trapping"}, []syscall.Signal{syscall.SIGTERM}, 143, ""},
		// SIGWINCH reaches a handler; a dispatcher that traps for it
		// ignores it (its default action) and the guest goes on.
		{"handled WINCH", []string{"winch"}, []syscall.Signal{syscall.SIGWINCH}, 0, "winched 1"},
		{"trapping WINCH", []string{"trapping"}, []syscall.Signal{syscall.SIGWINCH, syscall.SIGWINCH, syscall.SIGTERM}, 143, ""},
		// Blocking calls that are not polls end with EINTR (27), as on
		// Linux, and the handler runs (wasix-libc registers its dispatcher
		// in every program, so a blocked server must still hear SIGTERM).
		{"TERM interrupts a read", []string{"read"}, []syscall.Signal{syscall.SIGTERM}, 0, "got 15 errno 27"},
		{"TERM interrupts a futex wait", []string{"futex"}, []syscall.Signal{syscall.SIGTERM}, 0, "got 15 errno 27"},
		{"HUP interrupts an accept", []string{"accept"}, []syscall.Signal{syscall.SIGHUP}, 0, "got 1 errno 27"},
		// A guest that handles TERM but computes without host calls never
		// takes it: after a moment the CLI applies the default action.
		{"TERM to a spinning guest", []string{"spin"}, []syscall.Signal{syscall.SIGTERM}, 143, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(wazixBin, append([]string{"run", "--net", fixtures.Path(t, "c/sighandler")}, c.args...)...)
			tmp := t.TempDir() // the guest's private /tmp goes there, and must go
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome, "TMPDIR="+tmp)
			stdin, keep, err := os.Pipe() // stays open: a read of it blocks
			if err != nil {
				t.Fatal(err)
			}
			defer keep.Close()
			defer stdin.Close()
			cmd.Stdin = stdin
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(stdout)
			if l, err := r.ReadString('\n'); err != nil || l != "ready\n" {
				t.Fatalf("guest did not start: %q %v", l, err)
			}
			// A guest the signals do not reach would block for good.
			kill := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
			defer kill.Stop()
			for _, s := range c.sigs {
				time.Sleep(50 * time.Millisecond)
				cmd.Process.Signal(s)
			}
			rest, _ := io.ReadAll(r)
			err = cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != c.code || !strings.Contains(string(rest), c.output) {
				t.Errorf("exit %d output %q, want %d and %q", code, rest, c.code, c.output)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}

// TestSignalWaitsWhileBlocked: a signal raised while the guest names a
// callback it does not export (wasix-libc's "__wasm_signal_blocked") waits,
// and is delivered once the guest names its handler again.
func TestSignalWaitsWhileBlocked(t *testing.T) {
	r := runCLI(t, strings.NewReader(""), "run", fixtures.Path(t, "c/sighandler"), "blocked")
	if r.code != 0 || !strings.Contains(r.stdout, "blocked then got 10\n") {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestRunRootfs: a WASIX guest under --dir HOST::/ and --mapdir /d:HOST
// opens, creates, renames and lists files by absolute path, and copies
// /dev/stdin to /dev/stdout.
func TestRunRootfs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A\n"), 0o644)
	guest := fixtures.Path(t, "c/wasix_rootfs")
	cases := []struct {
		flags []string
		args  string
		want  []string
	}{
		{[]string{"--dir", dir + "::/"},
			"open 3 /a.txt mkdir 3 /x write 3 /x/b.txt B rename 3 /x/b.txt 3 /x/c.txt ls 3 / ls 3 /x chdir /x getcwd open 3 /dev/tty copy 3 /dev/stdin 3 /dev/stdout",
			[]string{"open /a.txt 0 data=A", "mkdir /x 0", "write /x/b.txt 0", "rename /x/b.txt /x/c.txt 0",
				"ls / 0 a.txt/4,dev/3,x/3", "ls /x 0 c.txt/4", "chdir /x 0", "getcwd 0 /x", "open /dev/tty 60 data=",
				"piped in", "copy 0 bytes=9"}},
		{[]string{"--mapdir", "/d:" + dir},
			"open 3 /d/a.txt ls 3 / ls 3 /d write 3 /d/e.txt E rename 3 /d/e.txt 3 /d/f.txt open 3 /d/f.txt mkdir 3 /y",
			[]string{"open /d/a.txt 0 data=A", "ls / 0 d/3,dev/3,tmp/3", "ls /d 0 a.txt/4,x/3", "write /d/e.txt 0",
				"rename /d/e.txt /d/f.txt 0", "open /d/f.txt 0 data=E", "mkdir /y 69"}},
	}
	for _, c := range cases {
		args := append(append([]string{"run"}, c.flags...), guest, "--")
		r := runCLI(t, strings.NewReader("piped in\n"), append(args, strings.Fields(c.args)...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", c.flags, r.code, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w+"\n") {
				t.Errorf("%v: missing %q in:\n%s", c.flags, w, r.stdout)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "x", "c.txt")); err != nil || string(b) != "B" {
		t.Errorf("x/c.txt on the host: %q %v", b, err)
	}
}

// TestRunPrivateTmp: a WASIX guest without a mount at / gets a writable
// /tmp of its own, empty at start and gone from the host at exit; --no-tmp
// and a mount at / or /tmp leave it out.
func TestRunPrivateTmp(t *testing.T) {
	guest := fixtures.Path(t, "c/wasix_rootfs")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the private /tmp is made, to see it go
	r := runCLI(t, strings.NewReader(""), "run", guest, "--", "ls", "3", "/tmp", "write", "3", "/tmp/a", "A", "open", "3", "/tmp/a", "mkdir", "3", "/tmp/d", "ls", "3", "/tmp", "ls", "3", "/")
	want := "ls /tmp 0 \nwrite /tmp/a 0\nopen /tmp/a 0 data=A\nmkdir /tmp/d 0\nls /tmp 0 a/4,d/3\nls / 0 dev/3,tmp/3\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d stdout %q, want %q (stderr %s)", r.code, r.stdout, want, r.stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	r = runCLI(t, strings.NewReader(""), "run", "--no-tmp", guest, "--", "write", "3", "/tmp/a", "A", "ls", "3", "/")
	if r.stdout != "write /tmp/a 44\nls / 0 dev/3\n" {
		t.Errorf("--no-tmp: %q", r.stdout)
	}
	own := t.TempDir()
	r = runCLI(t, strings.NewReader(""), "run", "--mapdir", "/tmp:"+own, guest, "--", "write", "3", "/tmp/b", "B")
	if b, err := os.ReadFile(filepath.Join(own, "b")); err != nil || string(b) != "B" {
		t.Errorf("a mounted /tmp: %q %v (stdout %q)", b, err, r.stdout)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("a private /tmp was made beside a mounted one: %v", left)
	}
}

// TestRunArgv0AndCwd: --argv0 names the guest's argv[0]; --cwd is where a
// WASIX guest starts (getcwd) and PWD; a --cwd outside the tree fails.
func TestRunArgv0AndCwd(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	r := runCLI(t, strings.NewReader(""), "run", "--argv0", "/bin/tool", fixtures.Path(t, "c/exec"), "child", "x")
	if r.code != 3 || !strings.Contains(r.stdout, "child argv=/bin/tool,child,x ") {
		t.Errorf("--argv0: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, strings.NewReader(""), "run", "--dir", dir+"::/", "--cwd", "/sub", fixtures.Path(t, "c/wasix_rootfs"), "--", "getcwd")
	if r.code != 0 || !strings.Contains(r.stdout, "getcwd 0 /sub\n") {
		t.Errorf("--cwd: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, strings.NewReader(""), "run", "--dir", dir+"::/", "--cwd", "/missing", fixtures.Path(t, "c/wasix_rootfs"), "--", "getcwd")
	if r.code != 1 || !strings.Contains(r.stderr, "/missing") {
		t.Errorf("--cwd /missing: exit %d stderr %q", r.code, r.stderr)
	}
}
