package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	"github.com/containerd/fifo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// stateFile, in the bundle, records what the shim set up, so that the
// `delete` action can undo it after the shim died.
const stateFile = "wazix-shim.json"

type savedState struct {
	Rootfs    string `json:"rootfs"`
	Mounted   bool   `json:"mounted"`
	Pid       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"` // /proc/PID/stat field 22, against pid reuse
}

// container is one task: its rootfs, its workload process and its stdio.
type container struct {
	id, bundle string
	stdin      string
	stdout     string
	stderr     string
	state      savedState

	mu         sync.Mutex
	status     task.Status
	cmd        *exec.Cmd
	pid        int
	startW     *os.File // the stub's fd 3, written by Start
	stdinW     io.Closer
	stdinR     io.Closer // the stdin FIFO
	waiting    bool      // wait has been started and owns cmd.Wait
	lastSignal syscall.Signal
	exitStatus uint32
	exitedAt   time.Time
	exited     chan struct{}
	ioDone     sync.WaitGroup
}

// createContainer does all of Create: mounts the rootfs, checks the
// workload, opens stdio and starts the stub. On error it leaves nothing
// behind: no mount, no process, no open FIFO.
func createContainer(ctx context.Context, id, bundle string, rootfsMounts []mount.Mount, stdin, stdout, stderr string, terminal bool) (_ *container, retErr error) {
	c := &container{id: id, bundle: bundle, stdin: stdin, stdout: stdout, stderr: stderr, exited: make(chan struct{}), status: task.Status_CREATED}
	if terminal {
		return nil, fmt.Errorf("a terminal (tty) is not supported by the wazix shim: %w", errdefs.ErrNotImplemented)
	}
	spec, err := readSpec(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, fmt.Errorf("the spec has no root.path: %w", errdefs.ErrInvalidArgument)
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	c.state.Rootfs = rootfs
	defer func() {
		if retErr != nil {
			c.cleanup()
		}
	}()
	if len(rootfsMounts) > 0 {
		// Recorded first, so that a crash during the mount is undone too.
		c.state.Mounted = true
		if err := c.save(); err != nil {
			return nil, err
		}
		if err := mount.All(rootfsMounts, rootfs); err != nil {
			return nil, fmt.Errorf("mount rootfs: %w", err)
		}
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("rootfs %s does not exist or is not a directory: %w", rootfs, errdefs.ErrInvalidArgument)
	}

	wazixBin := ""
	if !isSandbox(spec) {
		if wazixBin, err = findWazix(); err != nil {
			return nil, err
		}
	}
	if spec.Process != nil && spec.Process.Cwd != "" && !isSandbox(spec) {
		// As runc does, the working directory is created if the image
		// lacks it (in the container's writable layer).
		if err := mkdirInRoot(rootfs, spec.Process.Cwd); err != nil {
			return nil, fmt.Errorf("working directory %s: %w", spec.Process.Cwd, err)
		}
	}
	var cli cliFlags
	if wazixBin != "" {
		cli = cliHas(wazixBin)
	}
	l, err := buildLaunch(spec, rootfs, cli)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if l.sandbox {
		cmd = exec.Command(self, stubPause)
	} else {
		if err := checkModule(wazixBin, l.module, strings.TrimPrefix(l.module, rootfs)); err != nil {
			return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
		}
		args := l.args
		if _, err := os.UserCacheDir(); err != nil {
			// No HOME (containerd under systemd): still cache compiled modules.
			args = append([]string{"run", "--cache-dir", "/var/cache/wazix"}, args[1:]...)
		}
		cmd = exec.Command(self, append([]string{stubRun, wazixBin}, args...)...)
	}
	cmd.Dir = rootfs
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	startR, startW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer startR.Close()
	c.startW = startW
	cmd.ExtraFiles = []*os.File{startR}
	closers, err := c.wireIO(ctx, cmd)
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	if err := startInNetns(cmd, l); err != nil {
		return nil, fmt.Errorf("start workload process: %w", err)
	}
	c.cmd = cmd
	c.pid = cmd.Process.Pid
	c.state.Pid = c.pid
	c.state.StartTime, _ = procStartTime(c.pid)
	if err := c.save(); err != nil {
		return nil, err
	}
	return c, nil
}

// wireIO connects the child's stdio to the task's FIFOs through pipes the
// shim copies, as runc's shim does for a task without a terminal. It returns
// the child's ends, to close once the child has them.
func (c *container) wireIO(ctx context.Context, cmd *exec.Cmd) ([]*os.File, error) {
	var childEnds []*os.File
	if c.stdin != "" {
		in, err := fifo.OpenFifo(context.Background(), c.stdin, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return childEnds, fmt.Errorf("open stdin %s: %w", c.stdin, err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			in.Close()
			return childEnds, err
		}
		childEnds = append(childEnds, r)
		cmd.Stdin = r
		c.stdinW, c.stdinR = w, in
		go func() {
			io.Copy(w, in)
			in.Close()
			w.Close()
		}()
	}
	for _, o := range []struct {
		path string
		dst  *io.Writer
	}{{c.stdout, &cmd.Stdout}, {c.stderr, &cmd.Stderr}} {
		if o.path == "" {
			continue
		}
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := fifo.OpenFifo(octx, o.path, syscall.O_WRONLY, 0)
		cancel()
		if err != nil {
			return childEnds, fmt.Errorf("open %s: %w", o.path, err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			out.Close()
			return childEnds, err
		}
		childEnds = append(childEnds, w)
		*o.dst = w
		c.ioDone.Add(1)
		go func() {
			defer c.ioDone.Done()
			io.Copy(out, r)
			r.Close()
			out.Close()
		}()
	}
	return childEnds, nil
}

// start lets the stub exec the workload.
func (c *container) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != task.Status_CREATED {
		return fmt.Errorf("task %s is %v, not created: %w", c.id, c.status, errdefs.ErrFailedPrecondition)
	}
	_, err := c.startW.Write([]byte{startByte})
	c.startW.Close()
	if err != nil {
		return fmt.Errorf("start task %s: %w", c.id, err)
	}
	c.status = task.Status_RUNNING
	return nil
}

// wait reaps the workload, records its exit status and calls onExit with
// the container locked. Output is drained first, so that a client that
// reads the exit sees all output before it.
func (c *container) wait(onExit func()) {
	err := c.cmd.Wait()
	done := make(chan struct{})
	go func() { c.ioDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exitStatus = exitStatus(c.cmd.ProcessState, err, c.lastSignal)
	c.exitedAt = time.Now()
	c.status = task.Status_STOPPED
	if c.stdinW != nil {
		c.stdinW.Close()
	}
	c.startW.Close()
	close(c.exited)
	onExit()
}

// exitStatus maps how the child ended to a container exit status: the
// guest's exit code, or 128+signal. wazix run turns SIGTERM and SIGINT into
// a clean exit 130; when the shim delivered one of them, report it as runc
// would, 128+signal (143 for SIGTERM).
func exitStatus(ps *os.ProcessState, err error, sent syscall.Signal) uint32 {
	if ps == nil {
		return 255
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return uint32(ps.ExitCode())
	}
	if ws.Signaled() {
		return 128 + uint32(ws.Signal())
	}
	code := uint32(ws.ExitStatus())
	if code == 130 && (sent == syscall.SIGTERM || sent == syscall.SIGINT) {
		return 128 + uint32(sent)
	}
	return code
}

// kill delivers sig to the workload.
func (c *container) kill(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == task.Status_STOPPED {
		return fmt.Errorf("task %s has already exited: %w", c.id, errdefs.ErrNotFound)
	}
	c.lastSignal = sig
	if err := unix.Kill(c.pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("task %s has already exited: %w", c.id, errdefs.ErrNotFound)
		}
		return err
	}
	return nil
}

// cleanup kills a workload that is still there, unmounts the rootfs and
// removes the state file. It is safe to call more than once.
func (c *container) cleanup() error {
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.exited:
		default:
			c.cmd.Process.Kill()
			if c.waiting {
				<-c.exited
			} else {
				c.cmd.Wait()
			}
		}
	}
	if c.startW != nil {
		c.startW.Close()
	}
	if c.stdinR != nil {
		c.stdinR.Close()
	}
	return undo(c.bundle, c.state)
}

