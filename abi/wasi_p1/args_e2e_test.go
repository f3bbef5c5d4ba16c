package wasi_p1_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// TestArgsEnvEdges checks empty arguments, an empty environment and
// non-ASCII text (the argument list wasmtime's test harness passes), and
// that a NUL byte inside an argument or variable is refused when the host
// is set up, since the guest would see it cut short.
func TestArgsEnvEdges(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "go/hello"), testrun.Options{
		Args: []string{"-envall", "hello", "", "is an argument", "with 🚩 emoji"},
	})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v", r.Code, r.Err)
	}
	want := "hello from go\nARGC:6\nARG:-envall\nARG:hello\nARG:\nARG:is an argument\nARG:with 🚩 emoji\n"
	if r.Stdout != want {
		t.Errorf("stdout:\n%q\nwant:\n%q", r.Stdout, want)
	}

	ctx := context.Background()
	for _, cfg := range []*wazix.Config{
		wazix.NewConfig().WithArgs("prog", "a\x00b"),
		wazix.NewConfig().WithEnv("K", "v\x00w"),
	} {
		rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
		h, err := cfg.Instantiate(ctx, rt)
		if err == nil {
			h.Close(ctx)
			t.Error("a NUL byte in an argument or variable was accepted")
		} else if !strings.Contains(err.Error(), "NUL") {
			t.Errorf("error %q does not say why", err)
		}
		rt.Close(ctx)
	}
}
