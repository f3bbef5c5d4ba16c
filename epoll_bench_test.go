package wazix

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/sys"
	"github.com/wazix/wazix/internal/wasmgen"
	"github.com/wazix/wazix/polling"
)

// idleFile is an object with its own readiness record and no host fd, so
// that benchmarks can register 100k of them.
type idleFile struct{ rec *polling.Record }

func (f idleFile) Filetype() sys.Filetype  { return sys.FiletypeCharacterDevice }
func (f idleFile) Record() *polling.Record { return f.rec }
func (f idleFile) Close() error            { return nil }

func benchGuest(b *testing.B, n int) (*Host, api.Module, []uint32) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, NewRuntimeConfig())
	b.Cleanup(func() { rt.Close(ctx) })
	var ims []wasmgen.Import
	for _, name := range []string{"epoll_create", "epoll_ctl", "epoll_wait"} {
		f, _ := compat.Find(compat.ModuleWASIX32, name, nil, nil)
		for _, g := range compat.Lookup(compat.ModuleWASIX32, name) {
			f = g
		}
		ims = append(ims, wasmgen.Import{Module: f.Module, Name: f.Name, Params: f.Params, Results: f.Results})
	}
	p := compat.Lookup(compat.ModulePreview1, "poll_oneoff")[0]
	ims = append(ims, wasmgen.Import{Module: p.Module, Name: p.Name, Params: p.Params, Results: p.Results})
	compiled, err := rt.CompileModule(ctx, wasmgen.Caller(ims, wasmgen.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewConfig().WithStdout(io.Discard).WithMaxFds(n+100).Instantiate(ctx, rt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(ctx) })
	m, err := h.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	// n idle objects, then one that is always readable.
	fds := make([]uint32, 0, n+1)
	for i := 0; i <= n; i++ {
		var bits uint32
		if i == n {
			bits = polling.In
		}
		fd, errno := h.sys.Table.Insert(&sys.Entry{File: idleFile{polling.NewRecord(bits)}, RightsBase: sys.RightsStream}, 0)
		if errno != sys.ESUCCESS {
			b.Fatal(errno)
		}
		fds = append(fds, fd)
	}
	need := uint64(n+2) * 48 * 2
	if pages := need/65536 + 1; uint64(m.Memory().Size())/65536 < pages {
		m.Memory().Grow(uint32(pages))
	}
	return h, m, fds
}

// BenchmarkEpollWait: one ready fd among n registered idle ones. epoll_wait
// costs O(ready), so the time should not grow with n.
func BenchmarkEpollWait(b *testing.B) {
	for _, n := range []int{10, 1000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h, m, fds := benchGuest(b, n)
			ctx := context.Background()
			fns := map[string]api.Function{}
			for _, name := range []string{"epoll_create", "epoll_wait"} {
				fns[name] = m.ExportedFunction("call_wasix_32v1_" + name)
			}
			call := func(name string, args ...uint64) uint64 {
				res, err := fns[name].Call(ctx, args...)
				if err != nil {
					b.Fatal(err)
				}
				return res[0]
			}
			if call("epoll_create", 0) != 0 {
				b.Fatal("epoll_create")
			}
			epfd, _ := m.Memory().ReadUint32Le(0)
			e, _ := h.sys.Table.Get(epfd)
			ep := e.File.(*sys.Epoll)
			for _, fd := range fds {
				if errno := ep.Ctl(sys.EpollCtlAdd, fd, sys.EpollIn, [24]byte{}); errno != sys.ESUCCESS {
					b.Fatal(errno)
				}
			}
			call("epoll_wait", uint64(epfd), 64, 8, 0, 32) // the first wait sees every new registration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if errno := call("epoll_wait", uint64(epfd), 64, 8, 0, 32); errno != 0 {
					b.Fatal(errno)
				}
				if got, _ := m.Memory().ReadUint32Le(32); got != 1 {
					b.Fatalf("%d events", got)
				}
			}
		})
	}
}

// BenchmarkPollOneoffSame: the same n idle + 1 ready fds as subscriptions of
// one poll_oneoff, which is O(n) by the design of its ABI.
func BenchmarkPollOneoffSame(b *testing.B) {
	for _, n := range []int{10, 1000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			_, m, fds := benchGuest(b, n)
			ctx := context.Background()
			mem := m.Memory()
			const in = 1024
			sub := make([]byte, 48)
			for i, fd := range fds {
				clear(sub)
				binary.LittleEndian.PutUint64(sub, uint64(i))
				sub[8] = 1 // FD_READ
				binary.LittleEndian.PutUint32(sub[16:], fd)
				mem.Write(in+uint32(i*48), sub)
			}
			out := in + uint32(len(fds)*48)
			nev := out + uint32(len(fds)*32)
			fn := m.ExportedFunction("call_wasi_snapshot_preview1_poll_oneoff")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := fn.Call(ctx, in, uint64(out), uint64(len(fds)), uint64(nev))
				if err != nil || res[0] != 0 {
					b.Fatal(res, err)
				}
			}
		})
	}
}

// BenchmarkEpollCtl is one ADD and one DEL of an fd, through the guest ABI.
func BenchmarkEpollCtl(b *testing.B) {
	_, m, fds := benchGuest(b, 1)
	ctx := context.Background()
	ctl := m.ExportedFunction("call_wasix_32v1_epoll_ctl")
	m.ExportedFunction("call_wasix_32v1_epoll_create").Call(ctx, 0)
	epfd, _ := m.Memory().ReadUint32Le(0)
	m.Memory().WriteUint32Le(64, 1) // events = EPOLLIN
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := ctl.Call(ctx, uint64(epfd), 0, uint64(fds[0]), 64); err != nil || res[0] != 0 {
			b.Fatal(res, err)
		}
		if res, err := ctl.Call(ctx, uint64(epfd), 2, uint64(fds[0]), 0); err != nil || res[0] != 0 {
			b.Fatal(res, err)
		}
	}
}
