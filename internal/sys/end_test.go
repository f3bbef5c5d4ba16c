package sys

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// The first End wins, from any number of threads at once; the OnEnd hooks
// run exactly once, including ones registered after the end.
func TestEndFirstWins(t *testing.T) {
	s, err := NewSystem(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, ok := s.ExitStatus(); ok || s.Ended() {
		t.Fatal("ended before End")
	}
	var hooks atomic.Int32
	s.OnEnd(func() { hooks.Add(1) })
	var wg sync.WaitGroup
	var firsts atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(code uint32) {
			defer wg.Done()
			if s.End(code, nil) {
				firsts.Add(1)
			}
		}(uint32(i + 1))
	}
	wg.Wait()
	if firsts.Load() != 1 || hooks.Load() != 1 || !s.Ended() {
		t.Fatalf("firsts %d hooks %d ended %v", firsts.Load(), hooks.Load(), s.Ended())
	}
	code, err, ok := s.ExitStatus()
	if !ok || code < 1 || code > 50 || err != nil {
		t.Fatalf("status %d %v %v", code, err, ok)
	}
	if s.End(99, errors.New("late")) {
		t.Error("a second End counted")
	}
	if c, _, _ := s.ExitStatus(); c != code {
		t.Errorf("status changed to %d", c)
	}
	s.OnEnd(func() { hooks.Add(1) })
	if hooks.Load() != 2 {
		t.Error("a hook registered after the end did not run")
	}
}

// Interrupts sent to one thread change only that thread's count.
func TestInterruptThread(t *testing.T) {
	s, err := NewSystem(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	main := s.InterruptGenOf(nil)
	s.InterruptThread(7)
	if s.InterruptGenOf(nil) != main {
		t.Error("an interrupt for thread 7 interrupted the main thread")
	}
	s.InterruptThread(MainTid)
	if s.InterruptGenOf(nil) == main {
		t.Error("an interrupt for the main thread did not reach it")
	}
	g := s.InterruptGenOf(nil)
	s.Interrupt()
	if s.InterruptGenOf(nil) == g {
		t.Error("a process interrupt did not reach the main thread")
	}
}
