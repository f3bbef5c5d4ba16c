// Command gocalls is the Go guest of issue 13's per-call comparison
// (docs/benchmarks.md, "A Go guest"): built with GOOS=wasip1 GOARCH=wasm,
// it makes one kind of host call in a loop, chosen by its argument: now
// (1M time.Now, clock_time_get), write (250k one-byte writes to stdout),
// file (500k one-byte writes to /d/f.dat, a preopened directory) or sleep0
// (250k time.Sleep(0) and expired timers, poll_oneoff).
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	n := 1000000
	switch os.Args[1] {
	case "now":
		var s int64
		for i := 0; i < n; i++ {
			s += time.Now().UnixNano()
		}
		fmt.Println(s != 0)
	case "write":
		b := []byte("x")
		for i := 0; i < n/4; i++ {
			os.Stdout.Write(b)
		}
	case "file":
		f, _ := os.Create("/d/f.dat")
		b := []byte("x")
		for i := 0; i < n/2; i++ {
			f.Write(b)
		}
		f.Close()
	case "sleep0":
		for i := 0; i < n/4; i++ {
			time.Sleep(0)
			select {
			case <-time.After(0):
			}
		}
	}
}
