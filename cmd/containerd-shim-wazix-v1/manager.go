package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/log"
)

// addressFile, in the bundle, holds the shim's socket address, so that the
// delete action can remove the socket of a shim that died.
const addressFile = "address"

// manager is the shim binary's side of the shim protocol: `start` launches
// the long-running shim, `delete` cleans up after one.
type manager struct{}

func (manager) Name() string { return "io.containerd.wazix.v1" }

// Start launches this binary as the shim server for container id, listening
// on a socket derived from containerd's address, and returns that address
// (bootstrap protocol version 2, task API v2: understood by containerd 1.7
// and 2.x).
func (manager) Start(ctx context.Context, id string, opts shim.StartOpts) (_ shim.BootstrapParams, retErr error) {
	params := shim.BootstrapParams{Version: 2, Protocol: "ttrpc"}
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return params, err
	}
	self, err := os.Executable()
	if err != nil {
		return params, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return params, err
	}
	addr, err := shim.SocketAddress(ctx, opts.Address, id, false)
	if err != nil {
		return params, err
	}
	l, err := shim.NewSocket(addr)
	if err != nil {
		if !shim.SocketEaddrinuse(err) {
			return params, fmt.Errorf("create shim socket: %w", err)
		}
		if shim.CanConnect(addr) {
			// A shim already serves this container.
			params.Address = addr
			return params, nil
		}
		if err := shim.RemoveSocket(addr); err != nil {
			return params, fmt.Errorf("remove stale socket: %w", err)
		}
		if l, err = shim.NewSocket(addr); err != nil {
			return params, fmt.Errorf("create shim socket: %w", err)
		}
	}
	f, err := l.File()
	// The socket file must outlive this process's listener: the shim
	// server serves it from the inherited fd.
	l.SetUnlinkOnClose(false)
	l.Close()
	if err != nil {
		return params, err
	}
	defer f.Close()
	defer func() {
		if retErr != nil {
			shim.RemoveSocket(addr)
		}
	}()

	args := []string{"-namespace", ns, "-id", id, "-address", opts.Address}
	if opts.Debug {
		args = append(args, "-debug")
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return params, err
	}
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
		}
	}()
	go cmd.Wait()
	if err := os.WriteFile(filepath.Join(cwd, addressFile), []byte(addr), 0o600); err != nil {
		return params, err
	}
	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		return params, err
	}
	params.Address = addr
	return params, nil
}

// Stop is the `delete` action, which containerd runs when a shim died or
// never answered: it kills the workload, unmounts the rootfs and removes
// the shim's socket.
func (manager) Stop(ctx context.Context, id string) (shim.StopStatus, error) {
	bundle := ""
	if o, ok := ctx.Value(shim.OptsKey{}).(shim.Opts); ok {
		bundle = o.BundlePath
	}
	if bundle == "" {
		var err error
		if bundle, err = os.Getwd(); err != nil {
			return shim.StopStatus{}, err
		}
	}
	st, err := loadState(bundle)
	if err != nil && !os.IsNotExist(err) {
		log.G(ctx).WithError(err).Warn("wazix shim: unreadable state; cleaning up the bundle's rootfs")
	}
	if st.Rootfs == "" {
		// Mounted or not, unmounting the conventional rootfs is harmless.
		st.Rootfs, st.Mounted = filepath.Join(bundle, "rootfs"), true
	}
	if err := undo(bundle, st); err != nil {
		return shim.StopStatus{}, fmt.Errorf("clean up %s: %w", id, err)
	}
	if b, err := os.ReadFile(filepath.Join(bundle, addressFile)); err == nil {
		if a := strings.TrimSpace(string(b)); a != "" {
			shim.RemoveSocket(a)
		}
	}
	return shim.StopStatus{Pid: st.Pid, ExitStatus: 128 + int(syscall.SIGKILL), ExitedAt: time.Now()}, nil
}

// Info is the shim's answer to `-info`.
func (manager) Info(ctx context.Context, optionsR io.Reader) (*types.RuntimeInfo, error) {
	return &types.RuntimeInfo{Name: "io.containerd.wazix.v1"}, nil
}
