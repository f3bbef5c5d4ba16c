package wasi_p1_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

func TestArgsEnvExit(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "go/hello"), testrun.Options{
		Args: []string{"-exit", "7", "-env", "K", "-env", "MISSING", "a b", "-c"},
		Env:  []string{"K=v=w", "OTHER=1"},
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := "hello from go\nARGC:9\nARG:-exit\nARG:7\nARG:-env\nARG:K\nARG:-env\nARG:MISSING\nARG:a b\nARG:-c\nENV:K=v=w\nNOENV:MISSING\n"
	if r.Stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.Stdout, want)
	}
	if r.Code != 7 {
		t.Errorf("exit code %d, want 7", r.Code)
	}
}

func TestClocks(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "go/clock"), testrun.Options{
		Args: []string{"monotonic", "sleep", "30", "ids", "cputime"},
	})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v: %s", r.Code, r.Err, r.Stderr)
	}
	for _, want := range []string{
		"monotonic ok",
		"sleep 30 ok",
		"clock 0 res_errno=0 time_errno=0 nonzero=true",
		"clock 1 res_errno=0 time_errno=0 nonzero=true",
		"clock 2 res_errno=0 time_errno=0 nonzero=true",
		"clock 3 res_errno=0 time_errno=0 nonzero=true",
		"clock 9 res_errno=28 time_errno=28 nonzero=false",
		"cputime ok",
	} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, r.Stdout)
		}
	}
}

func TestRandom(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "go/random"), testrun.Options{Args: []string{"64"}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v: %s", r.Code, r.Err, r.Stdout)
	}
	for _, want := range []string{"errno 0", "len 64", "nonzero true", "differ true"} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, r.Stdout)
		}
	}
}

func TestStdio(t *testing.T) {
	in := strings.Repeat("line\n", 1000)
	r := testrun.Run(t, fixtures.Build(t, "go/stdio"), testrun.Options{
		Args:  []string{"count", "out", "to-out", "err", "to-err", "exit", "5"},
		Stdin: strings.NewReader(in),
	})
	if r.Code != 5 {
		t.Errorf("exit code %d, want 5", r.Code)
	}
	if r.Stdout != "count bytes=5000 lines=1000\nto-out\n" {
		t.Errorf("stdout %q", r.Stdout)
	}
	if r.Stderr != "to-err\n" {
		t.Errorf("stderr %q", r.Stderr)
	}
}

// TestStdinPipe gives the guest a real host pipe as stdin, written slowly.
func TestStdinPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		for i := 0; i < 3; i++ {
			pw.Write([]byte("abc\n"))
		}
		pw.Close()
	}()
	r := testrun.Run(t, fixtures.Build(t, "go/stdio"), testrun.Options{Args: []string{"count"}, Stdin: pr})
	if r.Stdout != "count bytes=12 lines=3\n" || r.Code != 0 {
		t.Errorf("stdout %q code %d", r.Stdout, r.Code)
	}
}

func TestUnstable(t *testing.T) {
	dir := t.TempDir()
	r := testrun.Run(t, fixtures.Build(t, "wat/unstable"), testrun.Options{Dirs: [][2]string{{dir, "/"}}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v:\n%s", r.Code, r.Err, r.Stdout)
	}
	want := map[string]string{
		"path_open": "0", "seek_set": "3", "seek_end": "10", "seek_cur": "8", "filetype": "4",
		"nlink": "1", "size": "10", "mtim_set": "1", "tail_intact": "1", "nevents": "1", "event_userdata": "42",
	}
	got := map[string]string{}
	for _, l := range r.Lines() {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], v, r.Stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "unstable.txt")); !os.IsNotExist(err) {
		t.Errorf("unstable.txt not removed: %v", err)
	}
}

// TestBadPointers passes out-of-range pointers and lengths to many functions:
// each must return EFAULT and the host must survive.
func TestBadPointers(t *testing.T) {
	r := testrun.Run(t, fixtures.Build(t, "wat/badptr"), testrun.Options{Args: []string{"arg"}})
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v:\n%s", r.Code, r.Err, r.Stdout)
	}
	lines := r.Lines()
	if len(lines) < 2 || lines[len(lines)-1] != "done" {
		t.Fatalf("guest did not finish:\n%s", r.Stdout)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasSuffix(l, " 21") {
			t.Errorf("%s: want EFAULT (21)", l)
		}
	}
}

// TestRights runs the C fixture that calls preview1 file functions directly:
// rights can only shrink and are enforced, readdir cookies resume, renumber
// moves, and so on.
func TestRights(t *testing.T) {
	dir := t.TempDir()
	r := testrun.Run(t, fixtures.Build(t, "c/files"), testrun.Options{Dirs: [][2]string{{dir, "/sandbox"}}})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	t.Logf("output:\n%s", r.Stdout)
	lines := r.Lines()
	if len(lines) == 0 || lines[0] != "setup 0" || lines[len(lines)-1] != "cleanup 0" {
		t.Fatalf("setup/cleanup failed:\n%s", r.Stdout)
	}
	expect := expectations(t, "files.expect")
	got := map[string]string{}
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, " ")
		got[name] = rest
	}
	for name, re := range expect {
		if !re.MatchString(got[name]) {
			t.Errorf("%s: got %q, want %s", name, got[name], re)
		}
	}
}

// expectations reads testdata/NAME: "name regexp" per line.
func expectations(t *testing.T, name string) map[string]*regexp.Regexp {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*regexp.Regexp{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, _ := strings.Cut(l, " ")
		out[k] = regexp.MustCompile("^" + v + "$")
	}
	return out
}
