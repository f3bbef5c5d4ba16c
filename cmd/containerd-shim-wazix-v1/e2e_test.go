//go:build e2e

// The end-to-end test: a real containerd (built from the Go module proxy at
// a pinned version, cached), started as root with a private configuration,
// runs images this test makes through `ctr run --runtime
// io.containerd.wazix.v1`.
//
//	go test -tags e2e -run TestE2E -timeout 40m -v .
//
// It skips when not root. WAZIX_E2E_CACHE is where containerd is built
// (default: the user cache directory's wazix-shim-e2e);
// WAZIX_E2E_SNAPSHOTTER picks the snapshotter (default overlayfs; native
// where overlayfs cannot be mounted).
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/cmd/containerd-shim-wazix-v1/ocipack"
)

const (
	containerdVersion = "v2.4.2"
	runtimeName       = "io.containerd.wazix.v1"
	e2eNamespace      = "wazix-e2e"
)

type e2e struct {
	t       *testing.T
	dir     string // private root of everything this run creates
	bin     string // the shim and wazix
	ctrBin  string
	sock    string
	noClang bool
	// snapshotter is passed to every ctr command that unpacks or mounts.
	snapshotter string
}

func TestE2E(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the end-to-end test runs containerd, which needs root")
	}
	start := time.Now()
	e := &e2e{t: t}
	cdBin := buildContainerd(t)
	e.ctrBin = filepath.Join(cdBin, "ctr")
	// A short path: containerd's socket paths must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "wzx-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	e.dir = dir
	t.Cleanup(func() {
		// Whatever a failed test left mounted must not keep the directory.
		mount, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(string(mount), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
				unix.Unmount(f[4], unix.MNT_DETACH)
			}
		}
		os.RemoveAll(dir)
	})
	e.bin = filepath.Join(dir, "bin")
	e.buildShim()
	images := e.buildImages()
	e.startContainerd(cdBin)
	for _, img := range images {
		e.ctr(t, "images", "import", img)
	}
	t.Logf("setup took %v", time.Since(start).Round(time.Millisecond))

	t.Run("args env cwd root", e.testArgs)
	t.Run("stdin", e.testStdin)
	t.Run("exit codes", e.testExitCodes)
	t.Run("memory limit", e.testMemoryLimit)
	t.Run("SIGTERM stops a sleeping guest", e.testSigterm)
	t.Run("HTTP server with --net-host", e.testNetHost)
	t.Run("joins the network namespace", e.testJoinNetns)
	t.Run("a new network namespace", e.testNewNetns)
	t.Run("bad input", e.testBadInput)
	t.Run("pod sandbox waits until killed", e.testSandbox)
	t.Run("delete after a shim crash", e.testShimCrash)
	e.checkClean(t)
}

// buildContainerd installs containerd and ctr at the pinned version into
// the cache, with their own module and build caches, once.
func buildContainerd(t *testing.T) string {
	cache := os.Getenv("WAZIX_E2E_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir() // no HOME: cached for this boot only
		}
		cache = filepath.Join(base, "wazix-shim-e2e")
	}
	bin := filepath.Join(cache, "containerd-"+containerdVersion, "bin")
	if exists(filepath.Join(bin, "containerd")) && exists(filepath.Join(bin, "ctr")) {
		return bin
	}
	t.Logf("building containerd %s into %s (several minutes the first time)", containerdVersion, bin)
	start := time.Now()
	cmd := exec.Command("go", "install",
		"github.com/containerd/containerd/v2/cmd/containerd@"+containerdVersion,
		"github.com/containerd/containerd/v2/cmd/ctr@"+containerdVersion)
	cmd.Env = append(os.Environ(),
		"GOBIN="+bin,
		"GOCACHE="+filepath.Join(cache, "gocache"),
		"GOMODCACHE="+filepath.Join(cache, "gomodcache"),
		"GOFLAGS=-buildvcs=false",
		"CGO_ENABLED=0",
	)
	cmd.Dir = os.TempDir() // outside any module
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install containerd: %v\n%s", err, out)
	}
	t.Logf("built containerd in %v", time.Since(start).Round(time.Second))
	return bin
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// buildShim builds the shim and, beside it, the wazix CLI of this
// repository.
func (e *e2e) buildShim() {
	t := e.t
	goBuild(t, ".", nil, "-o", filepath.Join(e.bin, "containerd-shim-wazix-v1"), ".")
	goBuild(t, filepath.Join("..", ".."), nil, "-o", filepath.Join(e.bin, "wazix"), "./cmd/wazix")
}

