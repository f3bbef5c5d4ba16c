// Command goserver is the Go net/http server of the networking benchmark
// (cmd/wazix-bench). The same source is built for GOOS=wasip1 (run under
// wazix run --listen or wazero run -listen) and natively (the ceiling): it
// serves on the listening socket it finds at fd 3, which the runtimes
// preopen and the benchmark passes to the native build.
//
// GET / answers "Hello, World!\n", like fixtures/c/httpd.c.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

func main() {
	// wasip1: without this the runtime treats fd 3 as blocking (see README).
	if err := syscall.SetNonblock(3, true); err != nil {
		fmt.Fprintln(os.Stderr, "setnonblock:", err)
		os.Exit(1)
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listener:", err)
		os.Exit(1)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!\n")
	})
	fmt.Println("ready")
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
