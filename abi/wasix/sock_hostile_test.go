package wasix_test

import (
	"context"
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/abi/wasix"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

// netFuncs are the functions the hostile-guest test calls.
var netFuncs = []string{"sock_open", "sock_pair", "sock_bind", "sock_listen", "sock_connect", "sock_accept_v2",
	"sock_recv_from", "sock_send_to", "sock_send_file", "sock_status", "sock_addr_local", "sock_addr_peer",
	"sock_set_opt_flag", "sock_get_opt_flag", "sock_set_opt_time", "sock_get_opt_time", "sock_set_opt_size",
	"sock_get_opt_size", "sock_join_multicast_v4", "sock_leave_multicast_v4", "sock_join_multicast_v6",
	"sock_leave_multicast_v6", "resolve", "port_addr_list", "port_route_list", "sock_recv", "sock_send",
	"sock_shutdown", "sock_accept", "fd_close", "sock_send_msg", "sock_recv_msg"}

// netCaller is a guest that imports netFuncs from wasix_32v1 and exports
// wrappers (wasmgen.WrapperName) and one page of memory.
func netCaller(t testing.TB) []byte {
	sigs := map[string]compat.Func{}
	for _, f := range compat.WASIX() {
		sigs[f.Name] = f
	}
	var ims []wasmgen.Import
	for _, name := range netFuncs {
		f, ok := sigs[name]
		if !ok {
			t.Fatalf("no signature for %s", name)
		}
		ims = append(ims, wasmgen.Import{Module: wasix.ModuleName, Name: name, Params: f.Params, Results: f.Results})
	}
	return wasmgen.Caller(ims, wasmgen.Options{})
}

// TestSocketsHostileGuest calls every socket function thousands of times
// with random arguments over random memory (network allowed on loopback
// only): the host never panics or traps, and no host fd outlives the guest.
func TestSocketsHostileGuest(t *testing.T) {
	ctx := context.Background()
	wasm := netCaller(t)
	before := openFds(t)
	rng := rand.New(rand.NewSource(5))
	iterations := 4000
	if testing.Short() {
		iterations = 500
	}
	func() {
		rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
		defer rt.Close(ctx)
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		// Each instance is a new process with its own Host, as when a
		// blocking call ended by its deadline ends the guest.
		var m api.Module
		var host *wazix.Host
		defer func() {
			if host != nil {
				host.Close(ctx)
			}
		}()
		instantiate := func() {
			if host != nil {
				host.Close(ctx)
			}
			var err error
			host, err = wazix.NewConfig().WithNetAllow("127.0.0.0/8").WithStdout(&strings.Builder{}).
				WithStderr(&strings.Builder{}).WithMaxFds(64).Instantiate(ctx, rt)
			if err != nil {
				t.Fatal(err)
			}
			m, err = host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
			if err != nil {
				t.Fatal(err)
			}
		}
		instantiate()
		ok, calls := map[string]int{}, map[string]int{}
		defer func() { t.Logf("successful/total calls: %v / %v", ok, calls) }()
		smallFds := func() uint64 { return uint64(rng.Intn(12)) }
		for i := 0; i < iterations; i++ {
			name := netFuncs[rng.Intn(len(netFuncs))]
			mem := make([]byte, 256)
			rng.Read(mem)
			// Plausible addresses now and then: loopback IPv4/IPv6 tags.
			if rng.Intn(2) == 0 {
				mem[0], mem[4] = byte(1+rng.Intn(3)), 127
			}
			m.Memory().Write(0, mem)
			fn := m.ExportedFunction("call_" + wasix.ModuleName + "_" + name)
			params := fn.Definition().ParamTypes()
			args := make([]uint64, len(params))
			for j, typ := range params {
				switch rng.Intn(4) {
				case 0:
					args[j] = smallFds()
				case 1:
					args[j] = uint64(rng.Intn(300))
				case 2:
					args[j] = uint64(rng.Intn(65536))
				default:
					args[j] = rng.Uint64()
				}
				if typ == api.ValueTypeI32 {
					args[j] = uint64(uint32(args[j]))
				}
			}
			if name == "sock_open" && rng.Intn(2) == 0 {
				args = []uint64{uint64(1 + rng.Intn(2)), uint64(1 + rng.Intn(2) | rng.Intn(2)*0x4000), 0, 300}
			}
			if name == "sock_pair" && rng.Intn(2) == 0 {
				args = []uint64{1, uint64(1 + rng.Intn(2)), 0, 300, 304}
			}
			if name == "sock_send_msg" && rng.Intn(2) == 0 {
				// A well-formed iovec at 32 and SOCKET/RIGHTS at 64 with small fds.
				k := rng.Intn(4)
				var b []byte
				b = append(b, 0, 0, 0, 0, 16, 0, 0, 0) // iovec {0, 16}
				m.Memory().Write(32, b)
				cm := []byte{byte(8 + 4*k), 0, 0, 0, 0, 0, 0, 0}
				for j := 0; j < k; j++ {
					cm = append(cm, byte(rng.Intn(12)), 0, 0, 0)
				}
				m.Memory().Write(64, cm)
				args = []uint64{smallFds(), 32, 1, 0, 0, 64, uint64(len(cm)), 300}
			}
			if name == "sock_recv_msg" && rng.Intn(2) == 0 {
				m.Memory().Write(32, []byte{0, 0, 0, 0, 16, 0, 0, 0})
				args = []uint64{smallFds(), 32, 1, uint64(rng.Intn(2) * 8), uint64(rng.Intn(2) * 100), 128, uint64(rng.Intn(40)), 300, 304, 308}
			}
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			res, err := fn.Call(cctx, args...)
			cancel()
			if err == nil && len(res) == 1 {
				if res[0] == 0 {
					ok[name]++
				}
				calls[name]++
			}
			if err != nil {
				var exit *wsys.ExitError
				if errors.As(err, &exit) && cctx.Err() != nil {
					instantiate() // a blocking call ended by its deadline ends the guest, as in a real run
					continue
				}
				t.Fatalf("%s%v: %v", name, args, err)
			}
		}
	}()
	if after := openFds(t); after > before {
		t.Fatalf("%d host fds before, %d after the hostile guest", before, after)
	}
}
