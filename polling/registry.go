// Package polling is the readiness registry: one host epoll instance shared by
// every fd of a guest, with one readiness record per watched object.
//
// Host fds are added to the epoll set once, edge-triggered, when the object is
// created. A single poller goroutine turns host events into ready bits on the
// object's Record and wakes the Waiters attached to it. preview1's poll_oneoff
// and WASIX's epoll_* are views over these records: they read cached bits
// (no syscall when something is ready) and attach a Waiter when nothing is.
//
// Because the host side is edge-triggered, the I/O layer reports the other
// edge: when a read or write returns EAGAIN it calls Record.Clear with the
// generation it saw before the syscall, so a wake-up that raced with the
// syscall is never lost.
package polling

import (
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Ready bits of a Record. They match Linux's EPOLL* bit values so that host
// events need no translation.
const (
	In    uint32 = unix.EPOLLIN
	Out   uint32 = unix.EPOLLOUT
	Err   uint32 = unix.EPOLLERR
	Hup   uint32 = unix.EPOLLHUP
	RdHup uint32 = unix.EPOLLRDHUP
	Pri   uint32 = unix.EPOLLPRI
)

// ErrClosed is returned by waits when the registry is closed.
var ErrClosed = errors.New("polling: registry closed")

// Registry owns one host epoll instance and the poller goroutine reading it.
type Registry struct {
	epfd   int
	wakefd int // eventfd in the epoll set; written to stop the poller

	mu      sync.Mutex
	records map[uint64]*Record
	nextID  uint64

	done     chan struct{}
	stopped  chan struct{}
	closeErr error
	once     sync.Once

	// Stats for tests and benchmarks.
	hostEvents atomic.Uint64
}

// New creates a registry and starts its poller goroutine. Close stops it.
func New() (*Registry, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	// id 0 is reserved for the wake fd.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	r := &Registry{
		epfd:    epfd,
		wakefd:  wakefd,
		records: make(map[uint64]*Record),
		nextID:  1,
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go r.poll()
	return r, nil
}

// Done is closed when the registry is closed; waits end with ErrClosed.
func (r *Registry) Done() <-chan struct{} { return r.done }

// Close stops the poller goroutine and closes the epoll instance. Watched fds
// are not closed: they belong to their objects.
func (r *Registry) Close() error {
	r.once.Do(func() {
		close(r.done)
		var one = [8]byte{1}
		unix.Write(r.wakefd, one[:])
		<-r.stopped
		r.mu.Lock()
		for _, rec := range r.records {
			rec.reg = nil
		}
		r.records = nil
		r.mu.Unlock()
		unix.Close(r.wakefd)
		r.closeErr = unix.Close(r.epfd)
	})
	return r.closeErr
}

// HostEvents reports how many host epoll events the poller has dispatched.
func (r *Registry) HostEvents() uint64 { return r.hostEvents.Load() }

// Watch adds host fd to the epoll set and returns its record. Files that
// epoll refuses (regular files, /dev/null) get an always-ready record, since
// I/O on them never blocks.
func (r *Registry) Watch(fd int) (*Record, error) {
	r.mu.Lock()
	if r.records == nil {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	id := r.nextID
	r.nextID++
	rec := &Record{id: id, fd: fd, reg: r}
	r.records[id] = rec
	r.mu.Unlock()

	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLPRI | unix.EPOLLET,
		Fd:     int32(id),
		Pad:    int32(id >> 32),
	}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.mu.Lock()
		delete(r.records, id)
		r.mu.Unlock()
		if err == unix.EPERM {
			return AlwaysReady(), nil
		}
		return nil, err
	}
	// EPOLL_CTL_ADD of a ready fd queues one event with its current state.
	// It is posted exactly once: by the poller, or by a wait that drains
	// pending events first (Drain). Posting the state here as well would be
	// a second, phantom edge for edge-triggered guests.
	return rec, nil
}

// Unwatch removes rec's fd from the epoll set. Call it before closing the fd,
// so that a reused fd number never receives a stale record's events.
// Waiters attached to rec are woken with Hup so that none sleeps on a dead fd.
func (r *Registry) Unwatch(rec *Record) {
	if rec == nil || rec.reg != r {
		return
	}
	r.mu.Lock()
	if r.records != nil {
		delete(r.records, rec.id)
		unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, rec.fd, nil)
	}
	r.mu.Unlock()
	rec.reg = nil
	rec.Post(Hup)
}

// Drain dispatches the host events that are pending right now, from the
// calling goroutine, without waiting. The poller goroutine dispatches them
// too, but a moment later: a guest that writes to a pipe and then polls its
// other end with a zero timeout must see the data, as it would on Linux.
func (r *Registry) Drain() {
	var events [64]unix.EpollEvent
	n, err := unix.EpollWait(r.epfd, events[:], 0)
	if err != nil || n <= 0 {
		return
	}
	r.dispatch(events[:n])
}

func (r *Registry) dispatch(events []unix.EpollEvent) {
	r.mu.Lock()
	for i := range events {
		id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
		if id == 0 {
			continue
		}
		if rec := r.records[id]; rec != nil {
			// Post under r.mu keeps Unwatch from racing a dispatch to a removed record.
			rec.Post(events[i].Events)
		}
	}
	r.mu.Unlock()
	r.hostEvents.Add(uint64(len(events)))
}

func (r *Registry) poll() {
	defer close(r.stopped)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(r.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		select {
		case <-r.done:
			return
		default:
		}
		r.dispatch(events[:n])
	}
}
