package wasix

import (
	"context"
	"path"
	"strings"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// exec(2) and posix_spawn(3) for wasm guests. The program is a wasm module
// found at a guest path (searched in PATH for the exec*p forms), compiled in
// the runtime the caller runs in and started as a Process of the same tree:
// in place of the caller for exec (same pid, the fds without CLOEXEC, the
// cwd), as a new child for spawn. Any ABI generation execs any other: each
// process gets the host modules its own imports ask for.

// maxModuleSize bounds what exec reads from a guest file.
const maxModuleSize = 1 << 30

// defaultPath is searched when the guest gives no PATH (Wasmer's default).
const defaultPath = "/usr/local/bin:/bin:/usr/bin"

// splitList splits exec's environment string: entries are separated by
// line feeds (wasix-libc); NULs are taken as separators too, and empty
// entries dropped, as Wasmer does.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == 0 }) {
		out = append(out, f)
	}
	return out
}

// splitArgs splits exec's argument string. wasix-libc ends every argument
// with a line feed ("a\n\nb\n" is a, "" and b), so an empty argument is
// kept, as Linux passes it (sh -c 'cmd "$@"' "" x, test "" = "$v", and
// every shell's quoted empty string depend on it); Wasmer drops them. Only
// line feeds and NULs separate: a carriage return is part of an argument.
func splitArgs(s string) []string {
	if s == "" {
		return nil
	}
	if last := s[len(s)-1]; last == '\n' || last == 0 {
		s = s[:len(s)-1]
	}
	var out []string
	for {
		i := strings.IndexAny(s, "\n\x00")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// absGuestPath makes p absolute against the process's cwd.
func (h *host) absGuestPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	h.proc.mu.Lock()
	cwd := h.proc.cwd
	h.proc.mu.Unlock()
	return path.Join(cwd, p)
}

// readModule reads the module at guest path p (absolute): ENOENT, ENOTDIR,
// EACCES as the file system says; ENOEXEC when it is not a wasm module.
func (h *host) readModule(p string) ([]byte, sys.Errno) {
	// An absolute path from the guest's root (docs/filesystem.md).
	f, errno := h.sys.FS.Root().OpenAt(p, sys.OpenOptions{Follow: true, Read: true})
	if errno != sys.ESUCCESS {
		return nil, errno
	}
	defer f.Close()
	if f.Filetype() != sys.FiletypeRegularFile {
		if f.Filetype() == sys.FiletypeDirectory {
			return nil, sys.EACCES
		}
		return nil, sys.ENOEXEC
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.Fd(), &st); err != nil {
		return nil, sys.ErrnoOf(err)
	}
	if st.Size > maxModuleSize || st.Size < 8 {
		return nil, sys.ENOEXEC
	}
	b := make([]byte, st.Size)
	for off := 0; off < len(b); {
		n, err := unix.Pread(f.Fd(), b[off:], int64(off))
		if err != nil {
			return nil, sys.ErrnoOf(err)
		}
		if n == 0 {
			b = b[:off]
			break
		}
		off += n
	}
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, sys.ENOEXEC
	}
	return b, sys.ESUCCESS
}

// findProgram resolves name as execvp does: a name with a slash is a path
// (relative to the cwd); otherwise each PATH entry is tried in turn.
func (h *host) findProgram(name string, search bool, pathList string) (string, []byte, sys.Errno) {
	if name == "" {
		return "", nil, sys.ENOENT
	}
	if !search || strings.Contains(name, "/") {
		p := h.absGuestPath(name)
		b, errno := h.readModule(p)
		return p, b, errno
	}
	if pathList == "" {
		pathList = defaultPath
	}
	last := sys.ENOENT
	for _, dir := range strings.Split(pathList, ":") {
		if dir == "" {
			dir = "."
		}
		p := h.absGuestPath(path.Join(dir, name))
		b, errno := h.readModule(p)
		switch errno {
		case sys.ESUCCESS:
			return p, b, errno
		case sys.ENOENT, sys.ENOTDIR:
			continue
		}
		last = errno
	}
	return "", nil, last
}

// load compiles the program at name into a Process for the system s (not
// yet running). ENOEXEC when the file is not a module wazix can run.
func (h *host) load(name string, search bool, pathList string, s *sys.System) (*Process, sys.Errno) {
	p := h.process
	if p == nil {
		return nil, sys.ENOSYS
	}
	_, wasm, errno := h.findProgram(name, search, pathList)
	if errno != sys.ESUCCESS {
		return nil, errno
	}
	wasm, err := PrepareModule(wasm)
	if err != nil {
		return nil, sys.ENOEXEC
	}
	compiled, err := p.rt.CompileModule(p.base, wasm)
	if err != nil {
		p.Threads.warnf("wazix: exec %s: %v", name, err)
		return nil, sys.ENOEXEC
	}
	if missing := CheckImports(compiled); len(missing) > 0 {
		_ = compiled.Close(context.Background())
		p.Threads.warnf("wazix: exec %s: imports functions wazix does not provide: %s", name, strings.Join(missing, ", "))
		return nil, sys.ENOEXEC
	}
	np, err := Launch(p.base, p.rt, s, compiled, p.opts)
	if err != nil {
		_ = compiled.Close(context.Background())
		p.Threads.warnf("wazix: exec %s: %v", name, err)
		return nil, sys.ENOEXEC
	}
	np.ownsCompiled = true
	return np, sys.ESUCCESS
}

