package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotations the CRI plugin of containerd puts on a pod's containers.
const (
	annContainerType = "io.kubernetes.cri.container-type"
	containerSandbox = "sandbox"
)

// defaultPath is searched for a bare command name when the spec has no PATH,
// as runc does.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// netMode says which network namespace the workload runs in.
type netMode int

const (
	netHost netMode = iota // the spec names no network namespace: the shim's own
	netJoin                // join the namespace at launch.netnsPath
	netNew                 // a new namespace, with loopback up
)

// launch is what the shim runs for one container: `wazix` with args, in dir,
// in the given network namespace. It is derived from the OCI spec alone so
// that the mapping can be tested without a containerd.
type launch struct {
	args      []string // argv after the wazix binary
	dir       string   // working directory of the wazix process (the rootfs)
	module    string   // host path of the module, inside the rootfs
	net       netMode
	netnsPath string
	sandbox   bool // a pod's sandbox container: no guest, it waits until killed
	memLimit  int64
}

// isSandbox reports whether the spec is a Kubernetes pod sandbox container
// (the pause container), which the shim keeps alive without running its image.
func isSandbox(spec *specs.Spec) bool {
	return spec.Annotations[annContainerType] == containerSandbox
}

// buildLaunch maps an OCI runtime spec onto a `wazix run` command line.
// rootfs is the host directory holding the container's root filesystem; it
// becomes the guest's "/". cli says which newer flags the wazix CLI takes.
func buildLaunch(spec *specs.Spec, rootfs string, cli cliFlags) (*launch, error) {
	l := &launch{dir: rootfs, sandbox: isSandbox(spec)}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type != specs.NetworkNamespace {
				continue
			}
			if ns.Path == "" {
				l.net = netNew
			} else {
				l.net, l.netnsPath = netJoin, ns.Path
			}
		}
		if r := spec.Linux.Resources; r != nil && r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit > 0 {
			l.memLimit = *r.Memory.Limit
		}
	}
	if l.sandbox {
		return l, nil
	}
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, errors.New("the spec has no process.args: the image needs an entrypoint or a command naming a .wasm file")
	}
	if spec.Process.Terminal {
		return nil, errors.New("a terminal (tty) is not supported by the wazix shim: run without -t / tty: true")
	}
	cwd := spec.Process.Cwd
	if cwd == "" || !path.IsAbs(cwd) {
		cwd = path.Join("/", cwd)
	}
	env := spec.Process.Env

	guestPath, err := lookEntrypoint(rootfs, spec.Process.Args[0], cwd, envValue(env, "PATH"))
	if err != nil {
		return nil, err
	}
	host, err := resolveInRoot(rootfs, guestPath)
	if err != nil {
		return nil, fmt.Errorf("entrypoint %s: %w", guestPath, err)
	}
	if err := checkWasm(host, guestPath); err != nil {
		return nil, err
	}
	l.module = host
	rel, err := filepath.Rel(rootfs, host)
	if err != nil {
		return nil, err
	}

	a := []string{"run", "--dir", rootfs + "::/", "--net"}
	for _, m := range bindDirs(spec.Mounts) {
		a = append(a, "--dir", m.Source+"::"+m.Destination)
	}
	hasPWD := false
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			// wazix would copy a bare KEY from its own environment,
			// which is the shim's, not the container's.
			continue
		}
		if k == "PWD" {
			hasPWD = true
		}
		a = append(a, "--env", kv)
	}
	switch {
	case cli.cwd && cwd != "/":
		// A WASIX guest starts there; wazix sets PWD too (Go's wasip1
		// runtime takes its initial directory from it) unless env has it.
		a = append(a, "--cwd", cwd)
	case !hasPWD && cwd != "/":
		// An older wazix run has no working-directory flag: PWD only.
		a = append(a, "--env", "PWD="+cwd)
	}
	if cli.argv0 {
		// argv[0] as the image names the program, as runc gives it.
		a = append(a, "--argv0", spec.Process.Args[0])
	}
	if cli.maxMemory && l.memLimit > 0 {
		a = append(a, "--max-memory", strconv.FormatInt(guestMemoryCap(l.memLimit), 10))
	}
	// The module is named relative to the rootfs (the process's working
	// directory), so the guest's argv[0] does not show the bundle's host
	// path. "--" ends wazix's flags; the second "--" keeps guest
	// arguments that look like flags, or a literal "--", as they are.
	a = append(a, "--", rel, "--")
	a = append(a, spec.Process.Args[1:]...)
	l.args = a
	return l, nil
}

