package wazix_test

import (
	"bytes"
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

// Log every host call of a guest. The hook receives each call decoded:
// its arguments (fds with their kind and path, strings, flags by name), its
// errno and its out-values; String gives the line `wazix run --trace`
// prints, with timings.
func ExampleConfig_WithTracer() {
	ctx := context.Background()
	wasm, err := os.ReadFile("testdata/hello.wasm")
	if err != nil {
		log.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazix.NewRuntimeConfig())
	defer rt.Close(ctx)

	var stdout bytes.Buffer
	host, err := wazix.NewConfig().
		WithStdout(&stdout).
		WithTracer(func(e wazix.TraceEvent) {
			fmt.Printf("thread %d: %s(%s) = %s %s\n", e.Thread, e.Func, e.Args, e.ErrnoName(), e.Results)
		}, wazix.TraceFS|wazix.TraceNet).
		Instantiate(ctx, rt)
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close(ctx)
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := host.Run(ctx, rt, compiled); err != nil {
		log.Fatal(err)
	}
	// Output:
	// thread 1: fd_write(fd=1<chr> iovs=1/13B "hello, wazix\n") = ESUCCESS nwritten=13
}
