package wazix_test

import (
	"testing"

	"github.com/wazix/wazix"
	"github.com/wazix/wazix/fixtures"
)

func TestSpawnsThreads(t *testing.T) {
	for name, want := range map[string]bool{
		"wat/thread_counter": true,  // wasix_32v1.thread_spawn_v2
		"wat/thread_wasi":    true,  // wasi.thread-spawn
		"wat/thread_tls":     true,  // the 2022 five-argument thread_spawn
		"wat/hello":          false, // preview1 only
	} {
		if got := wazix.SpawnsThreads(fixtures.Build(t, name)); got != want {
			t.Errorf("%s: SpawnsThreads = %v, want %v", name, got, want)
		}
	}
	if wazix.SpawnsThreads([]byte("\x00asm\x01\x00\x00\x00\x02\xff")) {
		t.Error("a truncated module spawns threads")
	}
}
