package wasix_test

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmgen"
)

// pathFuncs are the path functions the hostile path guest calls, with the
// positions of their (path pointer, path length) parameters.
var pathFuncs = []struct {
	module, name string
	paths        [][2]int
}{
	{"wasi_snapshot_preview1", "path_open", [][2]int{{2, 3}}},
	{"wasi_snapshot_preview1", "path_create_directory", [][2]int{{1, 2}}},
	{"wasi_snapshot_preview1", "path_filestat_get", [][2]int{{2, 3}}},
	{"wasi_snapshot_preview1", "path_filestat_set_times", [][2]int{{2, 3}}},
	{"wasi_snapshot_preview1", "path_link", [][2]int{{2, 3}, {5, 6}}},
	{"wasi_snapshot_preview1", "path_readlink", [][2]int{{1, 2}}},
	{"wasi_snapshot_preview1", "path_remove_directory", [][2]int{{1, 2}}},
	{"wasi_snapshot_preview1", "path_rename", [][2]int{{1, 2}, {4, 5}}},
	{"wasi_snapshot_preview1", "path_symlink", [][2]int{{0, 1}, {3, 4}}},
	{"wasi_snapshot_preview1", "path_unlink_file", [][2]int{{1, 2}}},
	{"wasi_snapshot_preview1", "fd_readdir", nil},
	{"wasi_snapshot_preview1", "fd_close", nil},
	{"wasix_32v1", "path_open2", [][2]int{{2, 3}}},
	{"wasix_32v1", "chdir", [][2]int{{0, 1}}},
	{"wasix_32v1", "getcwd", nil},
}

// hostilePaths are the pieces random guest paths are made of.
var hostilePaths = []string{"/", "..", "../..", ".", "abs", "rel", "dang", "data", "dev", "fd", "3", "null", "stdin",
	"proc", "self", "root", "secret.txt", "x", "y", "inside.txt", "", "//", "tty", "up"}

