package translate

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/wazix/wazix/internal/wasmbin"
)

// reexported lists the imports under test. The module built from it
// re-exports each import under its own name, so that after translation each
// export is the adapter and the test can call it directly. It is assembled
// here rather than from WAT so that these tests need no external tool.
var reexported = []struct{ module, name, sig string }{
	{"wasix_32v1", "epoll_create", "i:i"},
	{"wasix_32v1", "epoll_ctl", "iiii:i"},
	{"wasix_32v1", "epoll_wait", "iiiIi:i"},
	{"wasix_32v1", "proc_raise", "i:i"},
	{"wasix_32v1", "path_open2", "iiiiiIIiii:i"},
	{"wasix_32v1", "sock_accept", "iiii:i"},
	{"wasix_32v1", "fd_dup", "ii:i"},
	{"wasix_32v1", "chdir", "ii:i"},
	{"wasix_32v1", "getcwd", "ii:i"},
	{"wasi_snapshot_preview1", "fd_fdstat_get", "ii:i"},
	{"wasi_snapshot_preview1", "fd_close", "i:i"},
	{"wasi_snapshot_preview1", "fd_renumber", "ii:i"},
	{"wasi_snapshot_preview1", "path_open", "iiiiiIIii:i"},
	{"wasi_snapshot_preview1", "fd_read", "iiii:i"},
	{"wasi_snapshot_preview1", "fd_write", "iiii:i"},
}

func reexportModule() []byte {
	letters := func(s string) []wasmbin.ValType {
		var ts []wasmbin.ValType
		for _, c := range s {
			if c == 'I' {
				ts = append(ts, wasmbin.I64)
			} else {
				ts = append(ts, wasmbin.I32)
			}
		}
		return ts
	}
	var typesSec, importSec, exportSec []byte
	typesSec = wasmbin.AppendU32(typesSec, uint32(len(reexported)))
	importSec = wasmbin.AppendU32(importSec, uint32(len(reexported)))
	exportSec = wasmbin.AppendU32(exportSec, uint32(len(reexported)+1))
	for i, r := range reexported {
		params, results, _ := strings.Cut(r.sig, ":")
		typesSec = wasmbin.AppendFuncType(typesSec, wasmbin.FuncType{Params: letters(params), Results: letters(results)})
		importSec = wasmbin.AppendImport(importSec, wasmbin.Import{Module: r.module, Name: r.name, Kind: wasmbin.KindFunc, TypeIndex: uint32(i)})
		exportSec = wasmbin.AppendExport(exportSec, wasmbin.Export{Name: r.name, Kind: wasmbin.KindFunc, Index: uint32(i)})
	}
	exportSec = wasmbin.AppendExport(exportSec, wasmbin.Export{Name: "memory", Kind: wasmbin.KindMemory})
	m := &wasmbin.Module{}
	m.SetSection(wasmbin.SecType, typesSec)
	m.SetSection(wasmbin.SecImport, importSec)
	m.SetSection(wasmbin.SecMemory, wasmbin.AppendLimits(wasmbin.AppendU32(nil, 1), wasmbin.Limits{Min: 1}))
	m.SetSection(wasmbin.SecExport, exportSec)
	return m.Encode()
}

type sub struct {
	userdata uint64
	tag      byte
	fd       uint32
	timeout  uint64
}

type event struct {
	userdata uint64
	errno    uint16
	tag      byte
	hangup   bool
}

// fakeP1 is a scripted preview1 host that records what adapters ask of it.
type fakeP1 struct {
	filetypes map[uint32]byte // fd -> filetype; other fds are EBADF
	polls     [][]sub
	respond   func([]sub) []event
	raised    []uint32
	closed    []uint32
	opened    []uint64
	statted   []uint32
	// preopens are named directories; path_filestat_get answers a
	// directory for every path except those ending in "file" (a regular
	// file) or containing "missing" (ENOENT), and records what it saw.
	preopens  map[uint32]string
	pathStats []string
}

