package guestmem

import (
	"bytes"
	"context"
	"math/rand"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/sys"
)

// oneGuestPage returns the memory (one 64 KiB page) of a module that only
// exports it.
func oneGuestPage(t *testing.T) api.Memory {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	wasm := []byte("\x00asm\x01\x00\x00\x00" +
		"\x05\x03\x01\x00\x01" + // memory section: one memory, min 1 page
		"\x07\x07\x01\x03mem\x02\x00") // export "mem"
	m, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m.Memory()
}

// readIovecs decodes iovecs through api.Memory alone, call by call: the
// oracle of TestViewAgreesWithMemory.
func readIovecs(mem api.Memory, ptr, n uint32) ([][]byte, sys.Errno) {
	if uint64(n)*8 > uint64(mem.Size()) {
		return nil, sys.EFAULT
	}
	raw, ok := mem.Read(ptr, n*8)
	if !ok {
		return nil, sys.EFAULT
	}
	var out [][]byte
	for i := uint32(0); i < min(n, MaxIovecs); i++ {
		b, ok := mem.Read(LE32(raw[i*8:]), LE32(raw[i*8+4:]))
		if !ok {
			return nil, sys.EFAULT
		}
		out = append(out, b)
	}
	return out, sys.ESUCCESS
}

// TestViewAgreesWithMemory: decoding iovecs and checking and writing
// results through a View gives what going through api.Memory gives, at
// the edges of memory and with lengths and counts that overflow 32 bits.
func TestViewAgreesWithMemory(t *testing.T) {
	mem := oneGuestPage(t)
	size := mem.Size()
	put := func(ptr, base, n uint32) {
		mem.WriteUint32Le(ptr, base)
		mem.WriteUint32Le(ptr+4, n)
	}
	cases := []struct {
		name   string
		ptr, n uint32
		setup  func()
	}{
		{"one", 0, 1, func() { put(0, 100, 5) }},
		{"none", 16, 0, func() {}},
		{"buffer at the end", 8, 1, func() { put(8, size-5, 5) }},
		{"buffer past the end", 8, 1, func() { put(8, size-5, 6) }},
		{"length wraps 32 bits", 8, 1, func() { put(8, 16, 0xFFFFFFF8) }},
		{"base past the end", 8, 1, func() { put(8, size, 0) }},
		{"empty buffer at the end", 8, 1, func() { put(8, size, 0) }},
		{"vector at the end", size - 8, 1, func() { put(size-8, 0, 3) }},
		{"vector past the end", size - 4, 1, func() {}},
		{"count wraps 32 bits", 0, 0x20000001, func() { put(0, 0, 1) }},
		{"count past memory", 0, size, func() {}},
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		ptr := uint32(rng.Intn(int(size)))
		n := uint32(rng.Intn(4))
		cases = append(cases, struct {
			name   string
			ptr, n uint32
			setup  func()
		}{"random", ptr, n, func() {
			for j := uint32(0); j < n; j++ {
				put(ptr+8*j, uint32(rng.Intn(int(size)+8)), uint32(rng.Intn(64)))
			}
		}})
	}
	for _, tc := range cases {
		tc.setup()
		want, wantErr := readIovecs(mem, tc.ptr, tc.n)
		got, gotErr := Whole(mem).Iovecs(nil, tc.ptr, tc.n)
		if gotErr != wantErr || len(got) != len(want) {
			t.Fatalf("%s (ptr %d, n %d): view %d iovecs, errno %d; memory %d, errno %d", tc.name, tc.ptr, tc.n, len(got), gotErr, len(want), wantErr)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) || cap(got[i]) != len(got[i]) {
				t.Fatalf("%s: iovec %d differs or is not capped", tc.name, i)
			}
		}
	}
	for _, ptr := range []uint32{0, size - 4, size - 3, size, 0xFFFFFFFE} {
		v := Whole(mem)
		if v.Writable(ptr, 4) != Writable(mem, ptr, 4) {
			t.Errorf("Writable(%d, 4) disagrees", ptr)
		}
		wantErr := sys.EFAULT
		if Writable(mem, ptr, 4) {
			wantErr = sys.ESUCCESS
		}
		if e := v.PutU32(ptr, 0xA1B2C3D4); e != wantErr {
			t.Errorf("PutU32(%d) = %d, want %d", ptr, e, wantErr)
		}
		if wantErr == sys.ESUCCESS {
			if got, _ := mem.ReadUint32Le(ptr); got != 0xA1B2C3D4 {
				t.Errorf("PutU32(%d) wrote %#x", ptr, got)
			}
		}
	}
}
