package sys

import (
	"context"
	"reflect"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// Without a wrapper a host function is used as is: tracing off adds nothing
// to a call.
func TestHostFuncUnwrapped(t *testing.T) {
	calls := 0
	f := api.GoModuleFunc(func(context.Context, api.Module, []uint64) { calls++ })
	s := &System{}
	if g := s.HostFunc("m", "f", nil, nil, f); reflect.ValueOf(g).Pointer() != reflect.ValueOf(f).Pointer() {
		t.Error("HostFunc wrapped f without a wrapper")
	}
	wrapped := 0
	s.Wrap = func(module, name string, _, _ []api.ValueType, f api.GoModuleFunc) api.GoModuleFunc {
		return func(ctx context.Context, m api.Module, stack []uint64) { wrapped++; f(ctx, m, stack) }
	}
	s.HostFunc("m", "f", nil, nil, f)(context.Background(), nil, nil)
	if calls != 1 || wrapped != 1 {
		t.Errorf("calls %d, wrapped %d", calls, wrapped)
	}
}