// undo reverses what the state records; the delete action calls it with the
// state file of a shim that died.
func undo(bundle string, st savedState) error {
	var errs []error
	if st.Pid > 0 && alive(st.Pid, st.StartTime) {
		unix.Kill(st.Pid, unix.SIGKILL)
		for i := 0; i < 100 && alive(st.Pid, st.StartTime); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if st.Mounted && st.Rootfs != "" {
		if err := mount.UnmountRecursive(st.Rootfs, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount rootfs: %w", err))
		}
	}
	if err := os.Remove(filepath.Join(bundle, stateFile)); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *container) save() error {
	b, err := json.Marshal(c.state)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.bundle, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.bundle, stateFile))
}

func loadState(bundle string) (savedState, error) {
	var st savedState
	b, err := os.ReadFile(filepath.Join(bundle, stateFile))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func readSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read OCI spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse OCI spec: %w", err)
	}
	return &s, nil
}

// alive reports whether pid is still the process that started at start
// and has not exited (a zombie has).
func alive(pid int, start uint64) bool {
	t, state, err := procStat(pid)
	return err == nil && t == start && state != "Z" && state != "X"
}

// procStartTime reads the start time of pid (clock ticks since boot), which
// tells a process from a later one that reuses its pid.
func procStartTime(pid int) (uint64, error) {
	t, _, err := procStat(pid)
	return t, err
}

