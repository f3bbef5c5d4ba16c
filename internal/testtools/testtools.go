// Package testtools finds and runs the external tools that tests use
// (wabt, clang, the wazero CLI, node) and skips the test with a clear
// message when one is missing.
package testtools

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
