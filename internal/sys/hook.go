package sys

import "github.com/tetratelabs/wazero/api"

// HostWrapper wraps one host function of module (an import module name)
// before it is defined; the tracer is one. It is called once per function
// when the host modules are built, never per call.
type HostWrapper func(module, name string, params, results []api.ValueType, f api.GoModuleFunc) api.GoModuleFunc

// HostFunc returns f wrapped by s.Wrap, or f itself when no wrapper is set:
// an untraced guest runs the very same function value as without tracing.
func (s *System) HostFunc(module, name string, params, results []api.ValueType, f api.GoModuleFunc) api.GoModuleFunc {
	if s.Wrap == nil {
		return f
	}
	return s.Wrap(module, name, params, results, f)
}
