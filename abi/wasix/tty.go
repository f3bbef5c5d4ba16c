package wasix

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/sys"
)

// tty is the 24-byte WASIX tty record: cols u32 @0, rows @4, width px @8,
// height px @12, stdin_tty bool @16, stdout_tty @17, stderr_tty @18,
// echo @19, line_buffered @20, line_feeds @21.
const ttySize = 24

// ttyState is the terminal mode the guest asked for. When stdin is a host
// terminal the mode is applied to it (and restored when the guest ends);
// otherwise it is only remembered.
type ttyState struct {
	mu                              sync.Mutex
	echo, lineBuffered, lineFeeds   bool
	saved                           *unix.Termios // host mode before the first change
	restoreRegistered, initFromHost bool
}

// hostTTY returns the host fd behind guest fd if it is a terminal.
func (h *host) hostTTY(fd uint32) (int, bool) {
	e, errno := h.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return -1, false
	}
	hf, ok := e.File.(*sys.HostFile)
	if !ok {
		return -1, false
	}
	if _, err := unix.IoctlGetTermios(hf.Fd(), unix.TCGETS); err != nil {
		return -1, false
	}
	return hf.Fd(), true
}

// ttyGet is tty_get(ret_state: *tty) -> errno. Sizes and modes come from the
// host terminal when stdio is one; otherwise 80x25 with echo, line buffering
// and line feeds on (Wasmer's defaults).
func ttyGet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	b, ok := m.Memory().Read(uint32(stack[0]), ttySize)
	if !ok {
		return sys.EFAULT
	}
	t := &h.proc.tty
	t.mu.Lock()
	defer t.mu.Unlock()
	cols, rows, width, height := uint32(80), uint32(25), uint32(800), uint32(600)
	var isTTY [3]bool
	for fd := range isTTY {
		hfd, ok := h.hostTTY(uint32(fd))
		isTTY[fd] = ok
		if ok {
			if ws, err := unix.IoctlGetWinsize(hfd, unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
				cols, rows, width, height = uint32(ws.Col), uint32(ws.Row), uint32(ws.Xpixel), uint32(ws.Ypixel)
			}
		}
	}
	if !t.initFromHost {
		t.initFromHost = true
		t.echo, t.lineBuffered, t.lineFeeds = true, true, true
		if fd, ok := h.hostTTY(0); ok {
			if tio, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
				t.echo = tio.Lflag&unix.ECHO != 0
				t.lineBuffered = tio.Lflag&unix.ICANON != 0
				t.lineFeeds = tio.Oflag&unix.ONLCR != 0
			}
		}
	}
	clear(b)
	put32 := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	put32(0, cols)
	put32(4, rows)
	put32(8, width)
	put32(12, height)
	for i, v := range []bool{isTTY[0], isTTY[1], isTTY[2], t.echo, t.lineBuffered, t.lineFeeds} {
		if v {
			b[16+i] = 1
		}
	}
	return sys.ESUCCESS
}

// ttySet is tty_set(state: *tty) -> errno: sets echo, line buffering and
// line feeds; sizes and the *_tty flags are read-only.
func ttySet(h *host, _ context.Context, m api.Module, stack []uint64) sys.Errno {
	b, ok := m.Memory().Read(uint32(stack[0]), ttySize)
	if !ok {
		return sys.EFAULT
	}
	t := &h.proc.tty
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initFromHost = true
	t.echo, t.lineBuffered, t.lineFeeds = b[19] != 0, b[20] != 0, b[21] != 0
	fd, ok := h.hostTTY(0)
	if !ok {
		return sys.ESUCCESS
	}
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return sys.ErrnoOf(err)
	}
	if t.saved == nil {
		saved := *tio
		t.saved = &saved
		h.sys.OnClose(func() { unix.IoctlSetTermios(fd, unix.TCSETS, &saved) })
	}
	setFlag := func(flags *uint32, bit uint32, on bool) {
		if on {
			*flags |= bit
		} else {
			*flags &^= bit
		}
	}
	setFlag(&tio.Lflag, unix.ECHO, t.echo)
	setFlag(&tio.Lflag, unix.ICANON, t.lineBuffered)
	setFlag(&tio.Oflag, unix.ONLCR, t.lineFeeds)
	return sys.ErrnoOf(unix.IoctlSetTermios(fd, unix.TCSETS, tio))
}
