package polling

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newPipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func newRegistry(t *testing.T) *Registry {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitBits polls the record until want is set (the poller is asynchronous).
func waitBits(t *testing.T, reg *Registry, rec *Record, want uint32) {
	t.Helper()
	if err := WaitFor(context.Background(), reg, rec, want); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if b, _ := rec.Bits(); b&want != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bits %#x never set", want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPipeReadiness(t *testing.T) {
	reg := newRegistry(t)
	r, w := newPipe(t)
	rrec, err := reg.Watch(r)
	if err != nil {
		t.Fatal(err)
	}
	wrec, err := reg.Watch(w)
	if err != nil {
		t.Fatal(err)
	}
	waitBits(t, reg, wrec, Out) // an empty pipe is writable
	time.Sleep(20 * time.Millisecond)
	if b, _ := rrec.Bits(); b&In != 0 {
		t.Fatalf("empty pipe read end is readable: %#x", b)
	}
	unix.Write(w, []byte("x"))
	waitBits(t, reg, rrec, In)

	// Drain, see EAGAIN, clear with the generation read before the read.
	_, gen := rrec.Bits()
	buf := make([]byte, 8)
	unix.Read(r, buf)
	if _, err := unix.Read(r, buf); err != unix.EAGAIN {
		t.Fatalf("read: %v, want EAGAIN", err)
	}
	rrec.Clear(In, gen)
	if b, _ := rrec.Bits(); b&In != 0 {
		t.Fatalf("In still set after clear: %#x", b)
	}

	// Closing the write end is a hang-up for the reader.
	unix.Close(w)
	waitBits(t, reg, rrec, Hup)
}

func TestClearKeepsRacingEvent(t *testing.T) {
	rec := NewRecord(In)
	_, gen := rec.Bits()
	rec.Post(In) // an event arrives between the syscall and Clear
	rec.Clear(In, gen)
	if b, _ := rec.Bits(); b&In == 0 {
		t.Fatal("a newer event was cleared by a stale EAGAIN")
	}
}

func TestRegularFileAlwaysReady(t *testing.T) {
	reg := newRegistry(t)
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := reg.Watch(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.IsAlways() {
		t.Fatal("regular file record is not always ready")
	}
	if b, _ := rec.Bits(); b&(In|Out) != In|Out {
		t.Fatalf("bits %#x", b)
	}
}

func TestWaiterWokenByPost(t *testing.T) {
	rec := NewRecord(0)
	done := make(chan error, 1)
	go func() { done <- WaitFor(context.Background(), nil, rec, In) }()
	time.Sleep(10 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("WaitFor returned before any event")
	default:
	}
	rec.Post(In)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("waiter not woken")
	}
}

func TestWaitCanceled(t *testing.T) {
	reg := newRegistry(t)
	rec := NewRecord(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- WaitFor(ctx, reg, rec, In) }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("canceled wait returned nil")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("wait not interrupted by cancellation")
	}
}

func TestCloseWakesWaitersAndStopsPoller(t *testing.T) {
	before := runtime.NumGoroutine()
	reg, err := New()
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecord(0)
	done := make(chan error, 1)
	go func() { done <- WaitFor(context.Background(), reg, rec, In) }()
	time.Sleep(10 * time.Millisecond)
	reg.Close()
	select {
	case err := <-done:
		if err != ErrClosed {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the waiter")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines: %d before, %d after Close", before, n)
	}
	if _, err := reg.Watch(0); err != ErrClosed {
		t.Fatalf("Watch after Close: %v", err)
	}
}

func TestUnwatchWakesWithHup(t *testing.T) {
	reg := newRegistry(t)
	r, _ := newPipe(t)
	rec, err := reg.Watch(r)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- WaitFor(context.Background(), reg, rec, In) }()
	time.Sleep(10 * time.Millisecond)
	reg.Unwatch(rec)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Unwatch left a waiter asleep")
	}
}

// BenchmarkWaitWake measures one wake-up through a host pipe: write a byte,
// the poller sees the edge, the waiter runs.
func BenchmarkWaitWake(b *testing.B) {
	reg, _ := New()
	defer reg.Close()
	var p [2]int
	unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	rec, _ := reg.Watch(p[0])
	buf := make([]byte, 1)
	for i := 0; i < b.N; i++ {
		unix.Write(p[1], buf)
		if err := WaitFor(context.Background(), reg, rec, In); err != nil {
			b.Fatal(err)
		}
		_, gen := rec.Bits()
		unix.Read(p[0], buf)
		unix.Read(p[0], buf)
		rec.Clear(In, gen)
	}
}

func TestClearIgnoresOtherSide(t *testing.T) {
	rec := NewRecord(In | Out)
	_, gen := rec.Bits()
	rec.Post(Out) // a write-side event, e.g. EPOLLOUT after the read
	rec.Clear(In, gen)
	if b, _ := rec.Bits(); b&In != 0 {
		t.Fatal("an Out event kept a reader's Clear from taking effect")
	}
	_, gen = rec.Bits()
	rec.Post(In)
	rec.Clear(In, gen)
	if b, _ := rec.Bits(); b&In == 0 {
		t.Fatal("a racing In event was cleared")
	}
}
