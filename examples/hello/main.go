//go:build wasip1

// Command hello is the bundled example for wazix: a GOOS=wasip1 program that
// prints its arguments, lists the directory it was given, and waits on a timer.
//
//	GOOS=wasip1 GOARCH=wasm go build -o hello.wasm ./examples/hello
//	go run ./cmd/wazix run --dir . hello.wasm -- one two
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Println("hello from a WASI preview1 guest")
	fmt.Println("args:", os.Args[1:])
	dir := "."
	if ents, err := os.ReadDir(dir); err != nil {
		fmt.Println("no directory preopened:", err)
	} else {
		fmt.Printf("%d entries in the preopened directory, for example %q\n", len(ents), ents[0].Name())
	}
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	fmt.Printf("slept %v on a real clock\n", time.Since(start).Round(time.Millisecond))
}
