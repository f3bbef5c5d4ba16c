package trace

import (
	"encoding/binary"
	"math/rand"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// fakeMemory is a bounds-checked byte slice with the api.Memory methods the
// decoders use.
type fakeMemory struct {
	api.Memory
	b []byte
}

func (m *fakeMemory) Size() uint32 { return uint32(len(m.b)) }

func (m *fakeMemory) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n], true
}

// Every decoder survives random arguments over random memory: pointers out
// of range, huge lengths and counts, garbage records.
func TestDecodersHostile(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	mem := &fakeMemory{b: make([]byte, 4096)}
	tr := New(&sys.System{Table: sys.NewTable(0)})
	interesting := []uint64{0, 1, 3, 4095, 4096, 4090, 1 << 31, 0xffffffff, 0xfffffff0, 1 << 40, ^uint64(0)}
	for name, spec := range specs() {
		n := slots(parseSpec(spec))
		module, _, _ := strings.Cut(name, "/")
		d := decoderFor("wasix_32v1", module, n)
		for i := 0; i < 2000; i++ {
			r.Read(mem.b)
			// Some plausible small values so that the decoders go deep.
			for j := 0; j < 64; j++ {
				binary.LittleEndian.PutUint32(mem.b[r.Intn(len(mem.b)-4):], uint32(r.Intn(64)))
			}
			args := make([]uint64, n)
			for j := range args {
				switch r.Intn(3) {
				case 0:
					args[j] = interesting[r.Intn(len(interesting))]
				case 1:
					args[j] = uint64(r.Intn(4200))
				default:
					args[j] = r.Uint64()
				}
			}
			c := &call{t: tr, mem: mem, module: "wasix_32v1", args: args}
			pre := c.safe(d.pre)
			c.ev = &Event{HasErrno: true}
			c.results = []uint64{0}
			post := c.safe(d.post)
			if strings.Contains(pre+post, "decoder failed") {
				t.Fatalf("%s(%v): pre %q post %q", name, args, pre, post)
			}
		}
	}
}
