package trace

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Stats sums events per function, for `wazix run --stats`. Add is its hook.
type Stats struct {
	mu       sync.Mutex
	funcs    map[string]*FuncStats
	read     uint64
	written  uint64
	threads  int
	maxPages uint32
}

// FuncStats are the totals of one host function.
type FuncStats struct {
	Name   string
	Calls  int
	Errors int // calls that returned an errno other than ESUCCESS
	Time   time.Duration
}

// NewStats returns empty Stats.
func NewStats() *Stats { return &Stats{funcs: map[string]*FuncStats{}} }

// Add counts e.
func (s *Stats) Add(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.MemoryPages > s.maxPages {
		s.maxPages = e.MemoryPages
	}
	if e.Func == "memory.grow" {
		return
	}
	f := s.funcs[e.Func]
	if f == nil {
		f = &FuncStats{Name: e.Func}
		s.funcs[e.Func] = f
	}
	f.Calls++
	if e.HasErrno && e.Errno != 0 || e.Module == "wasi" && !e.ThreadSpawned && !e.Unwound {
		f.Errors++
	}
	f.Time += e.Duration
	s.read += e.BytesRead
	s.written += e.BytesWritten
	if e.ThreadSpawned {
		s.threads++
	}
}

// Funcs returns the per-function totals, most time first.
func (s *Stats) Funcs() []FuncStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]FuncStats, 0, len(s.funcs))
	for _, f := range s.funcs {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Time != out[j].Time {
			return out[i].Time > out[j].Time
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Summary is what Stats adds to the per-function table.
type Summary struct {
	BytesRead, BytesWritten uint64
	ThreadsCreated          int
	ProcessesCreated        int // set by the caller, who knows the process table
	PeakPages               uint32
	Wall, User, System      time.Duration
}

// Totals returns the byte and thread totals and the peak memory seen.
func (s *Stats) Totals() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Summary{BytesRead: s.read, BytesWritten: s.written, ThreadsCreated: s.threads, PeakPages: s.maxPages}
}

// WriteTable writes the table of `wazix run --stats`; sum carries the
// totals (Totals) plus the times the caller measured.
func (s *Stats) WriteTable(w io.Writer, sum Summary) {
	funcs := s.Funcs()
	fmt.Fprintf(w, "wazix stats:\n")
	fmt.Fprintf(w, "  %-28s %9s %7s %12s %10s\n", "function", "calls", "errors", "total", "per call")
	var calls, errs int
	var total time.Duration
	for _, f := range funcs {
		per := time.Duration(0)
		if f.Calls > 0 {
			per = f.Time / time.Duration(f.Calls)
		}
		fmt.Fprintf(w, "  %-28s %9d %7d %12s %10s\n", f.Name, f.Calls, f.Errors, f.Time.Round(time.Microsecond), per.Round(10*time.Nanosecond))
		calls += f.Calls
		errs += f.Errors
		total += f.Time
	}
	fmt.Fprintf(w, "  %-28s %9d %7d %12s\n", "total", calls, errs, total.Round(time.Microsecond))
	fmt.Fprintf(w, "  bytes read %d, written %d\n", sum.BytesRead, sum.BytesWritten)
	fmt.Fprintf(w, "  peak memory %d pages (%s)\n", sum.PeakPages, byteSize(uint64(sum.PeakPages)*65536))
	fmt.Fprintf(w, "  threads created %d, processes created %d\n", sum.ThreadsCreated, sum.ProcessesCreated)
	fmt.Fprintf(w, "  wall %s, cpu %s (user %s, system %s)\n", millis(sum.Wall),
		millis(sum.User+sum.System), millis(sum.User), millis(sum.System))
}

// millis writes d in whole milliseconds, always in that unit ("0ms", not
// time.Duration's "0s"), so that the line reads and parses the same.
func millis(d time.Duration) string {
	return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
}

func byteSize(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
