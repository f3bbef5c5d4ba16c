// Package polling is the readiness registry: one host epoll instance shared by
// every fd of a guest, with one readiness record per watched object.
//
// Host fds are added to the epoll set once, edge-triggered, when the object is
// created. A single poller goroutine turns host events into ready bits on the
// object's Record and wakes the Waiters attached to it, while some Waiter
// sleeps; otherwise the guest's own calls collect the events when they need
// them (Drain before a wait, PollNow while spinning). preview1's poll_oneoff
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
	"os"
	"sync"
	"sync/atomic"
	"syscall"

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
// The epoll instance is made by the first Watch, the poller when the first
// fd enters the epoll set: a guest whose fds are all files or /dev/null (a
// compute job, a short tool) costs no poller at start-up nor at exit.
type Registry struct {
	epfd   int
	wakefd int // eventfd in the epoll set; written to stop the poller

	mu      sync.Mutex
	records map[uint64]*Record
	nextID  uint64
	// started is set (under mu) once the poller runs, which is once a
	// host fd is in the epoll set; read without mu by PollNow, which has
	// nothing to collect before.
	started atomic.Bool
	closing bool // set under mu by Close: no start after it

	// harvest is held while events are taken from the host epoll and
	// posted to their records, so that a Drain that finds nothing pending
	// knows that everything harvested before it has been posted: without
	// it a wait could look at the records between the poller's epoll_wait
	// and its posts, and miss an event that has already happened.
	harvest sync.Mutex

	done     chan struct{}
	stopped  chan struct{}
	closeErr error
	once     sync.Once

	// sleepers counts Waiters asleep on this registry. The poller
	// goroutine harvests host events only while it is above zero; with no
	// guest thread asleep, events stay queued in the host epoll instance
	// until a guest call drains them (Drain, PollNow) or a waiter goes to
	// sleep. A busy server then costs no poller wake-up per socket edge.
	sleepers atomic.Int32
	// arm is signalled when sleepers leaves zero, to start the poller.
	arm chan struct{}

	// Stats for tests and benchmarks.
	hostEvents atomic.Uint64
}

// New creates a registry. Its epoll instance and poller goroutine are
// made when the first host fd is watched; Close stops them.
func New() (*Registry, error) {
	return &Registry{
		epfd:    -1,
		wakefd:  -1,
		records: make(map[uint64]*Record),
		nextID:  1,
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		arm:     make(chan struct{}, 1),
	}, nil
}

// startLocked starts the poller with its wake fd; r.mu is held and the
// epoll instance exists.
func (r *Registry) startLocked() error {
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	// id 0 is reserved for the wake fd.
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		return err
	}
	r.wakefd = wakefd
	r.started.Store(true)
	go r.poll()
	return nil
}

// Done is closed when the registry is closed; waits end with ErrClosed.
func (r *Registry) Done() <-chan struct{} { return r.done }

// Close stops the poller goroutine and closes the epoll instance. Watched fds
// are not closed: they belong to their objects.
func (r *Registry) Close() error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closing = true
		started, epfd := r.started.Load(), r.epfd
		r.mu.Unlock()
		close(r.done)
		if started {
			var one = [8]byte{1}
			unix.Write(r.wakefd, one[:])
			<-r.stopped
		}
		r.mu.Lock()
		for _, rec := range r.records {
			rec.reg = nil
		}
		r.records = nil
		r.mu.Unlock()
		if started {
			unix.Close(r.wakefd)
		}
		if epfd >= 0 {
			r.closeErr = unix.Close(epfd)
		}
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
	if r.records == nil || r.closing {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if r.epfd < 0 {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		r.epfd = epfd
	}
	epfd := r.epfd
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
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.mu.Lock()
		delete(r.records, id)
		r.mu.Unlock()
		if err == unix.EPERM {
			return AlwaysReady(), nil
		}
		return nil, err
	}
	r.mu.Lock()
	if !r.started.Load() && !r.closing {
		if err := r.startLocked(); err != nil {
			delete(r.records, id)
			r.mu.Unlock()
			unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, fd, nil)
			return nil, err
		}
	}
	r.mu.Unlock()
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
		if r.epfd >= 0 {
			unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, rec.fd, nil)
		}
	}
	r.mu.Unlock()
	rec.reg = nil
	rec.Post(Hup)
}

