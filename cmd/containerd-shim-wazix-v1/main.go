// Command containerd-shim-wazix-v1 is a containerd runtime shim (shim v2,
// task API v2) that runs WebAssembly images with wazix: containerd and
// Kubernetes select it as the runtime "io.containerd.wazix.v1". Each
// container's process.args[0] names a .wasm file in the image; the shim runs
// it with `wazix run`, the container's rootfs as the guest's "/", in the
// container's network namespace. See docs/kubernetes.md.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
)

func main() {
	if stubMain(os.Args) {
		return
	}
	registry.Register(&plugin.Registration{
		Type: plugins.TTRPCPlugin,
		ID:   "task",
		Requires: []plugin.Type{
			plugins.EventPlugin,
			plugins.InternalPlugin,
		},
		InitFn: func(ic *plugin.InitContext) (any, error) {
			pp, err := ic.GetByID(plugins.EventPlugin, "publisher")
			if err != nil {
				return nil, err
			}
			ss, err := ic.GetByID(plugins.InternalPlugin, "shutdown")
			if err != nil {
				return nil, err
			}
			pub, ok := pp.(shim.Publisher)
			if !ok {
				return nil, errors.New("publisher plugin has the wrong type")
			}
			return newService(ic.Context, pub, ss.(shutdown.Service)), nil
		},
	})
	// The shim waits for its children itself (exec.Cmd.Wait), so the
	// package's reaper must not take their exit statuses.
	shim.Run(context.Background(), manager{}, func(c *shim.Config) { c.NoReaper = true })
}
