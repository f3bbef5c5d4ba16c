package wasix_test

import (
	"strconv"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// benchThreads runs the thread_bench fixture in mode for b.N operations.
// The guest's setup (runtime, instantiation) is included in the time; b.N
// grows until it is negligible.
func benchThreads(b *testing.B, mode string) {
	wasm := fixtures.Build(b, "wat/thread_bench")
	b.ResetTimer()
	r := testrun.Run(b, wasm, testrun.Options{Args: []string{mode, strconv.Itoa(b.N)}})
	if r.Err != nil || r.Code != 0 || r.Stdout != "done\n" {
		b.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
	}
}

// BenchmarkThreadSpawnJoin: thread_spawn_v2 of a thread that returns at
// once (a new instance of the module over the shared memory, a goroutine)
// and thread_join on it.
func BenchmarkThreadSpawnJoin(b *testing.B) { benchThreads(b, "s") }

// BenchmarkFutexUncontended: futex_wake with no waiter plus futex_wait on a
// changed word (two host calls, no sleeping).
func BenchmarkFutexUncontended(b *testing.B) { benchThreads(b, "u") }

// BenchmarkFutexContendedRoundTrip: two threads hand one futex word back and
// forth; one op is a round trip (two hand-overs, each a wake of a thread
// sleeping in futex_wait when it has not yet seen the store).
func BenchmarkFutexContendedRoundTrip(b *testing.B) { benchThreads(b, "p") }
