package sys

import (
	"fmt"
	"strings"
)

// CheckArgsEnv reports an error when an argument or an environment entry
// holds a NUL byte. args_get and environ_get hand the guest NUL-terminated
// strings, so such an entry would reach it cut short while args_sizes_get
// counted it whole; wazero refuses them too. An empty list, and empty
// strings in it, are fine.
func CheckArgsEnv(args, env []string) error {
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("argument %d contains a NUL byte", i)
		}
	}
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			k, _, _ := strings.Cut(kv, "=")
			return fmt.Errorf("environment variable %q contains a NUL byte", strings.ReplaceAll(k, "\x00", `\0`))
		}
	}
	return nil
}