// TestPathsHostileGuest calls the path functions thousands of times with
// random fds, flags and pointers and with paths made of .., /, /dev,
// /proc and symlinks that lead out: the host never panics, nothing outside
// the mounts changes, and no host fd outlives the guest.
func TestPathsHostileGuest(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root, data, outside := filepath.Join(base, "root"), filepath.Join(base, "data"), filepath.Join(base, "outside")
	for _, d := range []string{root, data, outside} {
		os.Mkdir(d, 0o755)
	}
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(root, "inside.txt"), []byte("inside"), 0o644)
	os.Symlink(outside, filepath.Join(root, "abs"))
	os.Symlink("../outside", filepath.Join(root, "rel"))
	os.Symlink(filepath.Join(outside, "new"), filepath.Join(root, "dang"))
	os.Symlink("../outside", filepath.Join(data, "up"))
	before := listTree(t, base, root, data)

	var ims []wasmgen.Import
	for _, pf := range pathFuncs {
		forms := compat.Lookup(pf.module, pf.name)
		if len(forms) == 0 {
			t.Fatalf("no signature for %s.%s", pf.module, pf.name)
		}
		ims = append(ims, wasmgen.Import{Module: pf.module, Name: pf.name, Params: forms[0].Params, Results: forms[0].Results})
	}
	wasm := wasmgen.Caller(ims, wasmgen.Options{})
	fdsBefore := openFds(t)
	rng := rand.New(rand.NewSource(9))
	iterations := 6000
	if testing.Short() {
		iterations = 800
	}
	func() {
		rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
		defer rt.Close(ctx)
		host, err := wazix.NewConfig().WithDir(root, "/").WithDir(data, "/data").WithStdout(&strings.Builder{}).
			WithStderr(&strings.Builder{}).WithMaxFds(64).Instantiate(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		defer host.Close(ctx)
		compiled, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		// The guest is a WASIX module: InstantiateModule adds wasix_32v1.
		m, err := host.InstantiateModule(ctx, rt, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		ok := map[string]int{}
		defer func() { t.Logf("successful calls: %v", ok) }()
		randomPath := func() string {
			var parts []string
			for n := rng.Intn(6); n >= 0; n-- {
				parts = append(parts, hostilePaths[rng.Intn(len(hostilePaths))])
			}
			p := strings.Join(parts, "/")
			if rng.Intn(2) == 0 {
				p = "/" + p
			}
			return p
		}
		for i := 0; i < iterations; i++ {
			pf := pathFuncs[rng.Intn(len(pathFuncs))]
			mem := make([]byte, 1024)
			rng.Read(mem)
			fn := m.ExportedFunction(wasmgen.WrapperName(wasmgen.Import{Module: pf.module, Name: pf.name}))
			params := fn.Definition().ParamTypes()
			args := make([]uint64, len(params))
			for j := range params {
				switch rng.Intn(3) {
				case 0:
					args[j] = uint64(rng.Intn(8)) // fds, flags
				case 1:
					args[j] = uint64(rng.Intn(1024))
				default:
					args[j] = uint64(rng.Uint32())
				}
			}
			for k, pl := range pf.paths {
				if rng.Intn(8) == 0 {
					continue // keep the random pointer and length
				}
				p := randomPath()
				off := 256 + 256*k
				copy(mem[off:off+255], p)
				args[pl[0]], args[pl[1]] = uint64(off), uint64(len(p))
			}
			if rng.Intn(4) != 0 {
				plausible(rng, pf.name, args)
			}
			if pf.name == "fd_close" && rng.Intn(4) != 0 {
				args[0] = uint64(5 + rng.Intn(60)) // mostly not the preopens or stdio
			}
			m.Memory().Write(0, mem)
			res, err := fn.Call(ctx, args...)
			if err != nil {
				t.Fatalf("%s%v: %v", pf.name, args, err)
			}
			if len(res) == 1 && res[0] == 0 {
				ok[pf.name]++
			}
		}
		m.Close(ctx)
	}()
	if after := listTree(t, base, root, data); after != before {
		t.Errorf("outside the mounts changed:\nbefore %s\nafter  %s", before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret.txt")); string(b) != "secret" {
		t.Errorf("secret.txt changed: %q", b)
	}
	if after := openFds(t); after > fdsBefore {
		t.Fatalf("%d host fds before, %d after the hostile guest", fdsBefore, after)
	}
}

// plausible makes the fds, flags and result pointers of a call valid, so
// that the paths are what decides.
func plausible(rng *rand.Rand, name string, a []uint64) {
	fd := func() uint64 { return uint64(3 + rng.Intn(4)) }
	oflags := []uint64{0, 1, 2, 4, 8, 9, 13}
	switch name {
	case "path_open", "path_open2":
		a[0], a[1], a[4], a[5], a[6], a[7] = fd(), uint64(rng.Intn(2)), oflags[rng.Intn(len(oflags))], ^uint64(0), ^uint64(0), 0
		a[len(a)-1] = 900
		if name == "path_open2" {
			a[8] = uint64(rng.Intn(2))
		}
	case "path_link":
		a[0], a[1], a[4] = fd(), uint64(rng.Intn(2)), fd()
	case "path_rename":
		a[0], a[3] = fd(), fd()
	case "path_symlink":
		a[2] = fd()
	case "path_filestat_get":
		a[0], a[1], a[4] = fd(), uint64(rng.Intn(2)), 900
	case "path_filestat_set_times":
		a[0], a[1], a[6] = fd(), uint64(rng.Intn(2)), uint64(rng.Intn(16))
	case "path_readlink":
		a[0], a[3], a[4], a[5] = fd(), 900, 64, 1000
	case "fd_readdir":
		a[0], a[1], a[2], a[3], a[4] = fd(), 0, 200, 0, 1000
	case "getcwd":
		a[0], a[1] = 0, 1000
	case "path_create_directory", "path_remove_directory", "path_unlink_file":
		a[0] = fd()
	}
}
