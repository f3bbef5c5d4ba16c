package wazix_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tetratelabs/wazero"

	"github.com/wazix/wazix"
)

// Run a WASI preview1 module with wazix's host modules. testdata/hello.wasm
// is testdata/hello.wat assembled with wat2wasm: it writes one line with fd_write.
func Example() {
	ctx := context.Background()
	wasm, err := os.ReadFile("testdata/hello.wasm")
	if err != nil {
		log.Fatal(err)
	}

	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	defer rt.Close(ctx)

	host, err := wazix.NewConfig().
		WithArgs("hello").
		WithEnv("GREETING", "hi").
		WithStdout(os.Stdout).
		Instantiate(ctx, rt)
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close(ctx)

	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		log.Fatal(err)
	}
	code, err := host.Run(ctx, rt, compiled)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit code", code)
	// Output:
	// hello, wazix
	// exit code 0
}
