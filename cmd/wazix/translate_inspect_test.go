package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
	"github.com/wazix/wazix/internal/testtools"
)

// runCLI runs the wazix app with the inspect and translate commands and
// returns stdout, stderr and the exit code.
func runWazixCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := 0
	app := &cli.Command{
		Name:         "wazix",
		Commands:     []*cli.Command{inspectCommand(), translateCommand()},
		Writer:       &stdout,
		ErrWriter:    &stderr,
		OnUsageError: usageError,
		ExitErrHandler: func(_ context.Context, _ *cli.Command, err error) {
			if err == nil {
				return
			}
			code = 1
			if ec, ok := err.(cli.ExitCoder); ok {
				code = ec.ExitCode()
			}
			stderr.WriteString(err.Error())
		},
	}
	if err := execute(app, append([]string{"wazix"}, args...)); err != nil && code == 0 {
		code = 1
		stderr.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), code
}

func translateWATFixture(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "translate", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".wat")+".wasm")
	if err := os.WriteFile(p, testtools.Wat2Wasm(t, string(src)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspectFormats(t *testing.T) {
	mod := translateWATFixture(t, "indices.wat")
	t.Run("text", func(t *testing.T) {
		out, errOut, code := runWazixCLI(t, "inspect", mod)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"flavour:  wasix (generation current)", "imports from wasix_32v1 (4):",
			"thread_id", "translate: emulated", "translate: stub", "_start"} {
			if !strings.Contains(out, want) {
				t.Errorf("text output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		out, errOut, code := runWazixCLI(t, "inspect", mod, "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var ins inspection
		if err := json.Unmarshal([]byte(out), &ins); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if ins.Flavour != "wasix" || ins.Generation != "current" || len(ins.Imports) != 5 {
			t.Errorf("flavour %q generation %q imports %d", ins.Flavour, ins.Generation, len(ins.Imports))
		}
		status := map[string]string{}
		for _, im := range ins.Imports {
			status[im.Module+"."+im.Name] = im.Status + "/" + im.Translation
		}
		if status["wasix_32v1.port_route_add"] != "ENOTSUP/stub" || status["wasix_32v1.fd_write"] != "done/preview1" {
			t.Errorf("statuses: %v", status)
		}
		if len(ins.Memories) != 1 || ins.Memories[0].Imported {
			t.Errorf("memories: %+v", ins.Memories)
		}
	})
	t.Run("wit", func(t *testing.T) {
		out, errOut, code := runWazixCLI(t, "inspect", "--format=wit", mod)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"package wazix:inspect;", "world indices {",
			"import wasix32v1: interface {", "port-route-add: func(p0: s32, p1: s32, p2: s32, p3: s32) -> s32;",
			"export start: func();"} {
			if !strings.Contains(out, want) {
				t.Errorf("WIT lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("bad format", func(t *testing.T) {
		if _, _, code := runWazixCLI(t, "inspect", mod, "--format", "yaml"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
	t.Run("not wasm", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.wasm")
		os.WriteFile(p, []byte("hello"), 0o644)
		_, errOut, code := runWazixCLI(t, "inspect", p)
		if code != 1 || !strings.Contains(errOut, "not a wasm module") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

func TestTranslateCommand(t *testing.T) {
	mod := translateWATFixture(t, "signals.wat")
	out := filepath.Join(t.TempDir(), "out.wasm")
	t.Run("json report, flags after the input", func(t *testing.T) {
		_, errOut, code := runWazixCLI(t, "translate", mod, "-o", out, "--report", "json", "--unshare-memory")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep struct {
			Imports []struct{ Name, Action string }
			Memory  string
		}
		if err := json.Unmarshal([]byte(errOut), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, errOut)
		}
		if len(rep.Imports) != 5 || !strings.Contains(rep.Memory, "turned into a defined memory") {
			t.Errorf("report: %+v", rep)
		}
		b, err := os.ReadFile(out)
		if err != nil || len(b) < 8 || string(b[1:4]) != "asm" {
			t.Fatalf("output not written: %v", err)
		}
		testtools.Validate(t, b)
	})
	t.Run("text report", func(t *testing.T) {
		_, errOut, code := runWazixCLI(t, "translate", "-o", out, mod)
		if code != 0 || !strings.Contains(errOut, "emulated  wasix_32v1.proc_exit2") ||
			!strings.Contains(errOut, "turned into a defined memory") || !strings.Contains(errOut, "why: the module spawns no threads") {
			t.Errorf("exit %d, report:\n%s", code, errOut)
		}
	})
	t.Run("keep shared memory", func(t *testing.T) {
		_, errOut, code := runWazixCLI(t, "translate", "-o", out, mod, "--keep-shared-memory")
		if code != 0 || !strings.Contains(errOut, "kept: the host must provide it") || !strings.Contains(errOut, "why: --keep-shared-memory") {
			t.Errorf("exit %d, report:\n%s", code, errOut)
		}
	})
	t.Run("strict", func(t *testing.T) {
		stubby := translateWATFixture(t, "indices.wat")
		_, errOut, code := runWazixCLI(t, "translate", stubby, "-o", out, "--strict", "--report", "none")
		if code != 1 || !strings.Contains(errOut, "port_route_add") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("missing output", func(t *testing.T) {
		if _, _, code := runWazixCLI(t, "translate", mod); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

// TestTranslateThenRun: `wazix translate in.wasm -o out.wasm`, then
// `wazix run out.wasm` prints the same stdout and exits with the same code
// as `wazix run in.wasm`, with the same stdin (a pipe) and preopens.
func TestTranslateThenRun(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "translate")
	tmp := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tmp, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := t.TempDir()
	if err := os.MkdirAll(filepath.Join(srv, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		build     func(t *testing.T) []byte
		flags     []string // translate flags
		runFlags  []string
		stdin     string
		wantLines int // a floor, so that an empty run cannot pass
	}{
		{name: "signals.wat", wantLines: 1, build: func(t *testing.T) []byte {
			return readWAT(t, filepath.Join(dir, "signals.wat"))
		}},
		{name: "epoll.c", stdin: "hello epoll\n", wantLines: 14, build: func(t *testing.T) []byte {
			return testtools.Clang(t, filepath.Join(dir, "epoll.c"), dir)
		}},
		{name: "posix.c", runFlags: []string{"--dir", tmp + "::/tmp"}, wantLines: 20, build: func(t *testing.T) []byte {
			return testtools.Clang(t, filepath.Join(dir, "posix.c"), dir)
		}},
		{name: "goepoll", stdin: "hello from go\n", runFlags: []string{"--dir", srv + "::/srv"}, wantLines: 9, build: func(t *testing.T) []byte {
			if testing.Short() {
				t.Skip("builds a Go guest")
			}
			return testtools.GoWasip1(t, filepath.Join(dir, "goepoll"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "in.wasm")
			out := filepath.Join(t.TempDir(), "out.wasm")
			if err := os.WriteFile(in, c.build(t), 0o644); err != nil {
				t.Fatal(err)
			}
			tr := runCLI(t, nil, append(append([]string{"translate", in, "-o", out}, c.flags...), "--report", "none")...)
			if tr.code != 0 {
				t.Fatalf("translate: exit %d\n%s", tr.code, tr.stderr)
			}
			run := func(module string) cliResult {
				// stdin is a pipe whose writer has closed before the guest
				// starts, so that readiness (and EPOLLHUP) does not race.
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				w.WriteString(c.stdin)
				w.Close()
				args := append(append([]string{"run"}, c.runFlags...), module)
				return runCLI(t, r, args...)
			}
			orig, translated := run(in), run(out)
			if orig.stderr != "" || translated.stderr != "" {
				t.Logf("stderr: original %q, translated %q", orig.stderr, translated.stderr)
			}
			if strings.Count(orig.stdout, "\n") < c.wantLines {
				t.Fatalf("the original printed too little (exit %d):\n%s", orig.code, orig.stdout)
			}
			if translated.stdout != orig.stdout || translated.code != orig.code {
				t.Errorf("translated: exit %d\n%s\noriginal: exit %d\n%s", translated.code, translated.stdout, orig.code, orig.stdout)
			}
		})
	}
}

// readWAT compiles a WAT file.
func readWAT(t *testing.T, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return testtools.Wat2Wasm(t, string(src))
}
