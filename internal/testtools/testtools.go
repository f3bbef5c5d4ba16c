// Package testtools finds and runs the external tools that tests use
// (wabt, clang, the wazero CLI, node) and skips the test with a clear
// message when one is missing.
package testtools

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Need returns the path of an executable, or skips the test when it is
// absent. Executables installed with "go install" are found in GOPATH/bin
// even when that directory is not on PATH.
func Need(t testing.TB, name, install string) string {
	t.Helper()
	if p := Find(name); p != "" {
		return p
	}
	t.Skipf("%s not found (install: %s)", name, install)
	return ""
}

// Find returns the path of an executable or "".
func Find(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// featureFlags enables the proposals real toolchains emit on top of wabt's
// defaults (which already include bulk memory, SIMD, reference types,
// multi-value, sign extension and saturating conversions). --enable-all is
// avoided because it also turns on typed function references, which changes
// how ref.func is typed.
var featureFlags = []string{"--enable-threads", "--enable-exceptions", "--enable-tail-call"}

// Wat2Wasm compiles WAT source to a binary with the features of featureFlags, or
// skips the test when wabt is absent.
func Wat2Wasm(t testing.TB, src string) []byte {
	t.Helper()
	tool := Need(t, "wat2wasm", "apt-get install wabt")
	dir := t.TempDir()
	in := filepath.Join(dir, "m.wat")
	out := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, append(featureFlags, "--debug-names", in, "-o", out)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Validate runs wasm-validate (with featureFlags) on a binary and fails
// the test when it is rejected; it skips when wabt is absent.
func Validate(t testing.TB, wasm []byte) {
	t.Helper()
	tool := Need(t, "wasm-validate", "apt-get install wabt")
	f := filepath.Join(t.TempDir(), "v.wasm")
	if err := os.WriteFile(f, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tool, append(featureFlags, f)...)
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wasm-validate rejected the module: %v\n%s", err, stderr.String())
	}
}

// Result is what a guest run produced.
type Result struct {
	Stdout string
	Exit   int
}

// Mount is a host directory given to a guest as a preopen named Guest.
type Mount struct{ Host, Guest string }

// RunWazero runs a preview1 module under the stock wazero CLI
// (go install github.com/tetratelabs/wazero/cmd/wazero@v1.12.0), or skips.
// stdin reaches the guest through a pipe.
func RunWazero(t testing.TB, wasm []byte, stdin string, mounts ...Mount) Result {
	t.Helper()
	return RunWazeroArgs(t, wasm, stdin, nil, mounts...)
}

// RunWazeroArgs is RunWazero with arguments after the module.
func RunWazeroArgs(t testing.TB, wasm []byte, stdin string, guestArgs []string, mounts ...Mount) Result {
	t.Helper()
	tool := Need(t, "wazero", "go install github.com/tetratelabs/wazero/cmd/wazero@v1.12.0")
	f := filepath.Join(t.TempDir(), "guest.wasm")
	if err := os.WriteFile(f, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run"}
	for _, m := range mounts {
		args = append(args, "-mount="+m.Host+":"+m.Guest)
	}
	return run(t, exec.Command(tool, append(append(args, f), guestArgs...)...), stdin)
}

const nodeRunner = `import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const preopens = JSON.parse(process.argv[3] || '{}');
const wasi = new WASI({ version: 'preview1', args: [process.argv[2], ...JSON.parse(process.argv[4] || '[]')], env: {}, preopens, returnOnExit: true });
const mod = await WebAssembly.compile(await readFile(process.argv[2]));
const inst = await WebAssembly.instantiate(mod, wasi.getImportObject());
process.exitCode = wasi.start(inst);
`

// RunNode runs a preview1 module under Node's node:wasi, or skips when
// node is absent. stdin reaches the guest through a pipe.
func RunNode(t testing.TB, wasm []byte, stdin string, mounts ...Mount) Result {
	t.Helper()
	return RunNodeArgs(t, wasm, stdin, nil, mounts...)
}

// RunNodeArgs is RunNode with arguments after the module.
func RunNodeArgs(t testing.TB, wasm []byte, stdin string, guestArgs []string, mounts ...Mount) Result {
	t.Helper()
	tool := Need(t, "node", "apt-get install nodejs (Node 20 or later)")
	dir := t.TempDir()
	f := filepath.Join(dir, "guest.wasm")
	script := filepath.Join(dir, "run.mjs")
	if err := os.WriteFile(f, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(nodeRunner), 0o644); err != nil {
		t.Fatal(err)
	}
	preopens := "{"
	for i, m := range mounts {
		if i > 0 {
			preopens += ","
		}
		preopens += strconv.Quote(m.Guest) + ":" + strconv.Quote(m.Host)
	}
	preopens += "}"
	argv, err := json.Marshal(append([]string{}, guestArgs...))
	if err != nil {
		t.Fatal(err)
	}
	return run(t, exec.Command(tool, "--no-warnings", script, f, preopens, string(argv)), stdin)
}

func run(t testing.TB, cmd *exec.Cmd, stdin string) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String()}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
		res.Exit = ee.ExitCode()
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", filepath.Base(cmd.Path), stderr.String())
	}
	return res
}

// Clang compiles a C guest for wasm32-wasi (Debian clang + wasi-libc), or
// skips when clang is absent.
func Clang(t testing.TB, src string, includeDir string) []byte {
	t.Helper()
	tool := Need(t, "clang", "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32")
	out := filepath.Join(t.TempDir(), "c.wasm")
	cmd := exec.Command(tool, "--target=wasm32-wasi", "-O2", "-Wall", "-Wl,--strip-all", "-I", includeDir, "-o", out, src)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang %s: %v\n%s", src, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoWasip1 builds a Go package for GOOS=wasip1.
func GoWasip1(t testing.TB, dir string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "go.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