// poll dispatches host events until the registry closes. It waits in Go's
// own netpoller (the epoll fd is itself pollable): a guest thread that
// blocks then leaves its OS thread idle in the runtime's netpoll, and the
// kernel wakes that same thread for the event, which dispatches it and runs
// the woken guest goroutine, with no hand-off between threads. If the epoll
// fd cannot be added to the netpoller, a goroutine blocks in epoll_wait.
func (r *Registry) poll() {
	defer close(r.stopped)
	if dup, err := unix.FcntlInt(uintptr(r.epfd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		if unix.SetNonblock(dup, true) == nil {
			f := os.NewFile(uintptr(dup), "wazix-epoll")
			if rc, err := f.SyscallConn(); err == nil && r.pollNetpoller(rc) {
				f.Close()
				return
			}
			f.Close()
		} else {
			unix.Close(dup)
		}
	}
	r.pollBlocking()
}

// pollNetpoller is poll's loop on the Go netpoller; it returns false if the
// netpoller cannot wait for the epoll fd. It harvests only while a waiter
// sleeps (see sleepers): otherwise it waits for arm, out of the netpoller,
// so that no thread is woken by the host events of a guest that is running
// and will collect them itself.
func (r *Registry) pollNetpoller(rc syscall.RawConn) bool {
	events := make([]unix.EpollEvent, 256)
	for {
		if r.sleepers.Load() == 0 {
			select {
			case <-r.arm:
			case <-r.done:
				return true
			}
			continue
		}
		err := rc.Read(func(uintptr) bool {
			for {
				r.harvest.Lock()
				n, err := unix.EpollWait(r.epfd, events, 0)
				if err == nil && n > 0 {
					r.dispatch(events[:n])
				}
				r.harvest.Unlock()
				if err == unix.EINTR || err == nil && n == len(events) {
					continue // more may be pending, and they raise no new edge
				}
				select {
				case <-r.done:
					return true
				default:
				}
				if err != nil {
					return false
				}
				// Everything pending has been posted. Wait for the next
				// edge while someone sleeps; go idle otherwise.
				return r.sleepers.Load() == 0
			}
		})
		select {
		case <-r.done:
			return true
		default:
		}
		if err != nil {
			return false
		}
	}
}

// sleep and wake bracket a Waiter's sleep; the first sleeper starts the
// poller, which first harvests what is pending (rc.Read runs its function
// before it waits), so an event that arrived before sleep is not missed.
func (r *Registry) sleep() {
	if r.sleepers.Add(1) == 1 {
		select {
		case r.arm <- struct{}{}:
		default:
		}
	}
}

func (r *Registry) wake() { r.sleepers.Add(-1) }

// pollBlocking is poll's loop on a goroutine blocked in epoll_wait. It
// cannot hold harvest while it blocks, so in this fallback a Drain can miss
// an event that is being posted (it arrives a moment later).
func (r *Registry) pollBlocking() {
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

// dispatch posts host events to their records.
func (r *Registry) dispatch(events []unix.EpollEvent) {
	r.mu.Lock()
	for i := range events {
		id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
		if id == 0 {
			continue
		}
		rec := r.records[id]
		if rec == nil {
			continue
		}
		// Post under r.mu keeps Unwatch from racing a dispatch to a removed record.
		rec.Post(events[i].Events)
	}
	r.mu.Unlock()
	r.hostEvents.Add(uint64(len(events)))
}

// Quiet runs fn while no host event is being posted: events harvested
// before it are posted, events harvested after it reflect the state after
// fn. An object that reads its own state from the host in fn (poll(2)) can
// then set its record without an older event overwriting it afterwards.
func (r *Registry) Quiet(fn func()) {
	r.harvest.Lock()
	defer r.harvest.Unlock()
	fn()
}

// Drain dispatches the host events that are pending right now, from the
// calling goroutine, without waiting: a guest that writes to a pipe and then
// polls its other end with a zero timeout must see the data, as on Linux.
func (r *Registry) Drain() { r.PollNow() }

// PollNow collects the host events that are pending now, on the calling
// thread, without waiting, and posts them; it reports how many there were.
// A guest thread about to sleep calls it so that an event that has
// arrived, but that the poller goroutine has not dispatched yet, wakes it
// without a hand-off between threads.
func (r *Registry) PollNow() int {
	var events [64]unix.EpollEvent
	if !r.started.Load() {
		return 0 // no host fd watched yet: nothing to collect
	}
	select {
	case <-r.done:
		return 0
	default:
	}
	r.harvest.Lock()
	defer r.harvest.Unlock()
	n, err := unix.EpollWait(r.epfd, events[:], 0)
	if err != nil || n <= 0 {
		return 0
	}
	r.dispatch(events[:n])
	return n
}