func (f *fakeP1) instantiate(t *testing.T, ctx context.Context, rt wazero.Runtime) {
	u32 := api.ValueTypeI32
	i64 := api.ValueTypeI64
	b := rt.NewHostModuleBuilder("wasi_snapshot_preview1")
	fn := func(name string, params []api.ValueType, impl func(mem api.Memory, stack []uint64)) {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
			impl(m.Memory(), stack)
		}), params, []api.ValueType{u32}).Export(name)
	}
	fn("poll_oneoff", []api.ValueType{u32, u32, u32, u32}, func(mem api.Memory, s []uint64) {
		in, out, n, nev := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
		var subs []sub
		for i := uint32(0); i < n; i++ {
			b, _ := mem.Read(in+48*i, 48)
			x := sub{userdata: binary.LittleEndian.Uint64(b), tag: b[8]}
			if x.tag == 0 {
				x.timeout = binary.LittleEndian.Uint64(b[24:])
			} else {
				x.fd = binary.LittleEndian.Uint32(b[16:])
			}
			subs = append(subs, x)
		}
		f.polls = append(f.polls, subs)
		evs := f.respond(subs)
		for i, e := range evs {
			b := make([]byte, 32)
			binary.LittleEndian.PutUint64(b, e.userdata)
			binary.LittleEndian.PutUint16(b[8:], e.errno)
			b[10] = e.tag
			if e.hangup {
				b[24] = 1
			}
			mem.Write(out+32*uint32(i), b)
		}
		mem.WriteUint32Le(nev, uint32(len(evs)))
		s[0] = 0
	})
	fn("fd_fdstat_get", []api.ValueType{u32, u32}, func(mem api.Memory, s []uint64) {
		fd := uint32(s[0])
		f.statted = append(f.statted, fd)
		ft, ok := f.filetypes[fd]
		if !ok {
			s[0] = errnoBadf
			return
		}
		b := make([]byte, 24)
		b[0] = ft
		mem.Write(uint32(s[1]), b)
		s[0] = 0
	})
	fn("fd_prestat_get", []api.ValueType{u32, u32}, func(mem api.Memory, s []uint64) {
		name, ok := f.preopens[uint32(s[0])]
		if !ok {
			s[0] = errnoBadf
			return
		}
		mem.Write(uint32(s[1]), make([]byte, 8))
		mem.WriteUint32Le(uint32(s[1])+4, uint32(len(name)))
		s[0] = 0
	})
	fn("fd_prestat_dir_name", []api.ValueType{u32, u32, u32}, func(mem api.Memory, s []uint64) {
		name, ok := f.preopens[uint32(s[0])]
		if !ok || uint32(s[2]) < uint32(len(name)) {
			s[0] = errnoBadf
			return
		}
		mem.Write(uint32(s[1]), []byte(name))
		s[0] = 0
	})
	fn("path_filestat_get", []api.ValueType{u32, u32, u32, u32, u32}, func(mem api.Memory, s []uint64) {
		p, _ := mem.Read(uint32(s[2]), uint32(s[3]))
		rel := string(p)
		f.pathStats = append(f.pathStats, fmt.Sprintf("%d:%s:%d", uint32(s[0]), rel, uint32(s[1])))
		if strings.Contains(rel, "missing") {
			s[0] = errnoNoent
			return
		}
		st := make([]byte, 64)
		st[16] = 3
		if strings.HasSuffix(rel, "file") {
			st[16] = 4
		}
		mem.Write(uint32(s[4]), st)
		s[0] = 0
	})
	for _, name := range []string{"fd_read", "fd_write"} {
		fn(name, []api.ValueType{u32, u32, u32, u32}, func(mem api.Memory, s []uint64) {
			mem.WriteUint32Le(uint32(s[3]), 0)
			s[0] = 6 // EAGAIN
		})
	}
	fn("fd_close", []api.ValueType{u32}, func(mem api.Memory, s []uint64) {
		f.closed = append(f.closed, uint32(s[0]))
		s[0] = 0
	})
	fn("proc_raise", []api.ValueType{u32}, func(mem api.Memory, s []uint64) {
		f.raised = append(f.raised, uint32(s[0]))
		s[0] = 0
	})
	fn("path_open", []api.ValueType{u32, u32, u32, u32, u32, i64, i64, u32, u32}, func(mem api.Memory, s []uint64) {
		f.opened = append([]uint64(nil), s[:9]...)
		for i := range f.opened {
			if i != 5 && i != 6 { // i32 arguments: the upper half of a stack slot is undefined
				f.opened[i] = uint64(uint32(f.opened[i]))
			}
		}
		mem.WriteUint32Le(uint32(s[8]), 11)
		s[0] = 0
	})
	fn("sock_accept", []api.ValueType{u32, u32, u32}, func(mem api.Memory, s []uint64) {
		mem.WriteUint32Le(uint32(s[2]), 9)
		s[0] = 0
	})
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
}

