package sys

import (
	"sync"
)

// Entry is one slot of the fd table: an object plus what this fd may do
// with it.
type Entry struct {
	File             File
	Flags            Fdflags // guest-visible fdflags (APPEND, NONBLOCK, ...)
	RightsBase       Rights
	RightsInheriting Rights
	// Preopen is the guest path of a preopened directory, "" otherwise.
	Preopen string
	// CloseOnExec is WASIX's fdflagsext CLOEXEC.
	CloseOnExec bool
	// Ceiling caps the rights path_open grants unasked to what is opened
	// through this fd (see wasi_p1.OpenPath): the rights of the preopen it
	// descends from, less what the guest dropped on the way with
	// fd_fdstat_set_rights. 0 means RightsBase|RightsInheriting (a preopen).
	Ceiling Rights
}

// Can reports whether the entry holds all of rights.
func (e *Entry) Can(rights Rights) bool { return e.RightsBase&rights == rights }

// RightsCeiling returns Ceiling, or RightsBase|RightsInheriting when unset.
func (e *Entry) RightsCeiling() Rights {
	if e.Ceiling != 0 {
		return e.Ceiling
	}
	return e.RightsBase | e.RightsInheriting
}

// Nonblock reports the guest's NONBLOCK flag.
func (e *Entry) Nonblock() bool { return e.Flags&FdflagNonblock != 0 }

// DefaultMaxFds is the default limit on open guest fds.
const DefaultMaxFds = 1 << 16

// Table maps guest fd numbers to entries. It is shared by every ABI and
// every guest thread, so all methods are safe for concurrent use.
type Table struct {
	mu      sync.RWMutex
	entries []*Entry
	refs    map[File]int // fds per object, so dup'ed fds share one object
	max     int
	// free is a lower bound of the lowest free fd, so that opening a fd does
	// not scan the whole table.
	free int
}

// NewTable returns an empty table that holds at most max fds.
func NewTable(max int) *Table {
	if max <= 0 {
		max = DefaultMaxFds
	}
	return &Table{max: max, refs: map[File]int{}}
}

// Get returns the entry of fd, or EBADF.
func (t *Table) Get(fd uint32) (*Entry, Errno) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if uint64(fd) >= uint64(len(t.entries)) || t.entries[fd] == nil {
		return nil, EBADF
	}
	return t.entries[fd], ESUCCESS
}

// Insert puts e at the lowest free fd number at or above min.
func (t *Table) Insert(e *Entry, min uint32) (uint32, Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	start := int(min)
	if start < t.free {
		start = t.free
	}
	for i := start; i < len(t.entries); i++ {
		if t.entries[i] == nil {
			t.entries[i] = e
			t.refs[e.File]++
			if int(min) <= t.free {
				t.free = i + 1
			}
			return uint32(i), ESUCCESS
		}
	}
	n := len(t.entries)
	if n < int(min) {
		n = int(min)
	}
	if n >= t.max {
		return 0, EMFILE
	}
	for len(t.entries) <= n {
		t.entries = append(t.entries, nil)
	}
	t.entries[n] = e
	t.refs[e.File]++
	if int(min) <= t.free {
		t.free = n + 1 // every slot below n was scanned and is in use
	}
	return uint32(n), ESUCCESS
}

// Set puts e at fd; what was at fd is closed unless another fd shares it.
func (t *Table) Set(fd uint32, e *Entry) Errno {
	t.mu.Lock()
	if int64(fd) >= int64(t.max) {
		t.mu.Unlock()
		return EBADF
	}
	for uint32(len(t.entries)) <= fd {
		t.entries = append(t.entries, nil)
	}
	old := t.entries[fd]
	t.entries[fd] = e
	t.refs[e.File]++
	closeOld := old != nil && t.unref(old.File)
	t.mu.Unlock()
	if closeOld {
		old.File.Close()
	}
	return ESUCCESS
}

// unref drops one reference to f and reports whether it was the last.
func (t *Table) unref(f File) bool {
	t.refs[f]--
	if t.refs[f] <= 0 {
		delete(t.refs, f)
		return true
	}
	return false
}

// remove takes fd out of the table; last reports whether no other fd
// refers to its object.
func (t *Table) remove(fd uint32) (e *Entry, last bool, errno Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uint64(fd) >= uint64(len(t.entries)) || t.entries[fd] == nil {
		return nil, false, EBADF
	}
	e = t.entries[fd]
	t.entries[fd] = nil
	if int(fd) < t.free {
		t.free = int(fd)
	}
	for len(t.entries) > 0 && t.entries[len(t.entries)-1] == nil {
		t.entries = t.entries[:len(t.entries)-1]
	}
	return e, t.unref(e.File), ESUCCESS
}

// Renumber moves the entry at from to to, closing what was at to.
func (t *Table) Renumber(from, to uint32) Errno {
	t.mu.Lock()
	if uint64(from) >= uint64(len(t.entries)) || t.entries[from] == nil ||
		uint64(to) >= uint64(len(t.entries)) || t.entries[to] == nil {
		t.mu.Unlock()
		return EBADF
	}
	if from == to {
		t.mu.Unlock()
		return ESUCCESS
	}
	old := t.entries[to]
	t.entries[to] = t.entries[from]
	t.entries[from] = nil
	if int(from) < t.free {
		t.free = int(from)
	}
	for len(t.entries) > 0 && t.entries[len(t.entries)-1] == nil {
		t.entries = t.entries[:len(t.entries)-1]
	}
	closeOld := t.unref(old.File)
	t.mu.Unlock()
	if closeOld {
		old.File.Close()
	}
	return ESUCCESS
}

// Hold counts a reference to f that is not a fd (a fd in flight in a socket
// message, see SCM_RIGHTS in abi/wasix), so that closing f's fds leaves it
// open. Release drops it.
func (t *Table) Hold(f File) {
	t.mu.Lock()
	t.refs[f]++
	t.mu.Unlock()
}

// Release drops a Hold; f is closed when nothing refers to it any more.
func (t *Table) Release(f File) {
	t.mu.Lock()
	last := t.unref(f)
	t.mu.Unlock()
	if last {
		f.Close()
	}
}

// Close removes fd and closes its object once no fd refers to it.
func (t *Table) Close(fd uint32) Errno {
	e, last, errno := t.remove(fd)
	if errno != ESUCCESS {
		return errno
	}
	if last {
		return ErrnoOf(e.File.Close())
	}
	return ESUCCESS
}

// CloseAll closes every fd; used when the guest ends.
func (t *Table) CloseAll() {
	t.mu.Lock()
	ents := t.entries
	t.entries = nil
	t.free = 0
	t.refs = map[File]int{}
	t.mu.Unlock()
	seen := map[File]bool{}
	for _, e := range ents {
		if e != nil && !seen[e.File] {
			seen[e.File] = true
			e.File.Close()
		}
	}
}

// Len returns one past the highest fd in use.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}