func goBuild(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-buildvcs=false"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

// buildImages builds the guests and packs them as image tarballs.
func (e *e2e) buildImages() []string {
	t := e.t
	wasmDir := filepath.Join(e.dir, "wasm")
	guest := filepath.Join(wasmDir, "guest.wasm")
	goBuild(t, ".", []string{"GOOS=wasip1", "GOARCH=wasm"}, "-o", guest, "./testdata/guest")
	wasm := map[string][]byte{"guest": readFile(t, guest)}

	server := filepath.Join(wasmDir, "server.wasm")
	out, err := exec.Command("clang", "--target=wasm32-wasi", "-O2", "-Wall", "-o", server, filepath.Join("testdata", "wasix", "server.c")).CombinedOutput()
	if err != nil {
		// CI installs clang and wasi-libc (.ci/run); elsewhere the WASIX
		// cases skip.
		t.Logf("no WASIX guest (clang with wasi-libc): %v %s", err, out)
		e.noClang = true
	} else {
		wasm["server"] = readFile(t, server)
	}
	// A module that imports a function no host provides: it decodes, but
	// cannot be instantiated.
	wasm["nope"] = []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type section: () -> ()
		"\x02\x0c\x01\x03env\x04nope\x00\x00") // import env.nope, type 0

	var tars []string
	for name, b := range wasm {
		tars = append(tars, e.packImage(ocipack.Image{Name: "docker.io/wazix/" + name + ":e2e", Wasm: b}))
	}
	// Images whose entrypoint is not wasm: a script, and a pause-like
	// program for the pod sandbox.
	tars = append(tars,
		e.packImage(ocipack.Image{Name: "docker.io/wazix/script:e2e", Wasm: []byte("#!/bin/sh\necho hi\n"), Path: "/run.sh", Unchecked: true}),
		e.packImage(ocipack.Image{Name: "docker.io/wazix/pause:e2e", Wasm: []byte("\x7fELF not really"), Path: "/pause", Unchecked: true}))
	return tars
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *e2e) packImage(img ocipack.Image) string {
	var buf bytes.Buffer
	if err := ocipack.Write(&buf, img); err != nil {
		e.t.Fatal(err)
	}
	name := img.Name[strings.LastIndex(img.Name, "/")+1:]
	p := filepath.Join(e.dir, "images", strings.ReplaceAll(name, ":", "_")+".tar")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// startContainerd runs containerd with a private root, state and socket,
// and only the plugins ctr needs (no CRI), until the test ends.
func (e *e2e) startContainerd(cdBin string) {
	t := e.t
	e.sock = filepath.Join(e.dir, "containerd.sock")
	snap := os.Getenv("WAZIX_E2E_SNAPSHOTTER")
	if snap == "" {
		snap = "overlayfs"
	}
	cfg := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.nri.v1.nri"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`, filepath.Join(e.dir, "root"), filepath.Join(e.dir, "state"), e.sock, e.sock+".ttrpc", filepath.Join(e.dir, "opt"))
	cfgPath := filepath.Join(e.dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(e.dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(cdBin, "containerd"), "--config", cfgPath)
	// containerd finds the shim as containerd-shim-wazix-v1 on its PATH.
	cmd.Env = append(os.Environ(), "PATH="+e.bin+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// No Pdeathsig: it fires when the forking thread ends, and newNetns
	// ends threads on purpose.
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.snapshotter = snap
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("containerd log (tail):\n%s", tail(string(b), 60))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, _, err := e.ctrErr("version"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("containerd did not come up:\n%s", tail(string(b), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (e *e2e) ctrCmd(ctx context.Context, args ...string) *exec.Cmd {
	if len(args) > 0 && e.snapshotter != "" && (args[0] == "run" || (args[0] == "images" && len(args) > 1 && args[1] == "import")) {
		n := 1
		if args[0] == "images" {
			n = 2
		}
		args = append(append(append([]string(nil), args[:n]...), "--snapshotter", e.snapshotter), args[n:]...)
	}
	if len(args) > 0 && args[0] == "run" {
		// ctr's FIFOs go to the test's own directory (not the host's
		// /run/containerd/fifo), where checkClean finds any left behind.
		args = append([]string{"run", "--fifo-dir", e.fifoDir()}, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, e.ctrBin, append([]string{"-a", e.sock, "-n", e2eNamespace}, args...)...)
	cmd.Env = os.Environ()
	return cmd
}

// ctrErr runs ctr and returns its stdout, stderr and error.
func (e *e2e) ctrErr(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := e.ctrCmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ctr runs ctr and fails the test if it fails.
func (e *e2e) ctr(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := e.ctrErr(args...)
	if err != nil {
		t.Fatalf("ctr %v: %v\n%s%s", args, err, out, errOut)
	}
	return out
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func (e *e2e) run(args ...string) (string, string, int) {
	out, errOut, err := e.ctrErr(append([]string{"run", "--rm", "--runtime", runtimeName}, args...)...)
	return out, errOut, exitCode(err)
}

// background runs `ctr run` until the test ends, and returns once the
// guest printed a first line.
type bgRun struct {
	cmd    *exec.Cmd
	lines  chan string
	done   chan struct{}
	stderr bytes.Buffer
}

func (e *e2e) runBackground(t *testing.T, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	b := &bgRun{lines: make(chan string, 100), done: make(chan struct{})}
	b.cmd = e.ctrCmd(ctx, append([]string{"run", "--rm", "--runtime", runtimeName}, args...)...)
	b.cmd.Stderr = &b.stderr
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		b.cmd.Wait()
		cancel()
		close(b.done)
	}()
	t.Cleanup(func() { cancel(); <-b.done })
	select {
	case l := <-b.lines:
		t.Logf("guest: %s", l)
	case <-b.done:
		t.Fatalf("ctr run %v ended: %s", args, b.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("ctr run %v printed nothing", args)
	}
	return b
}

func (e *e2e) testArgs(t *testing.T) {
	vol := filepath.Join(e.dir, "volume")
	os.MkdirAll(vol, 0o755)
	if err := os.WriteFile(filepath.Join(vol, "msg"), []byte("from a bind mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.run("--env", "GREETING=hi there", "--cwd", "/work/dir",
		"--mount", "type=bind,src="+vol+",dst=/mnt,options=rbind:rw",
		"docker.io/wazix/guest:e2e", "args1", "/app.wasm", "one", "two words", "--flag")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	size := len(readFile(t, filepath.Join(e.dir, "wasm", "guest.wasm")))
	for _, want := range []string{
		"argv0=/app.wasm\n", // --argv0: as the image names the program
		`args=["one" "two words" "--flag"]` + "\n",
		"GREETING=hi there\n",
		"cwd=/work/dir err=<nil>\n",
		fmt.Sprintf("root: /app.wasm %d bytes\n", size),
		"mnt: from a bind mount\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "to stderr\n") {
		t.Errorf("stderr lacks the guest's line:\n%s", errOut)
	}
	// The image's default command, with no args from ctr.
	if out, errOut, code := e.run("docker.io/wazix/guest:e2e", "args2"); code != 0 || !strings.Contains(out, "args=[]\n") || !strings.Contains(out, "cwd=/ err=<nil>") {
		t.Errorf("default command: exit %d\n%s%s", code, out, errOut)
	}
	e.checkClean(t)
}

func (e *e2e) testStdin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.ctrCmd(ctx, "run", "--rm", "--runtime", runtimeName, "docker.io/wazix/guest:e2e", "cat1", "/app.wasm", "cat")
	cmd.Stdin = strings.NewReader("line one\nline two\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "line one\nline two\nEOF\n" {
		t.Errorf("cat: %v, stdout %q", err, out)
	}
	e.checkClean(t)
}

func (e *e2e) testExitCodes(t *testing.T) {
	if _, errOut, code := e.run("docker.io/wazix/guest:e2e", "exit7", "/app.wasm", "exit", "7"); code != 7 {
		t.Errorf("Go guest exit 7: ctr exit %d\n%s", code, errOut)
	}
	if e.noClang {
		t.Skip("no WASIX guest: clang with wasi-libc is missing")
	}
	if _, errOut, code := e.run("docker.io/wazix/server:e2e", "exit1", "/app.wasm", "exit", "1"); code != 1 {
		t.Errorf("WASIX guest exit 1: ctr exit %d\n%s", code, errOut)
	}
	e.checkClean(t)
}

// testMemoryLimit: the container's memory limit caps the guest's linear
// memory (wazix run --max-memory), so a guest allocating past it fails.
func (e *e2e) testMemoryLimit(t *testing.T) {
	help, _ := exec.Command(filepath.Join(e.bin, "wazix"), "run", "--help").CombinedOutput()
	if !bytes.Contains(help, []byte("--max-memory")) {
		t.Skip("this wazix run has no --max-memory")
	}
	if out, errOut, code := e.run("--memory-limit", strconv.Itoa(128<<20), "docker.io/wazix/guest:e2e", "mem1", "/app.wasm", "alloc", "40"); code != 0 || !strings.Contains(out, "allocated 40") {
		t.Errorf("40 MiB under a 128 MiB limit: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := e.run("--memory-limit", strconv.Itoa(32<<20), "docker.io/wazix/guest:e2e", "mem2", "/app.wasm", "alloc", "40"); code == 0 || strings.Contains(out, "allocated") {
		t.Errorf("40 MiB under a 32 MiB limit: exit %d\n%s", code, out)
	}
	e.checkClean(t)
}

func (e *e2e) testSigterm(t *testing.T) {
	b := e.runBackground(t, "docker.io/wazix/guest:e2e", "sleep1", "/app.wasm", "sleep", "300")

	// While it runs: ps, metrics, and exec is refused.
	if out := e.ctr(t, "task", "ls"); !strings.Contains(out, "RUNNING") {
		t.Errorf("task ls:\n%s", out)
	}
	// Pids: the one process is the wazix run the shim started.
	if out := e.ctr(t, "task", "ps", "sleep1"); len(strings.Fields(out)) < 3 {
		t.Errorf("task ps:\n%s", out)
	} else if exe, err := os.Readlink("/proc/" + strings.Fields(out)[2] + "/exe"); err != nil || exe != filepath.Join(e.bin, "wazix") {
		t.Errorf("task ps: pid %s runs %q (%v), want %s", strings.Fields(out)[2], exe, err, filepath.Join(e.bin, "wazix"))
	}
	if out := e.ctr(t, "task", "metrics", "sleep1"); !strings.Contains(out, "memory.usage") {
		t.Errorf("task metrics:\n%s", out)
	}
	_, errOut, err := e.ctrErr("task", "exec", "--exec-id", "x1", "sleep1", "/app.wasm")
	if err == nil || !strings.Contains(errOut, "exec into a WebAssembly task is not supported") {
		t.Errorf("exec: %v\n%s", err, errOut)
	}

	start := time.Now()
	e.ctr(t, "task", "kill", "--signal", "SIGTERM", "sleep1")
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the guest did not stop within 10s of SIGTERM")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %v", d)
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 128+int(unix.SIGTERM) {
		t.Errorf("exit status %d, want 143\n%s", code, b.stderr.String())
	}
	e.checkClean(t)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpGet fetches http://127.0.0.1:port/ and returns the body. It dials on
// the calling goroutine (net/http would dial on another one), so that a
// caller locked in a network namespace connects from there.
func httpGet(port int) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (e *e2e) testNetHost(t *testing.T) {
	if e.noClang {
		t.Skip("no WASIX guest: clang with wasi-libc is missing")
	}
	port := freePort(t)
	b := e.runBackground(t, "--net-host", "docker.io/wazix/server:e2e", "http1", "/app.wasm", strconv.Itoa(port))
	body, err := httpGet(port)
	if err != nil || body != "hello from wasix\n" {
		t.Fatalf("GET: %q %v", body, err)
	}
	e.ctr(t, "task", "kill", "http1")
	<-b.done
	e.checkClean(t)
}

// testJoinNetns runs the server in a network namespace made beforehand, as
// the CRI does for a pod: the host cannot reach it, a client inside the
// namespace can.
func (e *e2e) testJoinNetns(t *testing.T) {
	if e.noClang {
		t.Skip("no WASIX guest: clang with wasi-libc is missing")
	}
	nsPath, inNs := newNetns(t, e.dir)
	port := freePort(t)
	b := e.runBackground(t, "--with-ns", "network:"+nsPath, "docker.io/wazix/server:e2e", "http2", "/app.wasm", strconv.Itoa(port))
	if body, err := httpGet(port); err == nil {
		t.Errorf("the host reached the guest in its own namespace: %q", body)
	}
	var body string
	var err error
	inNs(func() { body, err = httpGet(port) })
	if err != nil || body != "hello from wasix\n" {
		t.Errorf("GET in the namespace: %q %v", body, err)
	}
	e.ctr(t, "task", "kill", "http2")
	<-b.done
	e.checkClean(t)
}

// inNetns runs f on a thread in the network namespace at path.
func inNetns(t *testing.T, path string, f func()) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ns, err := os.Open(path)
		if err == nil {
			err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
			ns.Close()
		}
		if err == nil {
			f()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// newNetns makes a network namespace with loopback up, bind-mounted at a
// file, and a function that runs f inside it.
func newNetns(t *testing.T, dir string) (string, func(f func())) {
	p := filepath.Join(dir, "netns")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := func(f func()) { inNetns(t, p, f) }
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := unix.Unshare(unix.CLONE_NEWNET)
		if err == nil {
			err = loopbackUp()
		}
		if err == nil {
			err = unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), p, "", unix.MS_BIND, "")
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("make a network namespace: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(p, unix.MNT_DETACH) })
	return p, in
}

// testNewNetns runs the server with ctr's default, a new network namespace:
// the shim makes it with loopback up, and only the guest's namespace
// reaches the server.
func (e *e2e) testNewNetns(t *testing.T) {
	if e.noClang {
		t.Skip("no WASIX guest: clang with wasi-libc is missing")
	}
	port := freePort(t)
	b := e.runBackground(t, "docker.io/wazix/server:e2e", "http3", "/app.wasm", strconv.Itoa(port))
	if body, err := httpGet(port); err == nil {
		t.Errorf("the host reached the guest in its own namespace: %q", body)
	}
	pid := ""
	for _, line := range strings.Split(e.ctr(t, "task", "ls"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "http3" {
			pid = f[1]
		}
	}
	var body string
	var err error
	inNetns(t, "/proc/"+pid+"/ns/net", func() { body, err = httpGet(port) })
	if err != nil || body != "hello from wasix\n" {
		t.Errorf("GET in the task's namespace: %q %v", body, err)
	}
	e.ctr(t, "task", "kill", "http3")
	<-b.done
	e.checkClean(t)
}

func (e *e2e) testBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not wasm", []string{"docker.io/wazix/script:e2e", "bad1"}, "entrypoint /run.sh is not a WebAssembly module"},
		{"does not load", []string{"docker.io/wazix/nope:e2e", "bad2"}, "imports functions wazix does not provide: env.nope"},
		{"missing entrypoint", []string{"docker.io/wazix/guest:e2e", "bad3", "/missing.wasm"}, "entrypoint /missing.wasm"},
		{"missing rootfs", []string{"--rootfs", filepath.Join(e.dir, "no-such-rootfs"), "bad4", "/app.wasm"}, "no-such-rootfs does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := e.run(tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want a failure saying %q:\n%s%s", code, tc.want, out, errOut)
			}
			e.checkClean(t)
		})
	}
	if out := e.ctr(t, "containers", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left: %s", out)
	}
}

func (e *e2e) testSandbox(t *testing.T) {
	e.ctr(t, "run", "-d", "--runtime", runtimeName, "--annotation", "io.kubernetes.cri.container-type=sandbox", "docker.io/wazix/pause:e2e", "pod1")
	time.Sleep(500 * time.Millisecond)
	if out := e.ctr(t, "task", "ls"); !strings.Contains(out, "RUNNING") {
		t.Fatalf("the sandbox does not run:\n%s", out)
	}
	e.ctr(t, "task", "kill", "pod1")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.ctr(t, "task", "ls"), "STOPPED") {
		if time.Now().After(deadline) {
			t.Fatal("the sandbox did not stop")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.ctr(t, "task", "rm", "pod1")
	e.ctr(t, "containers", "rm", "pod1")
	e.checkClean(t)
}

// testShimCrash kills the shim of a running task: containerd runs the
// shim's delete action, which must leave no process and no mount.
func (e *e2e) testShimCrash(t *testing.T) {
	e.ctr(t, "run", "-d", "--runtime", runtimeName, "docker.io/wazix/guest:e2e", "crash1", "/app.wasm", "sleep", "300")
	shim := 0
	for _, p := range e.ourProcesses() {
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); bytes.Contains(cmdline, []byte("-id\x00crash1\x00")) {
			shim = p
		}
	}
	if shim == 0 {
		t.Fatal("no shim process for crash1")
	}
	if len(e.mounts()) == 0 {
		t.Fatal("no rootfs mount while the task runs")
	}
	unix.Kill(shim, unix.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.ourProcesses()) > 0 || len(e.mounts()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the shim's kill -9: processes %v, mounts %q", e.ourProcesses(), e.mounts())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.ctrErr("task", "rm", "-f", "crash1")
	e.ctr(t, "containers", "rm", "crash1")
	// The FIFOs are ctr's own (it made them for the detached run and
	// reattaches only to a task that still exists); no shim can remove them.
	for _, f := range e.fifos() {
		if strings.Contains(filepath.Base(f), "crash1-") {
			os.RemoveAll(filepath.Dir(f))
		}
	}
	e.checkClean(t)
}

// ourProcesses lists the processes running the shim or wazix binaries
// this test built.
func (e *e2e) ourProcesses() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && strings.HasPrefix(exe, e.bin+"/") {
			if t, state, err := procStat(pid); err == nil && t > 0 && state != "Z" {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// mounts lists the mount points under the test's containerd state.
func (e *e2e) mounts() []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var ms []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(e.dir, "state")) {
			ms = append(ms, f[4])
		}
	}
	return ms
}

// fifoDir is where ctr makes the tasks' stdio FIFOs.
func (e *e2e) fifoDir() string { return filepath.Join(e.dir, "fifo") }

// fifos lists the FIFOs left under fifoDir.
func (e *e2e) fifos() []string {
	var fs []string
	filepath.WalkDir(e.fifoDir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeNamedPipe != 0 {
			fs = append(fs, p)
		}
		return nil
	})
	return fs
}

// checkClean waits a little for shims to exit, then fails if a shim, a
// workload, a rootfs mount or a stdio FIFO is left.
func (e *e2e) checkClean(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs, ms, fs := e.ourProcesses(), e.mounts(), e.fifos()
		if len(procs) == 0 && len(ms) == 0 && len(fs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, p := range procs {
				c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
				desc = append(desc, fmt.Sprintf("%d %s", p, bytes.ReplaceAll(c, []byte{0}, []byte{' '})))
			}
			t.Fatalf("left behind: processes %q, mounts %q, FIFOs %q", desc, ms, fs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