type adapterHarness struct {
	t   *testing.T
	ctx context.Context
	mod api.Module
	p1  *fakeP1
}

func newAdapterHarness(t *testing.T) *adapterHarness {
	out, _, err := Translate(reexportModule(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	p1 := &fakeP1{filetypes: map[uint32]byte{5: 6, 6: 6, 7: 4, 8: 6, 10: 3}, // sockets 5, 6, 8; regular file 7; directory 10
		preopens: map[uint32]string{3: ".", 4: "/usr/local/"}}
	p1.instantiate(t, ctx, rt)
	mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	return &adapterHarness{t: t, ctx: ctx, mod: mod, p1: p1}
}

func (h *adapterHarness) call(name string, args ...uint64) uint32 {
	h.t.Helper()
	res, err := h.mod.ExportedFunction(name).Call(h.ctx, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	if len(res) == 0 {
		return 0
	}
	return uint32(res[0])
}

func (h *adapterHarness) u32(addr uint32) uint32 {
	v, _ := h.mod.Memory().ReadUint32Le(addr)
	return v
}

// epollEvent writes a WASIX epoll_event at addr.
func (h *adapterHarness) epollEvent(addr, events uint32, data2 uint64) {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint32(b, events)
	binary.LittleEndian.PutUint64(b[24:], data2)
	h.mod.Memory().Write(addr, b)
}

func TestEpollAdapter(t *testing.T) {
	h := newAdapterHarness(t)
	const evAddr, outAddr, nAddr, epAddr = 1024, 2048, 4000, 4004
	if rc := h.call("epoll_create", epAddr); rc != 0 {
		t.Fatalf("epoll_create = %d", rc)
	}
	ep := uint64(h.u32(epAddr))
	if ep < 3 || ep >= aliasFDBase {
		t.Fatalf("epoll fd %d: want the lowest number free on the host", ep)
	}
	ctl := []struct {
		op, fd uint64
		events uint32
		want   uint32
	}{
		{0, 5, epollIn | epollOut, 0},
		{1, 6, epollIn | epollOneShot, 0}, // 1 = Linux ADD / WASIX MOD: upsert
		{0, 5, epollIn, errnoExist},
		{0, 7, epollIn, errnoPerm},  // regular file
		{0, 10, epollIn, errnoPerm}, // directory
		{0, 99, epollIn, errnoBadf}, // unknown fd
		{3, 8, epollIn, errnoNoent}, // MOD of an unregistered fd
		{2, 8, 0, errnoNoent},       // DEL of an unregistered fd
		{2, 99, 0, errnoBadf},       // DEL of an fd that is not open
		{3, 99, epollIn, errnoBadf}, // MOD of an fd that is not open
		{9, 5, epollIn, errnoInval}, // unknown op
		{0, ep, epollIn, errnoInval},
	}
	for _, c := range ctl {
		h.epollEvent(evAddr, c.events, 70+c.fd)
		if rc := h.call("epoll_ctl", ep, c.op, c.fd, evAddr); rc != c.want {
			t.Errorf("epoll_ctl(op %d, fd %d) = %d, want %d", c.op, c.fd, rc, c.want)
		}
	}
	if rc := h.call("epoll_ctl", ep, 0, 8, 0); rc != errnoFault {
		t.Errorf("ADD with a null event = %d, want EFAULT", rc)
	}
	for _, c := range []struct {
		epfd uint64
		want uint32
	}{{5, errnoInval}, {99, errnoBadf}, {ep + 1, errnoBadf}} {
		if rc := h.call("epoll_ctl", c.epfd, 0, 8, evAddr); rc != c.want {
			t.Errorf("epoll_ctl on epfd %#x = %d, want %d", c.epfd, rc, c.want)
		}
		if rc := h.call("epoll_wait", c.epfd, outAddr, 8, 0, nAddr); rc != c.want {
			t.Errorf("epoll_wait on epfd %#x = %d, want %d", c.epfd, rc, c.want)
		}
	}

	// Everything ready: fd 5 readable and writable, fd 6 readable with hang-up.
	h.p1.respond = func(subs []sub) []event {
		var evs []event
		for _, s := range subs {
			if s.tag != 0 {
				evs = append(evs, event{userdata: s.userdata, tag: s.tag, hangup: s.fd == 6})
			}
		}
		return evs
	}
	if rc := h.call("epoll_wait", ep, outAddr, 8, 1_000_000, nAddr); rc != 0 {
		t.Fatalf("epoll_wait = %d", rc)
	}
	subs := h.p1.polls[len(h.p1.polls)-1]
	if len(subs) != 4 || subs[0].tag != 1 || subs[0].fd != 5 || subs[1].tag != 2 || subs[1].fd != 5 ||
		subs[2].tag != 1 || subs[2].fd != 6 || subs[3].tag != 0 || subs[3].timeout != 1_000_000 {
		t.Fatalf("subscriptions = %+v", subs)
	}
	if n := h.u32(nAddr); n != 2 {
		t.Fatalf("nevents = %d, want 2 (one per fd)", n)
	}
	got := map[uint64]uint32{}
	for i := uint32(0); i < 2; i++ {
		data2, _ := h.mod.Memory().ReadUint64Le(outAddr + 32*i + 24)
		got[data2] = h.u32(outAddr + 32*i)
	}
	if got[75] != epollIn|epollOut || got[76] != epollIn|epollHup {
		t.Errorf("events by data2 = %v, want 75: IN|OUT, 76: IN|HUP", got)
	}

	// fd 6 was ONESHOT: disarmed. An infinite timeout adds no clock.
	h.call("epoll_wait", ep, outAddr, 1, 0xFFFF_FFFF_FFFF_FFFF, nAddr)
	subs = h.p1.polls[len(h.p1.polls)-1]
	if len(subs) != 2 || subs[0].fd != 5 || subs[1].fd != 5 {
		t.Errorf("after ONESHOT fired, subscriptions = %+v, want fd 5 only", subs)
	}
	if n := h.u32(nAddr); n != 1 {
		t.Errorf("maxevents 1: nevents = %d", n)
	}

	// Timeout: only the clock fires.
	h.p1.respond = func(subs []sub) []event { return []event{{userdata: subs[len(subs)-1].userdata}} }
	if rc := h.call("epoll_wait", ep, outAddr, 8, 5, nAddr); rc != 0 || h.u32(nAddr) != 0 {
		t.Errorf("timeout: rc %d nevents %d", rc, h.u32(nAddr))
	}

	// Error on the write side becomes EPOLLERR (with OUT).
	h.p1.respond = func(subs []sub) []event { return []event{{userdata: subs[1].userdata, tag: 2, errno: 58}} }
	h.call("epoll_wait", ep, outAddr, 8, 5, nAddr)
	if h.u32(nAddr) != 1 || h.u32(outAddr) != epollOut|epollErr {
		t.Errorf("error event: n %d events %#x", h.u32(nAddr), h.u32(outAddr))
	}

	// Closing a registered fd drops its registration (fd 6 is disarmed but
	// still registered: ADD must see it gone and succeed).
	if rc := h.call("fd_close", 6); rc != 0 {
		t.Errorf("fd_close(6) = %d", rc)
	}
	h.epollEvent(evAddr, epollIn, 99)
	if rc := h.call("epoll_ctl", ep, 0, 6, evAddr); rc != 0 {
		t.Errorf("ADD after close = %d, want 0 (registration dropped on close)", rc)
	}
	h.p1.closed = nil

	// DEL, then close the epoll fd: the host never sees it.
	if rc := h.call("epoll_ctl", ep, 2, 5, 0); rc != 0 {
		t.Errorf("DEL = %d", rc)
	}
	if rc := h.call("fd_close", ep); rc != 0 || len(h.p1.closed) != 0 {
		t.Errorf("closing the epoll fd: rc %d, host closes %v", rc, h.p1.closed)
	}
	if rc := h.call("epoll_wait", ep, outAddr, 8, 0, nAddr); rc != errnoBadf {
		t.Errorf("epoll_wait on a closed epoll fd = %d, want EBADF", rc)
	}
	if rc := h.call("fd_close", 5); rc != 0 || len(h.p1.closed) != 1 || h.p1.closed[0] != 5 {
		t.Errorf("fd_close(5) did not reach the host: %v", h.p1.closed)
	}
}

func TestSignalRenumbering(t *testing.T) {
	h := newAdapterHarness(t)
	for _, c := range []struct{ wasix, p1 uint32 }{{2, 2}, {15, 15}, {17, 16}, {31, 30}} {
		h.p1.raised = nil
		if rc := h.call("proc_raise", uint64(c.wasix)); rc != 0 || len(h.p1.raised) != 1 || h.p1.raised[0] != c.p1 {
			t.Errorf("proc_raise(%d): rc %d, host got %v, want %d", c.wasix, rc, h.p1.raised, c.p1)
		}
	}
	h.p1.raised = nil
	if rc := h.call("proc_raise", 16); rc != errnoInval || len(h.p1.raised) != 0 {
		t.Errorf("SIGSTKFLT: rc %d, host got %v", rc, h.p1.raised)
	}
}

func TestPathOpen2AndSockAccept(t *testing.T) {
	h := newAdapterHarness(t)
	if rc := h.call("path_open2", 3, 1, 100, 5, 1, 0x1234, 0x5678, 4, 1, 200); rc != 0 {
		t.Fatalf("path_open2 = %d", rc)
	}
	want := []uint64{3, 1, 100, 5, 1, 0x1234, 0x5678, 4, 200}
	for i := range want {
		if h.p1.opened[i] != want[i] {
			t.Fatalf("path_open got %v, want %v (fdflagsext dropped)", h.p1.opened, want)
		}
	}
	if h.u32(200) != 11 {
		t.Errorf("opened fd = %d", h.u32(200))
	}
	h.mod.Memory().Write(300, []byte("xxxxxxxxxxxxxxxxxxxxxxxx"))
	if rc := h.call("sock_accept", 5, 0, 296, 300); rc != 0 || h.u32(296) != 9 {
		t.Fatalf("sock_accept = %d, fd %d", rc, h.u32(296))
	}
	addr, _ := h.mod.Memory().Read(300, 24)
	for i, b := range addr[:20] {
		if b != 0 {
			t.Fatalf("peer address byte %d = %#x, want 20 zero bytes (UNSPEC)", i, b)
		}
	}
	if addr[20] != 'x' {
		t.Error("sock_accept wrote past the 20-byte address")
	}
}

func TestFdDupAliases(t *testing.T) {
	h := newAdapterHarness(t)
	if rc := h.call("fd_dup", 99, 400); rc != errnoBadf {
		t.Errorf("fd_dup of an unknown fd = %d, want EBADF", rc)
	}
	if rc := h.call("fd_dup", 5, 400); rc != 0 {
		t.Fatalf("fd_dup = %d", rc)
	}
	alias := h.u32(400)
	if alias < aliasFDBase {
		t.Fatalf("alias %d collides with host fds", alias)
	}
	h.p1.statted = nil
	if rc := h.call("fd_fdstat_get", uint64(alias), 500); rc != 0 || len(h.p1.statted) != 1 || h.p1.statted[0] != 5 {
		t.Errorf("fd_fdstat_get(alias): rc %d, host saw %v, want fd 5", rc, h.p1.statted)
	}
	if rc := h.call("fd_close", uint64(alias)); rc != 0 || len(h.p1.closed) != 0 {
		t.Errorf("closing the alias: rc %d, host closes %v", rc, h.p1.closed)
	}
	h.p1.statted = nil
	h.call("fd_fdstat_get", uint64(alias), 500)
	if len(h.p1.statted) != 1 || h.p1.statted[0] != alias {
		t.Errorf("closed alias still maps: host saw %v", h.p1.statted)
	}
}

func TestChdirNormalizes(t *testing.T) {
	h := newAdapterHarness(t)
	// Preopens: fd 3 "." (the root) and fd 4 "/usr/local/"; stat says
	// which preopen and relative path the adapter checked ("" = "/", which
	// needs no check).
	steps := []struct {
		chdir, want string
		errno       uint32
		stat        string
	}{
		{"", "/", 0, ""}, // initial directory
		{"/usr/lib", "/usr/lib", 0, "3:usr/lib:1"},
		{"..", "/usr", 0, "3:usr:1"},
		{"./local//share/", "/usr/local/share", 0, "4:share:1"},
		{"..", "/usr/local", 0, "4:.:1"},
		{"/usr/localx", "/usr/localx", 0, "3:usr/localx:1"},
		{"../../..", "/", 0, ""},
		{"..", "/", 0, ""},
		{"a/./b/../c", "/a/c", 0, "3:a/c:1"},
		{"/x/..//y/.", "/y", 0, "3:y:1"},
		{"...", "/y/...", 0, "3:y/...:1"},
		{"missing", "/y/...", errnoNoent, "3:y/.../missing:1"},
		{"/usr/local/file", "/y/...", errnoNotdir, "4:file:1"},
	}
	for _, s := range steps {
		if s.chdir != "" {
			h.p1.pathStats = nil
			h.mod.Memory().Write(600, []byte(s.chdir))
			if rc := h.call("chdir", 600, uint64(len(s.chdir))); rc != s.errno {
				t.Fatalf("chdir(%q) = %d, want %d", s.chdir, rc, s.errno)
			}
			if got := strings.Join(h.p1.pathStats, " "); got != s.stat {
				t.Errorf("chdir(%q) checked %q, want %q", s.chdir, got, s.stat)
			}
		}
		h.mod.Memory().WriteUint32Le(700, 256)
		if rc := h.call("getcwd", 800, 700); rc != 0 {
			t.Fatalf("getcwd = %d", rc)
		}
		n := h.u32(700)
		got, _ := h.mod.Memory().Read(800, n+1)
		if string(got[:n]) != s.want || got[n] != 0 {
			t.Errorf("after chdir(%q): cwd %q (terminator %d), want %q", s.chdir, got[:n], got[n], s.want)
		}
	}
	if rc := h.call("chdir", 600, 0); rc != errnoNoent {
		t.Errorf("chdir(\"\") = %d, want ENOENT", rc)
	}
}

// TestDup2FdTable: in a WASIX module fd_renumber is dup2, kept in the fd
// table: the source stays open, the host fd is closed only when its last
// guest fd goes, and a host fd whose number dup2 took reaches the guest
// under an alias.
func TestDup2FdTable(t *testing.T) {
	h := newAdapterHarness(t)
	hostSees := func(fd uint64) uint32 {
		t.Helper()
		h.p1.statted = nil
		h.call("fd_fdstat_get", fd, 500)
		if len(h.p1.statted) != 1 {
			t.Fatalf("fd_fdstat_get(%d) reached the host %d times", fd, len(h.p1.statted))
		}
		return h.p1.statted[0]
	}
	if rc := h.call("fd_renumber", 99, 9); rc != errnoBadf {
		t.Errorf("dup2 of a closed fd = %d, want EBADF", rc)
	}
	if rc := h.call("fd_renumber", 5, 9); rc != 0 {
		t.Fatalf("dup2(5, 9) = %d", rc)
	}
	if got := hostSees(9); got != 5 {
		t.Errorf("fd 9 reaches host fd %d, want 5", got)
	}
	if got := hostSees(5); got != 5 {
		t.Errorf("the source moved: fd 5 reaches host fd %d", got)
	}
	// 9 was not the guest's; the host's fd 9 (if any) is closed.
	if len(h.p1.closed) != 1 || h.p1.closed[0] != 9 {
		t.Errorf("host closes %v, want [9]", h.p1.closed)
	}
	h.p1.closed = nil
	// Closing the source keeps the host fd open for 9; fd 5 itself is gone.
	if rc := h.call("fd_close", 5); rc != 0 || len(h.p1.closed) != 0 {
		t.Errorf("close(5) while 9 uses it: rc %d, host closes %v", rc, h.p1.closed)
	}
	if got := hostSees(5); got != 0xFFFF_FFFF {
		t.Errorf("closed fd 5 reaches host fd %d, want none", got)
	}
	if rc := h.call("fd_close", 5); rc != errnoBadf {
		t.Errorf("second close(5) = %d, want EBADF", rc)
	}
	if got := hostSees(9); got != 5 {
		t.Errorf("fd 9 reaches host fd %d after close(5), want 5", got)
	}
	// The last user goes: now the host fd closes.
	if rc := h.call("fd_close", 9); rc != 0 || len(h.p1.closed) != 1 || h.p1.closed[0] != 5 {
		t.Errorf("close(9): rc %d, host closes %v, want [5]", rc, h.p1.closed)
	}
	if got := hostSees(5); got != 5 {
		t.Errorf("fd 5 after everything closed reaches %d, want 5 (no entry left)", got)
	}
	h.p1.closed = nil

	// dup2 onto the number the host hands out next (the fake's path_open
	// returns 11): the new file reaches the guest under an alias.
	if rc := h.call("fd_renumber", 6, 11); rc != 0 {
		t.Fatalf("dup2(6, 11) = %d", rc)
	}
	if rc := h.call("path_open", 3, 0, 100, 1, 0, 0, 0, 0, 200); rc != 0 {
		t.Fatalf("path_open = %d", rc)
	}
	// (another number: the lowest free one, since this module has epoll)
	if got := h.u32(200); got == 11 {
		t.Errorf("path_open gave fd %d, which dup2 took", got)
	} else if host := hostSees(uint64(got)); host != 11 {
		t.Errorf("the new fd reaches host fd %d, want 11", host)
	}
	if got := hostSees(11); got != 6 {
		t.Errorf("fd 11 reaches host fd %d, want 6", got)
	}
	// dup2 onto stdio does not close the host's own stdio.
	h.p1.closed = nil
	if rc := h.call("fd_renumber", 6, 1); rc != 0 || len(h.p1.closed) != 0 {
		t.Errorf("dup2(6, 1): rc %d, host closes %v", rc, h.p1.closed)
	}
	if got := hostSees(1); got != 6 {
		t.Errorf("fd 1 reaches host fd %d, want 6", got)
	}
	// A number above the host range that is not an alias: EBADF.
	if rc := h.call("fd_renumber", 6, aliasFDBase+500); rc != errnoBadf {
		t.Errorf("dup2 onto %#x = %d, want EBADF", aliasFDBase+500, rc)
	}
}

// TestEpollEdgeTriggered: an EPOLLET interest is reported once per
// direction, and watched again only after the guest reads (writes) the fd,
// or MODs the registration; level-triggered interests keep reporting.
func TestEpollEdgeTriggered(t *testing.T) {
	h := newAdapterHarness(t)
	const evAddr, outAddr, nAddr, epAddr = 1024, 2048, 4000, 4004
	h.call("epoll_create", epAddr)
	ep := uint64(h.u32(epAddr))
	h.epollEvent(evAddr, epollIn|epollOut|epollET, 5)
	if rc := h.call("epoll_ctl", ep, 0, 5, evAddr); rc != 0 {
		t.Fatalf("ADD ET = %d", rc)
	}
	h.epollEvent(evAddr, epollIn, 6)
	if rc := h.call("epoll_ctl", ep, 0, 6, evAddr); rc != 0 {
		t.Fatalf("ADD = %d", rc)
	}
	h.p1.respond = func(subs []sub) []event { // every fd ready both ways
		var evs []event
		for _, s := range subs {
			if s.tag != 0 {
				evs = append(evs, event{userdata: s.userdata, tag: s.tag})
			}
		}
		return evs
	}
	watched := func() string {
		var w []string
		for _, s := range h.p1.polls[len(h.p1.polls)-1] {
			if s.tag != 0 {
				w = append(w, fmt.Sprintf("%d:%s", s.fd, map[byte]string{1: "r", 2: "w"}[s.tag]))
			}
		}
		return strings.Join(w, " ")
	}
	wait := func(step, wantWatched string, wantEvents map[uint64]uint32) {
		t.Helper()
		if rc := h.call("epoll_wait", ep, outAddr, 8, 1000, nAddr); rc != 0 {
			t.Fatalf("%s: epoll_wait = %d", step, rc)
		}
		if got := watched(); got != wantWatched {
			t.Errorf("%s: watched %q, want %q", step, got, wantWatched)
		}
		got := map[uint64]uint32{}
		for i := uint32(0); i < h.u32(nAddr); i++ {
			data2, _ := h.mod.Memory().ReadUint64Le(outAddr + 32*i + 24)
			got[data2] = h.u32(outAddr + 32*i)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantEvents) {
			t.Errorf("%s: events %v, want %v", step, got, wantEvents)
		}
	}
	wait("first", "5:r 5:w 6:r", map[uint64]uint32{5: epollIn | epollOut, 6: epollIn})
	wait("again", "6:r", map[uint64]uint32{6: epollIn})
	h.call("fd_read", 5, 0, 0, 3000)
	wait("after a read", "5:r 6:r", map[uint64]uint32{5: epollIn, 6: epollIn})
	h.call("fd_write", 5, 0, 0, 3000)
	wait("after a write", "5:w 6:r", map[uint64]uint32{5: epollOut, 6: epollIn})
	h.epollEvent(evAddr, epollIn|epollOut|epollET, 5)
	h.call("epoll_ctl", ep, 3, 5, evAddr)
	wait("after MOD", "5:r 5:w 6:r", map[uint64]uint32{5: epollIn | epollOut, 6: epollIn})
}

// TestRegionStaysLazy: ordinary fd calls, which can come before the
// guest's allocator has started, do not set up the adapter region (grow
// memory) even though the fd table and epoll wrap them; the first call
// that needs state does.
func TestRegionStaysLazy(t *testing.T) {
	h := newAdapterHarness(t)
	size := func() uint32 { return h.mod.Memory().Size() }
	before := size()
	h.call("fd_write", 1, 0, 0, 3000)
	h.call("fd_read", 5, 0, 0, 3000)
	h.call("fd_fdstat_get", 5, 500)
	h.call("path_open", 3, 0, 100, 1, 0, 0, 0, 0, 200)
	if size() != before {
		t.Fatalf("memory grew from %d to %d bytes on ordinary fd calls", before, size())
	}
	if rc := h.call("fd_dup", 5, 400); rc != 0 {
		t.Fatalf("fd_dup = %d", rc)
	}
	if size() != before+regionPages*65536 {
		t.Errorf("fd_dup: memory %d bytes, want the region grown (%d)", size(), before+regionPages*65536)
	}
}