// exec replaces the calling process's image. On success it does not
// return: the caller's instance and threads end, and the process goes on
// with the new module (Process.runChain).
func (h *host) exec(ctx context.Context, m api.Module, name string, args, env []string, search bool, pathList string) sys.Errno {
	ns := h.sys.Exec(args, env)
	np, errno := h.load(name, search, pathList, ns)
	if errno != sys.ESUCCESS {
		ns.Close()
		return errno
	}
	if np.host != nil {
		h.proc.mu.Lock()
		cwd := h.proc.cwd
		h.proc.mu.Unlock()
		np.host.proc.cwd = cwd
	}
	if h.vforking() {
		// The vfork child execs: np runs as the child, and the call
		// returns success in the parent, which the library longjmps back.
		h.vforkExec(np)
		return sys.ESUCCESS
	}
	h.process.execNext = np
	// End this image: its threads stop, and its driver starts np.
	h.sys.End(0, nil)
	h.sys.CloseInstance(ctx, m, 0)
	panic(wsys.NewExitError(0))
}

// readExecArgs decodes name, args and envs (ptr, len pairs from stack).
// A null envs keeps the caller's environment.
func (h *host) readExecArgs(mem api.Memory, stack []uint64) (name string, args, env []string, errno sys.Errno) {
	if name, errno = guestmem.String(mem, uint32(stack[0]), uint32(stack[1])); errno != sys.ESUCCESS {
		return
	}
	var a string
	if a, errno = guestmem.String(mem, uint32(stack[2]), uint32(stack[3])); errno != sys.ESUCCESS {
		return
	}
	args = splitArgs(a)
	env = append([]string(nil), h.sys.Environ...)
	if len(stack) >= 6 && uint32(stack[4]) != 0 {
		var e string
		if e, errno = guestmem.String(mem, uint32(stack[4]), uint32(stack[5])); errno != sys.ESUCCESS {
			return
		}
		env = splitList(e)
	}
	return name, args, env, sys.ESUCCESS
}

// procExec3 is proc_exec3(name: string, args: string, envs: string,
// search_path: bool, path: string) -> errno: execve/execvpe. Arguments and
// environment entries are separated by line feeds. It returns only on
// failure: ENOENT, ENOTDIR, EACCES, ENOEXEC (not a module wazix can run).
func procExec3(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	name, args, env, errno := h.readExecArgs(m.Memory(), stack)
	return h.execSearching(ctx, m, stack, name, args, env, errno)
}

// procExec4 is proc_exec4(name: string, argv: *char*, argc, envp: *char*,
// envc, search_path: bool, path: string) -> errno: as proc_exec3 with argv
// and envp as arrays of C strings (envp null: the caller's environment).
func procExec4(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	name, args, env, errno := h.readExecArrays(m.Memory(), stack)
	return h.execSearching(ctx, m, stack, name, args, env, errno)
}

// execSearching is the common tail of proc_exec3 and proc_exec4, whose
// last three arguments are search_path and PATH (ptr, len); errno is that
// of decoding the others.
func (h *host) execSearching(ctx context.Context, m api.Module, stack []uint64, name string, args, env []string, errno sys.Errno) sys.Errno {
	if errno != sys.ESUCCESS {
		return errno
	}
	pathList, errno := guestmem.String(m.Memory(), uint32(stack[7]), uint32(stack[8]))
	if errno != sys.ESUCCESS {
		return errno
	}
	return h.exec(ctx, m, name, args, env, uint32(stack[6]) != 0, pathList)
}

// readExecArrays decodes name (ptr, len), argv (array, count) and envp
// (array, count; null: the caller's environment) from stack.
func (h *host) readExecArrays(mem api.Memory, stack []uint64) (name string, args, env []string, errno sys.Errno) {
	if name, errno = guestmem.String(mem, uint32(stack[0]), uint32(stack[1])); errno != sys.ESUCCESS {
		return
	}
	if args, errno = cStrings(mem, uint32(stack[2]), uint32(stack[3])); errno != sys.ESUCCESS {
		return
	}
	env = append([]string(nil), h.sys.Environ...)
	if uint32(stack[4]) != 0 {
		env, errno = cStrings(mem, uint32(stack[4]), uint32(stack[5]))
	}
	return name, args, env, errno
}

