package translate

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wazix/wazix/internal/testtools"
)

// BenchmarkTranslateGo translates the largest fixture, a Go guest using
// epoll, fd_dup, cwd, sleep and futex adapters, and
// reports the size overhead of the output.
func BenchmarkTranslateGo(b *testing.B) {
	in := fixture(b, "goepoll")
	var out []byte
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if out, _, err = Translate(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)-len(in)), "added-bytes")
	b.ReportMetric(100*float64(len(out)-len(in))/float64(len(in)), "%size")
}

// BenchmarkTranslateC translates a small C guest that uses most adapters.
func BenchmarkTranslateC(b *testing.B) {
	in := fixture(b, "posix.c")
	var out []byte
	for i := 0; i < b.N; i++ {
		var err error
		if out, _, err = Translate(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)-len(in)), "added-bytes")
}

const epollBenchWAT = `(module
  (import "wasix_32v1" "epoll_create" (func $create (param i32) (result i32)))
  (import "wasix_32v1" "epoll_ctl" (func $ctl (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "epoll_wait" (func $wait (param i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  ;; setup(fds): one epoll instance watching fd 0..fds-1 for EPOLLIN
  (func (export "setup") (param $fds i32) (result i32) (local $fd i32) (local $err i32)
    (local.set $err (call $create (i32.const 0)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $fd) (local.get $fds)))
      (i32.store (i32.const 64) (i32.const 1))
      (local.set $err (i32.or (local.get $err)
        (call $ctl (i32.load (i32.const 0)) (i32.const 0) (local.get $fd) (i32.const 64))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br $next)))
    (local.get $err))
  ;; wait(n): n calls of epoll_wait with a zero timeout; returns the last nevents
  (func (export "wait") (param $n i32) (result i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (drop (call $wait (i32.load (i32.const 0)) (i32.const 128) (i32.const 8) (i64.const 0) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (i32.load (i32.const 4))))`

// BenchmarkEpollWaitTranslated measures one epoll_wait of the adapter
// (interest list walk + one poll_oneoff + event conversion) in a translated
// module under wazero's own preview1, with 0 and 1 registered fds.
func BenchmarkEpollWaitTranslated(b *testing.B) {
	out, _, err := Translate(testtools.Wat2Wasm(b, epollBenchWAT), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, fds := range []uint64{0, 1} {
		b.Run(map[uint64]string{0: "timeout-only", 1: "stdin"}[fds], func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntime(ctx)
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithStartFunctions())
			if err != nil {
				b.Fatal(err)
			}
			if res, err := mod.ExportedFunction("setup").Call(ctx, fds); err != nil || res[0] != 0 {
				b.Fatalf("setup: %v %v", res, err)
			}
			wait := mod.ExportedFunction("wait")
			b.ResetTimer()
			if _, err := wait.Call(ctx, uint64(b.N)); err != nil {
				b.Fatal(err)
			}
		})
	}
}
