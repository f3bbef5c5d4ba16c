package wasix

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// WASIX epoll_type bits (not Linux's values).
const (
	wEpollIn      = 1 << 0
	wEpollOut     = 1 << 1
	wEpollRdHup   = 1 << 2
	wEpollPri     = 1 << 3
	wEpollErr     = 1 << 4
	wEpollHup     = 1 << 5
	wEpollET      = 1 << 6
	wEpollOneShot = 1 << 7
)

var epollBits = [...][2]uint32{
	{wEpollIn, sys.EpollIn}, {wEpollOut, sys.EpollOut}, {wEpollRdHup, sys.EpollRdHup},
	{wEpollPri, sys.EpollPri}, {wEpollErr, sys.EpollErr}, {wEpollHup, sys.EpollHup},
	{wEpollET, sys.EpollET}, {wEpollOneShot, sys.EpollOneShot},
}

func epollFromWASIX(w uint32) uint32 {
	var l uint32
	for _, b := range epollBits {
		if w&b[0] != 0 {
			l |= b[1]
		}
	}
	return l
}

func epollToWASIX(l uint32) uint32 {
	var w uint32
	for _, b := range epollBits {
		if l&b[1] != 0 {
			w |= b[0]
		}
	}
	return w
}

// epollEventSize is the WASIX epoll_event: events u32 @0, padding, then the
// 24-byte data (ptr u32 @8, fd u32 @12, data1 u32 @16, padding, data2 u64 @24).
const epollEventSize = 32

const rightsEpoll = sys.RightPollFdReadwrite | sys.RightFdFdstatSetFlags | sys.RightFdFilestatGet

// epollCreate is epoll_create(ret_fd: *fd) -> errno.
func epollCreate(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	resPtr := uint32(stack[0])
	if !guestmem.Writable(m.Memory(), resPtr, 4) {
		return sys.EFAULT
	}
	ep := sys.NewEpoll(h.sys.Table)
	fd, errno := h.sys.Table.Insert(&sys.Entry{File: ep, RightsBase: rightsEpoll}, 0)
	if errno != sys.ESUCCESS {
		return errno
	}
	return guestmem.PutU32(m.Memory(), resPtr, fd)
}

// epoll returns the epoll instance behind fd, or EINVAL.
func (h *host) epoll(fd uint32) (*sys.Epoll, sys.Errno) {
	e, errno := h.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return nil, errno
	}
	ep, ok := e.File.(*sys.Epoll)
	if !ok {
		return nil, sys.EINVAL
	}
	return ep, sys.ESUCCESS
}

// epollCtl is epoll_ctl(epfd, op, fd, event: *epoll_event) -> errno.
//
// Both numberings of op are accepted: WASIX's enum (0 ADD, 1 MOD, 2 DEL) and
// the Linux constants that wasix-libc passes through (1 ADD, 2 DEL, 3 MOD).
// Only 1 is ambiguous, and it adds or modifies as needed. 0 on a registered
// fd is EEXIST; 2 and 3 on an unregistered one are ENOENT. event may be null
// for DEL.
func epollCtl(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	epfd, op, fd, evPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	ep, errno := h.epoll(epfd)
	if errno != sys.ESUCCESS {
		return errno
	}
	var ctl int
	switch op {
	case 0:
		ctl = sys.EpollCtlAdd
	case 1:
		ctl = sys.EpollCtlUpsert
	case 2:
		ctl = sys.EpollCtlDel
	case 3:
		ctl = sys.EpollCtlMod
	default:
		return sys.EINVAL
	}
	var events uint32
	var data [24]byte
	if ctl != sys.EpollCtlDel {
		b, ok := m.Memory().Read(evPtr, epollEventSize)
		if !ok || evPtr == 0 {
			return sys.EFAULT
		}
		events = epollFromWASIX(guestmem.LE32(b))
		copy(data[:], b[8:32])
	}
	if fd == epfd {
		return sys.EINVAL
	}
	return ep.Ctl(ctl, fd, events, data)
}

// maxEpollEvents bounds one epoll_wait, so that a huge maxevents cannot make
// the host allocate much.
const maxEpollEvents = 4096

// epollWait is epoll_wait(epfd, events: *epoll_event, maxevents: i32,
// timeout: u64 ns, ret_nevents: *u32) -> errno. A timeout of all ones waits
// forever, 0 does not wait; a timeout returns success with 0 events.
func epollWait(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	epfd, evPtr, maxEvents, timeout, resPtr := uint32(stack[0]), uint32(stack[1]), int32(stack[2]), stack[3], uint32(stack[4])
	ep, errno := h.epoll(epfd)
	if errno != sys.ESUCCESS {
		return errno
	}
	if maxEvents <= 0 {
		return sys.EINVAL
	}
	mem := m.Memory()
	if uint64(maxEvents)*epollEventSize > uint64(mem.Size()) {
		return sys.EFAULT
	}
	buf, ok := mem.Read(evPtr, uint32(maxEvents)*epollEventSize)
	if !ok || !guestmem.Writable(mem, resPtr, 4) {
		return sys.EFAULT
	}
	var deadline time.Time
	switch {
	case timeout == ^uint64(0):
	case timeout == 0:
		deadline = time.Unix(0, 1) // in the past: do not wait
	default:
		deadline = time.Now().Add(time.Duration(min(timeout, 1<<62)))
	}
	var small [64]sys.EpollEvent
	out := small[:]
	if int(maxEvents) > len(small) {
		out = make([]sys.EpollEvent, min(int(maxEvents), maxEpollEvents))
	}
	out = out[:min(int(maxEvents), len(out))]
	n, errno := ep.Wait(ctx, h.sys.Registry, out, deadline, h.sys.InterruptRecord(), func() uint64 { return h.sys.InterruptGenOf(m) })
	if errno != sys.ESUCCESS {
		return errno
	}
	for i := 0; i < n; i++ {
		b := buf[i*epollEventSize : (i+1)*epollEventSize]
		clear(b[:8])
		guestmem.Put32(b, epollToWASIX(out[i].Events))
		copy(b[8:], out[i].Data[:])
	}
	return guestmem.PutU32(mem, resPtr, uint32(n))
}