// procStat reads the start time and the state letter of pid.
func procStat(pid int) (uint64, string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", err
	}
	// The command name can hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, "", errors.New("bad /proc stat")
	}
	// f[0] is field 3 (state); start time is field 22.
	t, err := strconv.ParseUint(f[19], 10, 64)
	return t, f[0], err
}

// findWazix locates the wazix CLI: beside the shim binary, then on PATH.
func findWazix() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "wazix")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("wazix")
	if err != nil {
		return "", fmt.Errorf("the wazix CLI was found neither beside the shim nor on PATH: install it next to containerd-shim-wazix-v1: %w", errdefs.ErrNotFound)
	}
	return filepath.Abs(p)
}

// cliFlags are the `wazix run` flags newer than the shim's first version.
type cliFlags struct{ maxMemory, argv0, cwd bool }

var cliOnce struct {
	sync.Once
	flags cliFlags
}

// cliHas reports which of them `wazix run --help` lists.
func cliHas(wazix string) cliFlags {
	cliOnce.Do(func() {
		out, _ := exec.Command(wazix, "run", "--help").CombinedOutput()
		cliOnce.flags = cliFlags{
			maxMemory: bytes.Contains(out, []byte("--max-memory")),
			argv0:     bytes.Contains(out, []byte("--argv0")),
			cwd:       bytes.Contains(out, []byte("--cwd")),
		}
	})
	return cliOnce.flags
}

// checkModule asks `wazix inspect` whether the module decodes and whether
// wazix provides every function it imports, so that a module that cannot
// load fails Create with the reason instead of starting and exiting 1.
func checkModule(wazix, module, guestPath string) error {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(wazix, "inspect", "--format", "json", module)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.ReplaceAll(msg, module, guestPath)
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("module %s does not load: %s", guestPath, msg)
	}
	var ins struct {
		Imports []struct {
			Module, Name, Kind, Status string
		} `json:"imports"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &ins); err != nil {
		return fmt.Errorf("wazix inspect %s: %w", guestPath, err)
	}
	var missing []string
	for _, im := range ins.Imports {
		// "unsupported": no host function matches, the module would not
		// load. Every other status (done, partial, ENOSYS, ...; "native" in
		// older wazix) is a function wazix defines.
		if im.Kind == "func" && im.Status == "unsupported" {
			missing = append(missing, im.Module+"."+im.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("module %s does not load: it imports functions wazix does not provide: %s", guestPath, strings.Join(missing, ", "))
	}
	return nil
}

// mkdirInRoot creates the container directory p, and its parents, inside
// rootfs, never following a symlink out of it.
func mkdirInRoot(rootfs, p string) error {
	cur := "/"
	for _, c := range strings.Split(filepath.Clean("/"+p), "/") {
		if c == "" {
			continue
		}
		next := filepath.Join(cur, c)
		host, err := resolveInRoot(rootfs, next)
		if os.IsNotExist(err) {
			host = filepath.Join(rootfs, cur, c)
			if cur != "/" {
				parent, err := resolveInRoot(rootfs, cur)
				if err != nil {
					return err
				}
				host = filepath.Join(parent, c)
			}
			if err := os.Mkdir(host, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
		} else if err != nil {
			return err
		}
		cur = next
	}
	return nil
}
