package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// startInNetns starts cmd with the network namespace l asks for. Namespaces
// belong to threads, and a forked child takes its parent thread's, so the
// start happens on a locked thread that switches namespace for the fork and
// then switches back. If it cannot switch back, the thread is left locked
// and so is discarded by the Go runtime when this returns.
func startInNetns(cmd *exec.Cmd, l *launch) error {
	if l.net == netHost {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		switch l.net {
		case netJoin:
			ns, err := os.Open(l.netnsPath)
			if err != nil {
				errc <- fmt.Errorf("network namespace: %w", err)
				runtime.UnlockOSThread()
				return
			}
			err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
			ns.Close()
			if err != nil {
				errc <- fmt.Errorf("join network namespace %s: %w", l.netnsPath, err)
				runtime.UnlockOSThread()
				return
			}
		case netNew:
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				errc <- fmt.Errorf("new network namespace: %w", err)
				runtime.UnlockOSThread()
				return
			}
			// As runc does for a new namespace: only loopback, and up.
			if err := loopbackUp(); err != nil {
				errc <- err
				// Still inside the new namespace: restore below.
				if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
					runtime.UnlockOSThread()
				}
				return
			}
		}
		err = cmd.Start()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// loopbackUp sets the IFF_UP flag of "lo" in the calling thread's network
// namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}
