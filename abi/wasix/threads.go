package wasix

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/sys"
)

// InstantiateWASIThreads adds the wasi-threads module ("wasi", with
// thread-spawn) to rt. Spawning returns a negative errno until threads are
// supported.
func InstantiateWASIThreads(ctx context.Context, rt wazero.Runtime, s *sys.System) error {
	f := compat.ThreadSpawn
	_, err := rt.NewHostModuleBuilder(compat.ModuleWASIThreads).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
			neg := -int32(sys.ENOSYS)
			stack[0] = uint64(uint32(neg))
		}), f.Params, f.Results).
		WithName(f.Name).
		Export(f.Name).
		Instantiate(ctx)
	return err
}
