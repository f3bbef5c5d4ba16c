package translate

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wazix/wazix/internal/testrun"
	"github.com/wazix/wazix/internal/testtools"
)

// wasixProof is a WASIX fixture from anywhere under fixtures/, run with
// arguments: once translated with default options it must print what the
// original prints under wazix and exit with the same code.
type wasixProof struct {
	fixture string // "wat/NAME", "c/NAME", "go/NAME" or "translate/NAME.ext"
	args    []string
	mounts  map[string][]string
	// threads: the module spawns threads, so the translation needs a
	// preview1 + wasi-threads host; wazix is the one the tests have.
	threads bool
	// exit is the exit code the original has under wazix, for fixtures
	// that print nothing (or little) and say what they did with it.
	exit  int
	quiet bool
	// sorted: the order of the lines is the host's (epoll's event order).
	sorted bool
}

var wasixProofs = []wasixProof{
	{fixture: "translate/spawn.wat", threads: true},
	// an event fd woken by another thread while poll_oneoff waits on it alone
	{fixture: "translate/waker.wat", threads: true},
	// raise() in a threaded wasix-libc program: thread_signal(0x3fffffff)
	// reaches the registered __wasm_signal
	{fixture: "translate/sigdeliver_mt.wat", threads: true},
	{fixture: "wat/thread_counter", threads: true},
	{fixture: "wat/thread_pingpong", threads: true},
	{fixture: "wat/thread_tls", threads: true},
	{fixture: "wat/wasix2022"},
	// Every operation but nested (an epoll fd inside another: the
	// translation's epoll fds are its own) and signals
	// (proc_raise_interval, signals between threads).
	{fixture: "c/wasix_core", args: strings.Fields("level oneshot edge hup coalesce errors numbering close mix pipe pipefull " +
		"eventfd eventsem dup cwd futex tty startup"), mounts: map[string][]string{"/data": {"sub/", "file"}}},
	{fixture: "go/wasix_loop", sorted: true},
}

// threadExitScenarios are fixtures/wat/thread_exit.wat's scenarios that a
// translation can reproduce. Not here: h prints thread_parallelism, which
// preview1 cannot ask the host (the translation says 1); q and s deliver a
// signal to another thread, which nothing in a module can interrupt; r and w
// need a host that ends a blocked guest from outside.
// The values are the exit codes the fixture documents.
var threadExitScenarios = map[string]int{"a": 0, "b": 1, "c": 0, "d": 1, "e": 1 /* a trap: testrun reports 1, the CLI 134 */, "f": 0, "g": 3, "i": 0, "j": 0, "k": 4, "n": 0}

func init() {
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "i", "j", "k", "n"} {
		wasixProofs = append(wasixProofs, wasixProof{fixture: "wat/thread_exit", args: []string{s}, threads: true,
			exit: threadExitScenarios[s], quiet: true})
	}
}

// buildWASIXFixture builds a fixture named as in wasixProof.
func buildWASIXFixture(t *testing.T, name string) []byte {
	t.Helper()
	kind, rest, _ := strings.Cut(name, "/")
	dir := filepath.Join("..", "fixtures", kind)
	switch kind {
	case "translate":
		return fixture(t, rest)
	case "wat":
		src, err := os.ReadFile(filepath.Join(dir, rest+".wat"))
		if err != nil {
			t.Fatal(err)
		}
		return testtools.Wat2Wasm(t, string(src))
	case "c":
		return testtools.Clang(t, filepath.Join(dir, rest+".c"), dir)
	case "go":
		if testing.Short() {
			t.Skip("builds a Go guest")
		}
		return testtools.GoWasip1(t, filepath.Join(dir, rest))
	}
	t.Fatalf("unknown fixture %s", name)
	return nil
}

// TestProofWASIX: every WASIX fixture (and scenario) listed above gives the
// same stdout and exit code once translated with default options: on the
// stock wazero CLI, Node and wazix when it spawns no threads, on wazix as a
// preview1 + wasi-threads host when it does.
func TestProofWASIX(t *testing.T) {
	for _, p := range wasixProofs {
		name := p.fixture
		if len(p.args) > 0 {
			name += "/" + strings.Join(p.args, "+")
		}
		t.Run(name, func(t *testing.T) {
			orig := buildWASIXFixture(t, p.fixture)
			out, rep, err := Translate(orig, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.threads != strings.Contains(rep.Threads, "wasi.thread-spawn") {
				t.Fatalf("threads: %q (the fixture threads: %v)", rep.Threads, p.threads)
			}
			mounts := makeMounts(t, p.mounts)
			want := runWazixArgs(t, orig, p.args, mounts)
			// wazix gives a WASIX guest Wasmer's root preopen "/" after the
			// mounts (docs/filesystem.md); a translated module is a preview1
			// guest, which gets only what the host is told: the same
			// preopens mean a mount at "/" too.
			mounts = append(mounts, testtools.Mount{Host: t.TempDir(), Guest: "/"})
			if p.quiet && want.Exit != p.exit || !p.quiet && want.Stdout == "" {
				t.Fatalf("the original under wazix no longer does what it documents: exit %d (want %d)\n%s", want.Exit, p.exit, want.Stdout)
			}
			t.Run("wasm-validate", func(t *testing.T) { testtools.Validate(t, out) })
			hosts := []struct {
				name string
				run  func(t *testing.T) testtools.Result
			}{
				{"wazix", func(t *testing.T) testtools.Result { return runWazixArgs(t, out, p.args, mounts) }},
			}
			if !p.threads {
				checkPreview1Only(t, out)
				hosts = append(hosts,
					struct {
						name string
						run  func(t *testing.T) testtools.Result
					}{"wazero", func(t *testing.T) testtools.Result { return testtools.RunWazeroArgs(t, out, "", p.args, mounts...) }},
					struct {
						name string
						run  func(t *testing.T) testtools.Result
					}{"node", func(t *testing.T) testtools.Result { return testtools.RunNodeArgs(t, out, "", p.args, mounts...) }})
			}
			for _, h := range hosts {
				t.Run(h.name, func(t *testing.T) {
					got := h.run(t)
					if p.sorted {
						got.Stdout, want.Stdout = sortLines(got.Stdout), sortLines(want.Stdout)
					}
					if got.Stdout != want.Stdout || got.Exit != want.Exit {
						t.Errorf("translated: exit %d\n%s\noriginal under wazix: exit %d\n%s", got.Exit, got.Stdout, want.Exit, want.Stdout)
					}
				})
			}
		})
	}
}

// runWazixArgs runs a module in process under wazix with arguments and an
// empty stdin; a trap is an exit code, as the CLI reports it.
func runWazixArgs(t *testing.T, wasm []byte, args []string, mounts []testtools.Mount) testtools.Result {
	t.Helper()
	o := testrun.Options{Args: args, CloseOnContextDone: true}
	for _, m := range mounts {
		o.Dirs = append(o.Dirs, [2]string{m.Host, m.Guest})
	}
	res := testrun.Run(t, wasm, o)
	if res.Stderr != "" {
		t.Logf("wazix stderr:\n%s", res.Stderr)
	}
	if res.Err != nil {
		t.Logf("wazix: %v", res.Err)
	}
	return testtools.Result{Stdout: res.Stdout, Exit: int(res.Code)}
}

func sortLines(s string) string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
