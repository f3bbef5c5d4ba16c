package sys

import (
	"bytes"
	"context"
	"os"
	"testing"
)

func TestSkipBytes(t *testing.T) {
	a, b := []byte("abc"), []byte("de")
	for _, tc := range []struct {
		n    int
		want string
		iovs int
	}{
		{0, "abcde", 2}, {1, "bcde", 2}, {3, "de", 1}, {4, "e", 1}, {5, "", 0},
	} {
		got := skipBytes([][]byte{a, b}, tc.n)
		if string(bytes.Join(got, nil)) != tc.want || len(got) != tc.iovs {
			t.Errorf("skip %d: %q in %d iovecs, want %q in %d", tc.n, bytes.Join(got, nil), len(got), tc.want, tc.iovs)
		}
	}
}

// TestInheritedPipeIO: reads and writes on a blocking pipe we do not own
// (stdio) take the RWF_NOWAIT path when they can go through at once, and a
// blocking write larger than the pipe still writes everything, in order.
func TestInheritedPipeIO(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s, err := NewSystem(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wf, err := NewHostFile(s.Registry, int(w.Fd()), false) // Fd makes it blocking
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	rf, err := NewHostFile(s.Registry, int(r.Fd()), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	ctx := context.Background()

	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB > pipe
	got := make(chan []byte)
	go func() {
		var out bytes.Buffer
		buf := make([]byte, 4096)
		for out.Len() < len(data) {
			n, e := rf.Readv(ctx, [][]byte{buf}, false)
			if e != ESUCCESS || n == 0 {
				break
			}
			out.Write(buf[:n])
		}
		got <- out.Bytes()
	}()
	n, e := wf.Writev(ctx, [][]byte{data[:1000], data[1000:]}, false)
	if e != ESUCCESS || n != len(data) {
		t.Fatalf("Writev = %d, %v; want %d", n, e, len(data))
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("read %d bytes, not what was written", len(b))
	}
	if wf.nowait.unsupported.Load() {
		t.Log("this kernel has no RWF_NOWAIT on pipes: the poll path was used")
	}
}