// cStrings reads n pointers at ptr, each to a NUL-terminated string.
func cStrings(mem api.Memory, ptr, n uint32) ([]string, sys.Errno) {
	if n > 1<<16 {
		return nil, sys.E2BIG
	}
	ptrs, ok := mem.Read(ptr, n*4)
	if !ok {
		return nil, sys.EFAULT
	}
	out := make([]string, 0, n)
	for i := uint32(0); i < n; i++ {
		p := guestmem.LE32(ptrs[i*4:])
		var b []byte
		for {
			c, ok := mem.ReadByte(p)
			if !ok {
				return nil, sys.EFAULT
			}
			if c == 0 {
				break
			}
			b = append(b, c)
			p++
			if len(b) > 1<<20 {
				return nil, sys.E2BIG
			}
		}
		out = append(out, string(b))
	}
	return out, sys.ESUCCESS
}

// procExec is proc_exec(name: string, args: string): the 2022 exec, which
// cannot return an errno; a failed exec ends the process with the errno as
// its exit code, as Wasmer does.
func procExec(h *host, ctx context.Context, m api.Module, stack []uint64) {
	execOrExit(h, ctx, m, stack[:4])
}

// procExec2 is proc_exec2(name: string, args: string, envs: string): as
// proc_exec, with an environment.
func procExec2(h *host, ctx context.Context, m api.Module, stack []uint64) {
	execOrExit(h, ctx, m, stack[:6])
}