// bindDirs picks the spec's mounts that wazix can give the guest: writable
// bind mounts of host directories (Kubernetes emptyDir, hostPath and
// persistent volumes), each preopened at its destination. Read-only ones are
// left out, since a preopen cannot be made read-only yet, and so are mounts
// of files (/etc/hosts) and of kernel filesystems (/proc, /dev, /sys).
func bindDirs(mounts []specs.Mount) []specs.Mount {
	var out []specs.Mount
	for _, m := range mounts {
		bind, ro := m.Type == "bind", false
		for _, o := range m.Options {
			switch o {
			case "bind", "rbind":
				bind = true
			case "ro":
				ro = true
			}
		}
		if !bind || ro || !path.IsAbs(m.Destination) || path.Clean(m.Destination) == "/" {
			continue
		}
		if fi, err := os.Stat(m.Source); err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, specs.Mount{Source: m.Source, Destination: path.Clean(m.Destination)})
	}
	return out
}

// guestMemoryCap turns the container's memory limit into a cap on the
// guest's linear memory, within what --max-memory takes: at least one 64 KiB
// page, at most the 4 GiB a 32-bit memory can address (a larger limit does
// not constrain such a guest).
func guestMemoryCap(limit int64) int64 {
	return min(max(limit, 64<<10), 4<<30)
}

// envValue returns the last value of key in a KEY=VALUE list.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// lookEntrypoint turns process.args[0] into an absolute path inside the
// container: absolute as it is, relative to cwd when it has a slash, else
// searched in the container's PATH and then in cwd.
func lookEntrypoint(rootfs, arg0, cwd, pathEnv string) (string, error) {
	if path.IsAbs(arg0) {
		return path.Clean(arg0), nil
	}
	if strings.Contains(arg0, "/") {
		return path.Join(cwd, arg0), nil
	}
	if pathEnv == "" {
		pathEnv = defaultPath
	}
	dirs := append(strings.Split(pathEnv, ":"), cwd)
	for _, d := range dirs {
		if d == "" {
			d = cwd
		}
		p := path.Join("/", d, arg0)
		if !path.IsAbs(d) {
			p = path.Join(cwd, d, arg0)
		}
		host, err := resolveInRoot(rootfs, p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(host); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("entrypoint %q not found in the container's PATH (%s) or in %s", arg0, pathEnv, cwd)
}

// resolveInRoot returns the host path of the container path p, following
// symlinks as if rootfs were "/": a link can never lead out of rootfs.
func resolveInRoot(rootfs, p string) (string, error) {
	rest := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur := "/"
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(rootfs, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(rootfs, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(rootfs, cur), nil
}

// checkWasm refuses an entrypoint that is not a regular file starting with
// the WebAssembly magic, with a message for the user of ctr or kubectl.
func checkWasm(host, guestPath string) error {
	f, err := os.Open(host)
	if err != nil {
		return fmt.Errorf("entrypoint %s: %w", guestPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("entrypoint %s is not a regular file", guestPath)
	}
	var magic [8]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:4]) != "\x00asm" {
		return fmt.Errorf("entrypoint %s is not a WebAssembly module (the wazix runtime runs only .wasm entrypoints)", guestPath)
	}
	return nil
}
