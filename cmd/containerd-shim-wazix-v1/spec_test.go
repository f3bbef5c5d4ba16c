package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var wasmMagic = []byte("\x00asm\x01\x00\x00\x00")

// testRoot makes a rootfs with /app.wasm, /bin/tool.wasm, /notwasm, a
// symlink /link.wasm -> /app.wasm and an escaping one /esc -> ../../outside.
func testRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	root := filepath.Join(dir, "a", "rootfs")
	for _, d := range []string{root + "/bin", root + "/srv"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string][]byte{
		root + "/app.wasm":      wasmMagic,
		root + "/bin/tool.wasm": wasmMagic,
		root + "/srv/rel.wasm":  wasmMagic,
		root + "/notwasm":       []byte("#!/bin/sh\necho hi\n"),
		outside:                 wasmMagic,
	} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/app.wasm", root+"/link.wasm"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../outside", root+"/esc"); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestBuildLaunch(t *testing.T) {
	root := testRoot(t)
	mem := int64(64 << 20)
	tests := []struct {
		name      string
		spec      specs.Spec
		maxMemory bool
		newCLI    bool // wazix run has --argv0 and --cwd
		wantArgs  []string
		wantMod   string
		wantNet   netMode
		wantNetns string
	}{
		{
			name:     "absolute entrypoint, args and env",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm", "one", "--flag", "--"}, Env: []string{"A=1", "PATH=/bin", "BARE"}, Cwd: "/"}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--env", "A=1", "--env", "PATH=/bin", "--", "app.wasm", "--", "one", "--flag", "--"},
			wantMod:  root + "/app.wasm",
		},
		{
			name:     "cwd becomes PWD",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/srv"}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--env", "PWD=/srv", "--", "app.wasm", "--"},
			wantMod:  root + "/app.wasm",
		},
		{
			name:     "cwd and argv0 with a newer wazix",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm", "x"}, Cwd: "/srv"}},
			newCLI:   true,
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--cwd", "/srv", "--argv0", "/app.wasm", "--", "app.wasm", "--", "x"},
			wantMod:  root + "/app.wasm",
		},
		{
			name:     "PWD in env wins",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/srv", Env: []string{"PWD=/x"}}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--env", "PWD=/x", "--", "app.wasm", "--"},
			wantMod:  root + "/app.wasm",
		},
		{
			name:     "bare name found in PATH",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"tool.wasm", "x"}, Env: []string{"PATH=/nope:/bin"}, Cwd: "/"}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--env", "PATH=/nope:/bin", "--", "bin/tool.wasm", "--", "x"},
			wantMod:  root + "/bin/tool.wasm",
		},
		{
			name:     "relative path from cwd",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"./rel.wasm"}, Cwd: "/srv"}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--env", "PWD=/srv", "--", "srv/rel.wasm", "--"},
			wantMod:  root + "/srv/rel.wasm",
		},
		{
			name:     "symlink resolved inside the rootfs",
			spec:     specs.Spec{Process: &specs.Process{Args: []string{"/link.wasm"}, Cwd: "/"}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--", "app.wasm", "--"},
			wantMod:  root + "/app.wasm",
		},
		{
			name: "writable bind mounts of directories",
			spec: specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"}, Mounts: []specs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/data", Type: "bind", Source: root + "/srv", Options: []string{"rbind", "rw"}},
				{Destination: "/cfg", Source: root + "/bin", Options: []string{"rbind", "ro"}},
				{Destination: "/etc/hosts", Type: "bind", Source: root + "/notwasm", Options: []string{"rbind"}},
				{Destination: "/gone", Type: "bind", Source: root + "/missing", Options: []string{"rbind"}},
				{Destination: "/legacy/", Source: root + "/bin", Options: []string{"bind"}},
			}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--dir", root + "/srv::/data", "--dir", root + "/bin::/legacy", "--", "app.wasm", "--"},
			wantMod:  root + "/app.wasm",
		},
		{
			name: "memory limit with --max-memory",
			spec: specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"},
				Linux: &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}}}},
			maxMemory: true,
			wantArgs:  []string{"run", "--dir", root + "::/", "--net", "--max-memory", "67108864", "--", "app.wasm", "--"},
			wantMod:   root + "/app.wasm",
		},
		{
			name: "memory limit without --max-memory",
			spec: specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"},
				Linux: &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}}}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--", "app.wasm", "--"},
			wantMod:  root + "/app.wasm",
		},
		{
			name: "network namespace to join",
			spec: specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"},
				Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/var/run/netns/cni-1"}}}},
			wantArgs:  []string{"run", "--dir", root + "::/", "--net", "--", "app.wasm", "--"},
			wantMod:   root + "/app.wasm",
			wantNet:   netJoin,
			wantNetns: "/var/run/netns/cni-1",
		},
		{
			name: "new network namespace",
			spec: specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"},
				Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}},
			wantArgs: []string{"run", "--dir", root + "::/", "--net", "--", "app.wasm", "--"},
			wantMod:  root + "/app.wasm",
			wantNet:  netNew,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := buildLaunch(&tc.spec, root, cliFlags{maxMemory: tc.maxMemory, argv0: tc.newCLI, cwd: tc.newCLI})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.args, tc.wantArgs) {
				t.Errorf("args\n got %q\nwant %q", l.args, tc.wantArgs)
			}
			if l.module != tc.wantMod || l.dir != root {
				t.Errorf("module %q dir %q, want %q %q", l.module, l.dir, tc.wantMod, root)
			}
			if l.net != tc.wantNet || l.netnsPath != tc.wantNetns {
				t.Errorf("net %v %q, want %v %q", l.net, l.netnsPath, tc.wantNet, tc.wantNetns)
			}
		})
	}
}

