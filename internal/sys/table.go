package sys

import (
	"sync"
	"sync/atomic"
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
	// mu serializes the writers and guards entries, the writers' view.
	mu      sync.RWMutex
	entries []*Entry
	// slots mirrors entries for Get, which reads it without a lock: every
	// host call that takes a fd starts with a Get, and the read lock's two
	// atomic adds on a shared word were a few percent of a one-byte write.
	// Writers store into it under mu (put); growing it publishes a new
	// array, so a Get sees either array, each as it was or newer.
	slots atomic.Pointer[[]atomic.Pointer[Entry]]
	refs  *fileRefs // fds per object, so dup'ed fds share one object
	max   int
	// free is a lower bound of the lowest free fd, so that opening a fd does
	// not scan the whole table.
	free int
}

// NewTable returns an empty table that holds at most max fds.
func NewTable(max int) *Table {
	if max <= 0 {
		max = DefaultMaxFds
	}
	return &Table{max: max, refs: &fileRefs{n: map[File]int{}}}
}

// fileRefs counts the fds that refer to each object, over every table that
// shares it: a forked process's table refers to the same objects (open file
// descriptions) as its parent's, and an object is closed when the last fd
// of any of them is.
type fileRefs struct {
	mu sync.Mutex
	n  map[File]int
}

func (r *fileRefs) inc(f File) {
	r.mu.Lock()
	r.n[f]++
	r.mu.Unlock()
}

// dec drops one reference to f and reports whether it was the last.
func (r *fileRefs) dec(f File) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[f]--
	if r.n[f] <= 0 {
		delete(r.n, f)
		return true
	}
	return false
}

// Clone returns a table with the same fds referring to the same objects,
// as fork(2) copies a process's descriptors; each entry is copied, so flags
// and rights change independently. With exec, fds marked CloseOnExec are
// left out.
func (t *Table) Clone(exec bool) *Table {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := &Table{max: t.max, refs: t.refs, entries: make([]*Entry, len(t.entries))}
	for i, e := range t.entries {
		if e == nil || exec && e.CloseOnExec {
			continue
		}
		ne := *e
		c.put(i, &ne)
		t.refs.inc(e.File)
	}
	for len(c.entries) > 0 && c.entries[len(c.entries)-1] == nil {
		c.entries = c.entries[:len(c.entries)-1]
	}
	return c
}

// Get returns the entry of fd, or EBADF.
func (t *Table) Get(fd uint32) (*Entry, Errno) {
	if sl := t.slots.Load(); sl != nil && uint64(fd) < uint64(len(*sl)) {
		if e := (*sl)[fd].Load(); e != nil {
			return e, ESUCCESS
		}
	}
	return nil, EBADF
}

// put sets entries[fd] (which must exist) and its mirror in slots; t.mu is
// held for writing.
func (t *Table) put(fd int, e *Entry) {
	t.entries[fd] = e
	sl := t.slots.Load()
	if sl == nil || fd >= len(*sl) {
		if e == nil {
			return // beyond the mirror: nil already
		}
		n := 2 * fd
		if n < 16 {
			n = 16
		}
		grown := make([]atomic.Pointer[Entry], n)
		if sl != nil {
			for i := range *sl {
				grown[i].Store((*sl)[i].Load())
			}
		}
		sl = &grown
		t.slots.Store(sl)
	}
	(*sl)[fd].Store(e)
}

// Update changes the entry of fd through change, which gets a copy: the
// copy replaces the entry unless change fails. Entries are never written
// in place, so a thread that got one with Get reads it without a lock
// while another changes the fd's flags (fd_fdstat_set_flags, fcntl).
func (t *Table) Update(fd uint32, change func(e *Entry) Errno) Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uint64(fd) >= uint64(len(t.entries)) || t.entries[fd] == nil {
		return EBADF
	}
	ne := *t.entries[fd]
	if errno := change(&ne); errno != ESUCCESS {
		return errno
	}
	t.put(int(fd), &ne)
	return ESUCCESS
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
			t.put(i, e)
			t.refs.inc(e.File)
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
	t.put(n, e)
	t.refs.inc(e.File)
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
	t.put(int(fd), e)
	t.refs.inc(e.File)
	closeOld := old != nil && t.unref(old.File)
	t.mu.Unlock()
	if closeOld {
		old.File.Close()
	}
	return ESUCCESS
}

// unref drops one reference to f and reports whether it was the last.
func (t *Table) unref(f File) bool { return t.refs.dec(f) }

// remove takes fd out of the table; last reports whether no other fd
// refers to its object.
func (t *Table) remove(fd uint32) (e *Entry, last bool, errno Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uint64(fd) >= uint64(len(t.entries)) || t.entries[fd] == nil {
		return nil, false, EBADF
	}
	e = t.entries[fd]
	t.put(int(fd), nil)
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
	t.put(int(to), t.entries[from])
	t.put(int(from), nil)
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
func (t *Table) Hold(f File) { t.refs.inc(f) }

// SharesRefs reports whether t and o count references together (one
// process tree: forks share their objects), so that an object held through
// one may get a fd in the other.
func (t *Table) SharesRefs(o *Table) bool { return t.refs == o.refs }

// Release drops a Hold; f is closed when nothing refers to it any more.
func (t *Table) Release(f File) {
	if t.unref(f) {
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
	t.slots.Store(nil)
	t.free = 0
	t.mu.Unlock()
	for _, e := range ents {
		if e != nil && t.refs.dec(e.File) {
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

// CloseOnExec closes the fds marked close-on-exec, as an exec does.
func (t *Table) CloseOnExec() {
	t.mu.Lock()
	var closing []File
	for i, e := range t.entries {
		if e != nil && e.CloseOnExec {
			t.put(i, nil)
			if i < t.free {
				t.free = i
			}
			if t.unref(e.File) {
				closing = append(closing, e.File)
			}
		}
	}
	for len(t.entries) > 0 && t.entries[len(t.entries)-1] == nil {
		t.entries = t.entries[:len(t.entries)-1]
	}
	t.mu.Unlock()
	for _, f := range closing {
		f.Close()
	}
}
