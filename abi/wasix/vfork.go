package wasix

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// vfork as wasix-libc does it in modules built with wasm exception
// handling: proc_fork_env makes the child process, and the calling instance
// goes on as that child — its fds, its pid — until the child execs
// (proc_exec*) or exits (proc_exit2). Those calls then return to the
// caller instead of ending it, the instance becomes the parent again, and
// the library longjmps back to where vfork was called, where vfork returns
// the child's pid. The memory is the parent's throughout, as vfork allows.

// vforkFrame is one vfork in progress: holder keeps the parent's identity
// (fd table, pid) while the instance acts as the child.
type vforkFrame struct {
	holder *sys.System
	cwd    string
}

// procForkEnv is proc_fork_env(ret_pid: *pid) -> errno: vfork. The child's
// pid is written, and the caller goes on as the child.
func procForkEnv(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	pidPtr := uint32(stack[0])
	if !guestmem.Writable(m.Memory(), pidPtr, 4) {
		return sys.EFAULT
	}
	child, errno := h.sys.Fork(false)
	if errno != sys.ESUCCESS {
		return errno
	}
	// The System the host functions are bound to takes the child's
	// identity; child keeps the parent's until the vfork returns.
	h.sys.SwapProcess(child)
	h.proc.mu.Lock()
	h.proc.vforks = append(h.proc.vforks, &vforkFrame{holder: child, cwd: h.proc.cwd})
	h.proc.mu.Unlock()
	return guestmem.PutU32(m.Memory(), pidPtr, h.sys.Pid)
}

// vforking reports whether the calling instance acts as a vfork child.
func (h *host) vforking() bool {
	h.proc.mu.Lock()
	defer h.proc.mu.Unlock()
	return len(h.proc.vforks) > 0
}

// vforkReturn ends the innermost vfork: the instance is the parent again,
// and the child's state (fd table, pid) is returned in a System of its own.
func (h *host) vforkReturn() *sys.System {
	h.proc.mu.Lock()
	f := h.proc.vforks[len(h.proc.vforks)-1]
	h.proc.vforks = h.proc.vforks[:len(h.proc.vforks)-1]
	h.proc.cwd = f.cwd
	h.proc.mu.Unlock()
	h.sys.SwapProcess(f.holder)
	return f.holder
}

// vforkExit is proc_exit2 in a vfork child: the child ends with code and
// the call returns, in the parent.
func (h *host) vforkExit(code uint32) {
	child := h.vforkReturn()
	child.Procs.Exited(child, sys.WaitStatus{Code: code & 0xff})
	child.Close()
}

// vforkExec is a successful exec in a vfork child: np runs as the child,
// with the child's fds, and the call returns, in the parent.
func (h *host) vforkExec(np *Process) {
	child := h.vforkReturn()
	np.Sys.TakeOver(child)
	child.Close()
	np.startChild(nil, np.entry, nil)
}
