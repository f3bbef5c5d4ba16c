package wasix

import (
	"testing"

	"github.com/wazix/wazix/internal/guestmem"
)

// TestSweepCheckpoints: a sweep keeps exactly the checkpoints whose
// snapshot is still somewhere in memory, at any alignment, and drops the
// rest.
func TestSweepCheckpoints(t *testing.T) {
	mem := make([]byte, 4096)
	put := func(at int, id uint64) {
		guestmem.Put64(mem[at:], id)
		copy(mem[at+8:], snapshotMarker[:])
	}
	put(0, 1)    // at the start of memory
	put(1001, 3) // unaligned
	put(4096-snapshotSize, 5)
	copy(mem[2000:], snapshotMarker[:4]) // a partial marker keeps nothing
	guestmem.Put64(mem[3000:], 4)        // an id without its marker neither
	cps := map[uint64]*checkpoint{}
	for id := uint64(1); id <= 6; id++ {
		cps[id] = &checkpoint{id: id}
	}
	sweepCheckpoints(cps, mem)
	if len(cps) != 3 || cps[1] == nil || cps[3] == nil || cps[5] == nil {
		t.Errorf("kept %v, want 1, 3 and 5", cps)
	}
}
