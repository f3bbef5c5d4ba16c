//go:build wasip1

// Command guest is the Go (GOOS=wasip1) test workload of the shim's
// end-to-end test. Usage:
//
//	guest [ARG...]       print argv, GREETING, the working directory and
//	                     whether /app.wasm is visible, and /mnt/msg if it
//	                     exists, then exit 0
//	guest exit N         exit with N
//	guest sleep SECONDS  print "sleeping", then sleep
//	guest alloc MIB      allocate and touch MIB MiB, print "allocated"
//	guest cat            copy stdin to stdout, then print "EOF"
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "exit" {
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(n)
	}
	if len(os.Args) == 3 && os.Args[1] == "sleep" {
		n, _ := strconv.Atoi(os.Args[2])
		fmt.Println("sleeping")
		time.Sleep(time.Duration(n) * time.Second)
		fmt.Println("woke")
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "cat" {
		io.Copy(os.Stdout, os.Stdin)
		fmt.Println("EOF")
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "alloc" {
		n, _ := strconv.Atoi(os.Args[2])
		b := make([]byte, n<<20)
		for i := range b {
			b[i] = byte(i)
		}
		fmt.Println("allocated", len(b)>>20)
		return
	}
	fmt.Printf("argv0=%s\n", os.Args[0])
	fmt.Printf("args=%q\n", os.Args[1:])
	fmt.Printf("GREETING=%s\n", os.Getenv("GREETING"))
	wd, err := os.Getwd()
	fmt.Printf("cwd=%s err=%v\n", wd, err)
	if fi, err := os.Stat("/app.wasm"); err == nil {
		fmt.Printf("root: /app.wasm %d bytes\n", fi.Size())
	} else {
		fmt.Printf("root: %v\n", err)
	}
	if b, err := os.ReadFile("/mnt/msg"); err == nil {
		fmt.Printf("mnt: %s\n", b)
	}
	fmt.Fprintln(os.Stderr, "to stderr")
}