func execOrExit(h *host, ctx context.Context, m api.Module, stack []uint64) {
	name, args, env, errno := h.readExecArgs(m.Memory(), stack)
	if errno == sys.ESUCCESS {
		errno = h.exec(ctx, m, name, args, env, true, envValue(env, "PATH"))
	}
	if errno == sys.ESUCCESS {
		return // a vfork child's exec returns in the parent
	}
	code := uint32(errno)
	h.sys.End(code, nil)
	h.sys.CloseInstance(ctx, m, code)
	panic(wsys.NewExitError(code))
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Spawn file actions (proc_spawn_fd_op.cmd).
const (
	spawnClose  = 0
	spawnDup2   = 1
	spawnOpen   = 2
	spawnChdir  = 3
	spawnFchdir = 4

	spawnFdOpSize = 56
)

// procSpawn2 is proc_spawn2(name: string, args: string, envs: string,
// fd_ops: *proc_spawn_fd_op, fd_ops_len, signal_actions:
// *signal_disposition, signal_actions_len, search_path: bool, path: string,
// ret_pid: *pid) -> errno: posix_spawn. The child gets a copy of the fd
// table, changed by the file actions in order (close, dup2, open, chdir,
// fchdir of a preopen), then loses its close-on-exec fds, and runs the
// module found at name, which finds signal_actions with proc_signals_get.
func procSpawn2(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	name, args, env, errno := h.readExecArgs(m.Memory(), stack)
	if errno != sys.ESUCCESS {
		return errno
	}
	return h.spawn(m, name, args, env, stack)
}

// procSpawn3 is proc_spawn3: proc_spawn2 with argv and envp as arrays of C
// strings (envp null: the caller's environment).
func procSpawn3(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	name, args, env, errno := h.readExecArrays(m.Memory(), stack)
	if errno != sys.ESUCCESS {
		return errno
	}
	return h.spawn(m, name, args, env, stack)
}

// spawn is the common part of proc_spawn2 and proc_spawn3, whose arguments
// from the file actions on are the same.
func (h *host) spawn(m api.Module, name string, args, env []string, stack []uint64) sys.Errno {
	mem := m.Memory()
	opsPtr, opsLen := uint32(stack[6]), uint32(stack[7])
	search := uint32(stack[10]) != 0
	pathList, errno := guestmem.String(mem, uint32(stack[11]), uint32(stack[12]))
	if errno != sys.ESUCCESS {
		return errno
	}
	retPid := uint32(stack[13])
	if !guestmem.Writable(mem, retPid, 4) {
		return sys.EFAULT
	}
	var ops []byte
	if opsLen > 0 {
		if uint64(opsLen)*spawnFdOpSize > 1<<20 {
			return sys.EINVAL
		}
		b, ok := mem.Read(opsPtr, opsLen*spawnFdOpSize)
		if !ok {
			return sys.EFAULT
		}
		ops = append([]byte(nil), b...)
	}
	// The signal dispositions the child starts with ({sig, disposition}
	// pairs, which proc_signals_get hands to its libc).
	var dispositions []byte
	if n := uint32(stack[9]); n > 0 {
		if n > 64 {
			return sys.EINVAL
		}
		b, ok := mem.Read(uint32(stack[8]), n*2)
		if !ok {
			return sys.EFAULT
		}
		dispositions = append([]byte(nil), b...)
	}
	if h.process == nil {
		return sys.ENOSYS
	}
	cs, errno := h.sys.Fork(false)
	if errno != sys.ESUCCESS {
		return errno
	}
	cs.Args, cs.Environ = args, env
	cs.SignalDispositions = dispositions
	fail := func(e sys.Errno) sys.Errno {
		// posix_spawn failed: no child was made, as far as the guest knows.
		cs.Procs.Forget(cs)
		cs.Close()
		return e
	}
	h.proc.mu.Lock()
	cwd := h.proc.cwd
	h.proc.mu.Unlock()
	for i := 0; i+spawnFdOpSize <= len(ops); i += spawnFdOpSize {
		if cwd, errno = h.spawnFdOp(mem, cs, cwd, ops[i:i+spawnFdOpSize]); errno != sys.ESUCCESS {
			return fail(errno)
		}
	}
	cs.Table.CloseOnExec()
	// The program is looked up as the parent sees the file system, from
	// the child's working directory.
	saved := h.proc.swapCwd(cwd)
	np, errno := h.load(name, search, pathList, cs)
	h.proc.swapCwd(saved)
	if errno != sys.ESUCCESS {
		return fail(errno)
	}
	if np.host != nil {
		np.host.proc.cwd = cwd
	}
	np.startChild(nil, np.entry, nil)
	return guestmem.PutU32(mem, retPid, cs.Pid)
}

// swapCwd sets the cwd and returns the previous one.
func (p *process) swapCwd(cwd string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.cwd
	p.cwd = cwd
	return old
}

// spawnFdOp applies one posix_spawn file action to the child cs; it
// returns the child's cwd after it.
func (h *host) spawnFdOp(mem api.Memory, cs *sys.System, cwd string, op []byte) (string, sys.Errno) {
	fd, src := guestmem.LE32(op[4:]), guestmem.LE32(op[8:])
	switch op[0] {
	case spawnClose:
		if e, errno := cs.Table.Get(fd); errno == sys.ESUCCESS && e.Preopen != "" {
			return cwd, sys.ESUCCESS // preopens stay, as in Wasmer
		}
		return cwd, cs.Table.Close(fd)
	case spawnDup2:
		e, errno := cs.Table.Get(src)
		if errno != sys.ESUCCESS {
			return cwd, errno
		}
		if src == fd {
			ne := *e
			ne.CloseOnExec = false
			return cwd, cs.Table.Set(fd, &ne)
		}
		ne := *e
		ne.CloseOnExec, ne.Preopen = false, ""
		return cwd, cs.Table.Set(fd, &ne)
	case spawnOpen:
		p, errno := guestmem.String(mem, guestmem.LE32(op[12:]), guestmem.LE32(op[16:]))
		if errno != sys.ESUCCESS {
			return cwd, errno
		}
		if !strings.HasPrefix(p, "/") {
			p = path.Join(cwd, p)
		}
		oflags := sys.Oflags(guestmem.LE16(op[24:]))
		rights := sys.Rights(guestmem.LE64(op[32:]))
		fdflags := sys.Fdflags(guestmem.LE16(op[48:]))
		read := rights == 0 || rights&sys.RightFdRead != 0
		write := rights&sys.RightFdWrite != 0
		f, errno := h.sys.FS.Root().OpenAt(path.Clean(p), sys.OpenOptions{Oflags: oflags, Fdflags: fdflags, Follow: guestmem.LE32(op[20:])&1 != 0,
			Read: read, Write: write, DirectoryOnly: oflags&sys.OflagDirectory != 0})
		if errno != sys.ESUCCESS {
			return cwd, errno
		}
		base := sys.RightsRegularFile
		if f.Filetype() == sys.FiletypeDirectory {
			base = sys.RightsDirectory
		}
		return cwd, cs.Table.Set(fd, &sys.Entry{File: f, Flags: fdflags, RightsBase: base, RightsInheriting: base})
	case spawnChdir:
		p, errno := guestmem.String(mem, guestmem.LE32(op[12:]), guestmem.LE32(op[16:]))
		if errno != sys.ESUCCESS {
			return cwd, errno
		}
		return cs.FS.Chdir(cwd, p)
	case spawnFchdir:
		e, errno := cs.Table.Get(fd)
		if errno != sys.ESUCCESS {
			return cwd, errno
		}
		if e.Preopen == "" {
			return cwd, sys.ENOTSUP // wazix knows the guest path of preopens only
		}
		return path.Clean("/" + strings.TrimPrefix(e.Preopen, "./")), sys.ESUCCESS
	}
	return cwd, sys.EINVAL
}
