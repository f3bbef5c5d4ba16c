package main

import (
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
)

// TestNetFlags: no network by default (EACCES, counted by --trace), --net
// opens it, a malformed --net-allow is a usage error.
func TestNetFlags(t *testing.T) {
	wasm := fixtures.Path(t, "c/net")
	r := runCLI(t, nil, "run", "--trace", wasm, "denied", "9")
	if r.code != 0 || !strings.Contains(r.stdout, "connect: 2\n") || !strings.Contains(r.stdout, "resolve: 2\n") {
		t.Fatalf("default run: %+v", r)
	}
	for _, w := range []string{"denied connect 127.0.0.1:9 (x1)", "denied bind 127.0.0.1:0 (x1)", "denied sendto 127.0.0.1:9 (x1)", "denied resolve localhost (x1)"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("--trace output lacks %q:\n%s", w, r.stderr)
		}
	}
	r = runCLI(t, nil, "run", "--net", wasm, "denied", "9")
	if r.code != 0 || !strings.Contains(r.stdout, "connect: 14\n") || !strings.Contains(r.stdout, "bind: 0\n") {
		t.Fatalf("--net run: %+v", r)
	}
	r = runCLI(t, nil, "run", "--net-allow", "10.0.0.0/33", wasm, "probe")
	if r.code != 2 || !strings.Contains(r.stderr, "net-allow") {
		t.Fatalf("bad --net-allow: %+v", r)
	}
}