func TestGuestMemoryCap(t *testing.T) {
	for in, want := range map[int64]int64{1: 65536, 65536: 65536, 64 << 20: 64 << 20, 4 << 30: 4 << 30, 16 << 30: 4 << 30} {
		if got := guestMemoryCap(in); got != want {
			t.Errorf("guestMemoryCap(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestBuildLaunchErrors(t *testing.T) {
	root := testRoot(t)
	tests := []struct {
		name string
		spec specs.Spec
		want string
	}{
		{"no args", specs.Spec{Process: &specs.Process{}}, "no process.args"},
		{"no process", specs.Spec{}, "no process.args"},
		{"not wasm", specs.Spec{Process: &specs.Process{Args: []string{"/notwasm"}}}, "is not a WebAssembly module"},
		{"missing", specs.Spec{Process: &specs.Process{Args: []string{"/missing.wasm"}}}, "no such file"},
		{"not in PATH", specs.Spec{Process: &specs.Process{Args: []string{"nope.wasm"}}}, "not found in the container's PATH"},
		{"directory", specs.Spec{Process: &specs.Process{Args: []string{"/bin"}}}, "not a regular file"},
		// The link points at ../../outside, which exists on the host, but
		// inside the rootfs it resolves to /outside, which does not.
		{"symlink out of the rootfs", specs.Spec{Process: &specs.Process{Args: []string{"/esc"}}}, "no such file"},
		{"terminal", specs.Spec{Process: &specs.Process{Args: []string{"/app.wasm"}, Terminal: true}}, "terminal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildLaunch(&tc.spec, root, cliFlags{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSandboxNeedsNoWasm(t *testing.T) {
	root := testRoot(t)
	spec := specs.Spec{
		Annotations: map[string]string{annContainerType: containerSandbox},
		Process:     &specs.Process{Args: []string{"/pause"}},
		Linux:       &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/var/run/netns/x"}}},
	}
	l, err := buildLaunch(&spec, root, cliFlags{})
	if err != nil {
		t.Fatal(err)
	}
	if !l.sandbox || l.net != netJoin || l.args != nil {
		t.Fatalf("launch = %+v, want a sandbox joining the netns with no wazix args", l)
	}
}

func TestMkdirInRoot(t *testing.T) {
	root := testRoot(t)
	if err := mkdirInRoot(root, "/work/a/b"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root + "/work/a/b"); err != nil || !fi.IsDir() {
		t.Fatalf("stat: %v", err)
	}
	if err := os.Symlink("../../../..", root+"/up"); err != nil {
		t.Fatal(err)
	}
	if err := mkdirInRoot(root, "/up/made"); err != nil {
		t.Fatal(err)
	}
	// A link climbing out resolves to the rootfs itself, so /up/made is
	// made as root/made, not above the rootfs.
	if _, err := os.Stat(root + "/made"); err != nil {
		t.Fatalf("made outside the rootfs? %v", err)
	}
}

func TestExitStatus(t *testing.T) {
	run := func(sh string) *os.ProcessState {
		p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", sh}, &os.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := p.Wait()
		return ps
	}
	tests := []struct {
		sh   string
		sent syscall.Signal
		want uint32
	}{
		{"exit 0", 0, 0},
		{"exit 1", 0, 1},
		{"exit 130", 0, 130},
		{"exit 130", syscall.SIGTERM, 143},
		{"exit 130", syscall.SIGINT, 130},
		{"exit 3", syscall.SIGTERM, 3},
		{"kill -KILL $$", syscall.SIGKILL, 137},
	}
	for _, tc := range tests {
		if got := exitStatus(run(tc.sh), nil, tc.sent); got != tc.want {
			t.Errorf("%q after %v: status %d, want %d", tc.sh, tc.sent, got, tc.want)
		}
	}
}

func TestProcMetrics(t *testing.T) {
	m, err := procMetrics(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Memory.Usage == 0 || m.Pids.Current == 0 {
		t.Fatalf("metrics of the test process: %+v", m)
	}
	if _, err := procMetrics(0); err == nil {
		t.Fatal("metrics of pid 0 did not fail")
	}
}

func TestStateRoundTrip(t *testing.T) {
	c := &container{bundle: t.TempDir(), state: savedState{Rootfs: "/r", Mounted: true, Pid: 42, StartTime: 7}}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(c.bundle)
	if err != nil || st != c.state {
		t.Fatalf("loaded %+v, %v; want %+v", st, err, c.state)
	}
	start, err := procStartTime(os.Getpid())
	if err != nil || !alive(os.Getpid(), start) || alive(os.Getpid(), start+1) {
		t.Fatalf("alive/procStartTime disagree: start %d err %v", start, err)
	}
}
