package wasix_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// BenchmarkProcess measures, per operation, a fork+exit+wait round trip of
// a guest with 16 MiB of memory in use, a posix_spawn+wait of a small
// module (compiled once, then from the runtime's cache), and the round trip
// of a signal to another process whose handler answers on a pipe. Each
// guest run does b.N operations; its start-up is included once.
func BenchmarkProcess(b *testing.B) {
	wasm := fixtures.Build(b, "c/procbench")
	bin := b.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "tool"), wasm, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"fork", "spawn", "signal"} {
		b.Run(mode, func(b *testing.B) {
			r := testrun.Run(b, wasm, testrun.Options{Args: []string{mode, fmt.Sprint(b.N)}, Dirs: [][2]string{{bin, "/bin"}}})
			if r.Code != 0 || r.Err != nil || !strings.Contains(r.Stdout, "done") {
				b.Fatalf("code %d err %v stdout %s stderr %s", r.Code, r.Err, r.Stdout, r.Stderr)
			}
		})
	}
}
