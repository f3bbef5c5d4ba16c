package sys

import (
	"math/rand"
	"sync"
	"testing"
)

// TestTableLowestFree checks, against a brute-force model, that Insert
// always returns the lowest free fd at or above min while fds come and go.
func TestTableLowestFree(t *testing.T) {
	tab := NewTable(1000)
	used := map[uint32]bool{}
	r := rand.New(rand.NewSource(1))
	for step := 0; step < 20000; step++ {
		switch r.Intn(4) {
		case 0, 1:
			min := uint32(r.Intn(8))
			want := min
			for used[want] {
				want++
			}
			got, errno := tab.Insert(&Entry{File: &Stream{}}, min)
			if want >= 1000 {
				if errno != EMFILE {
					t.Fatalf("step %d: full table gave %d, %d", step, got, errno)
				}
				continue
			}
			if errno != ESUCCESS || got != want {
				t.Fatalf("step %d: Insert(min %d) = %d, %d; want %d", step, min, got, errno, want)
			}
			used[got] = true
		case 2:
			fd := uint32(r.Intn(128))
			errno := tab.Close(fd)
			if used[fd] != (errno == ESUCCESS) {
				t.Fatalf("step %d: Close(%d) = %d, used %v", step, fd, errno, used[fd])
			}
			delete(used, fd)
		case 3:
			from, to := uint32(r.Intn(64)), uint32(r.Intn(64))
			errno := tab.Renumber(from, to)
			if used[from] && used[to] {
				if errno != ESUCCESS {
					t.Fatalf("renumber %d %d: %d", from, to, errno)
				}
				if from != to {
					delete(used, from)
				}
			} else if errno != EBADF {
				t.Fatalf("renumber %d %d of closed fds: %d", from, to, errno)
			}
		}
		// Get (lock-free, on the mirror) agrees with the model.
		for fd := uint32(0); fd < 140; fd++ {
			if _, errno := tab.Get(fd); (errno == ESUCCESS) != used[fd] {
				t.Fatalf("step %d: Get(%d) = %d, used %v", step, fd, errno, used[fd])
			}
		}
	}
	c := tab.Clone(false)
	for fd := uint32(0); fd < 140; fd++ {
		if _, errno := c.Get(fd); (errno == ESUCCESS) != used[fd] {
			t.Fatalf("clone: Get(%d) = %d, used %v", fd, errno, used[fd])
		}
	}
	tab.CloseAll()
	for fd := uint32(0); fd < 140; fd++ {
		if _, errno := tab.Get(fd); errno != EBADF {
			t.Fatalf("after CloseAll: Get(%d) = %d", fd, errno)
		}
	}
}

// TestTableConcurrentGet: Get, which takes no lock, sees whole entries
// while other threads insert, grow, update and close (run with -race).
func TestTableConcurrentGet(t *testing.T) {
	tab := NewTable(0)
	first := &Entry{File: &Stream{}}
	if fd, _ := tab.Insert(first, 0); fd != 0 {
		t.Fatalf("first fd %d", fd)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// fd 0 is never closed: it must be found through every growth.
				if e, errno := tab.Get(0); errno != ESUCCESS || e.File == nil {
					t.Errorf("Get(0) = %v, %d", e, errno)
					return
				}
				for fd := uint32(1); fd < 600; fd += 37 {
					if e, errno := tab.Get(fd); errno == ESUCCESS && e.File == nil {
						t.Errorf("Get(%d): entry without a file", fd)
						return
					}
				}
			}
		}()
	}
	for round := 0; round < 20; round++ {
		var fds []uint32
		for i := 0; i < 500; i++ {
			fd, errno := tab.Insert(&Entry{File: &Stream{}}, 1)
			if errno != ESUCCESS {
				t.Fatal(errno)
			}
			fds = append(fds, fd)
		}
		_ = tab.Update(0, func(e *Entry) Errno { e.Flags ^= FdflagNonblock; return ESUCCESS })
		for _, fd := range fds {
			tab.Close(fd)
		}
	}
	close(stop)
	wg.Wait()
}

func TestTableMax(t *testing.T) {
	tab := NewTable(3)
	for i := 0; i < 3; i++ {
		if _, errno := tab.Insert(&Entry{File: &Stream{}}, 0); errno != ESUCCESS {
			t.Fatal(errno)
		}
	}
	if _, errno := tab.Insert(&Entry{File: &Stream{}}, 0); errno != EMFILE {
		t.Fatalf("4th fd: %d, want EMFILE", errno)
	}
}

// TestTableUpdate: Update replaces the entry with a changed copy (an entry
// a thread already holds never changes under it), keeps it when the change
// fails, and is EBADF for a free fd. Run with -race, the concurrent part
// fails if an entry were written in place.
func TestTableUpdate(t *testing.T) {
	tab := NewTable(10)
	fd, _ := tab.Insert(&Entry{File: &Stream{}, Flags: FdflagAppend}, 0)
	held, _ := tab.Get(fd)
	if errno := tab.Update(fd, func(e *Entry) Errno { e.Flags = FdflagNonblock; return ESUCCESS }); errno != ESUCCESS {
		t.Fatal(errno)
	}
	now, _ := tab.Get(fd)
	if held.Flags != FdflagAppend || now.Flags != FdflagNonblock {
		t.Errorf("held %d now %d, want %d and %d", held.Flags, now.Flags, FdflagAppend, FdflagNonblock)
	}
	if errno := tab.Update(fd, func(e *Entry) Errno { e.Flags = 0; return ENOTCAPABLE }); errno != ENOTCAPABLE {
		t.Errorf("failed change: %d", errno)
	}
	if e, _ := tab.Get(fd); e.Flags != FdflagNonblock {
		t.Errorf("a failed change was kept: %d", e.Flags)
	}
	if errno := tab.Update(fd+1, func(*Entry) Errno { return ESUCCESS }); errno != EBADF {
		t.Errorf("free fd: %d, want EBADF", errno)
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			tab.Update(fd, func(e *Entry) Errno { e.CloseOnExec = !e.CloseOnExec; e.Flags ^= FdflagNonblock; return ESUCCESS })
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			if e, errno := tab.Get(fd); errno == ESUCCESS && e.Nonblock() == e.CloseOnExec {
				t.Error("an entry changed while held")
				return
			}
		}
	}()
	wg.Wait()
}

func BenchmarkTableInsert10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		tab := NewTable(20000)
		for j := 0; j < 10000; j++ {
			tab.Insert(&Entry{File: &Stream{}}, 0)
		}
	}
}
