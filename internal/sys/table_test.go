package sys

import (
	"math/rand"
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
	}
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

func BenchmarkTableInsert10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		tab := NewTable(20000)
		for j := 0; j < 10000; j++ {
			tab.Insert(&Entry{File: &Stream{}}, 0)
		}
	}
}
