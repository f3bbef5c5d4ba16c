// Command wasm2oci packs a .wasm file into an OCI image tarball for
// containerd-shim-wazix-v1:
//
//	wasm2oci -name docker.io/you/hello:v1 -o hello.tar hello.wasm [args...]
//	ctr images import hello.tar
//
// The image has one layer holding the module at -path (default /app.wasm),
// and an entrypoint naming it; args become the image's default command.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/wazix/wazix/cmd/containerd-shim-wazix-v1/ocipack"
)

type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var env list
	name := flag.String("name", "", "image reference, e.g. docker.io/you/app:v1 (required)")
	out := flag.String("o", "", "output tarball (required; - for stdout)")
	p := flag.String("path", "/app.wasm", "where the module lives in the image; the entrypoint")
	osName := flag.String("os", "linux", "image platform OS")
	arch := flag.String("arch", "", "image platform architecture (default: this machine's)")
	flag.Var(&env, "env", "KEY=VALUE in the image's default environment; repeatable")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wasm2oci -name REF -o OUT.tar [flags] module.wasm [args...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *name == "" || *out == "" || flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	wasm, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasm2oci:", err)
		os.Exit(1)
	}
	var buf bytes.Buffer
	img := ocipack.Image{Name: *name, Wasm: wasm, Path: *p, Args: flag.Args()[1:], Env: env, OS: *osName, Arch: *arch}
	if err := ocipack.Write(&buf, img); err != nil {
		fmt.Fprintf(os.Stderr, "wasm2oci: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	if *out == "-" {
		_, err = os.Stdout.Write(buf.Bytes())
	} else {
		err = os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasm2oci:", err)
		os.Exit(1)
	}
}
