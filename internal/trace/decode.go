package trace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

	"github.com/wazix/wazix/internal/sys"
)

// call is one traced call being decoded.
type call struct {
	t       *Tracer
	m       api.Module
	mem     api.Memory
	module  string
	args    []uint64 // the parameters, saved before the call
	results []uint64 // the raw results, after the call
	ev      *Event   // after the call
	saved   string   // what a before hook kept for its after hook
}

// safe runs a decoder; a decoder never stops the guest, even if it has a
// bug: it reads memory only through bounds-checked reads, and a panic is
// shown as "(decoder failed)".
func (c *call) safe(f func(*call) string) (s string) {
	defer func() {
		if recover() != nil {
			s = "(decoder failed)"
		}
	}()
	return f(c)
}

// ok reports whether the call succeeded (out-values were written).
func (c *call) ok() bool { return c.ev != nil && (!c.ev.HasErrno || c.ev.Errno == 0) }

func (c *call) read(ptr, n uint32) ([]byte, bool) {
	if c.mem == nil {
		return nil, false
	}
	return c.mem.Read(ptr, n)
}

func (c *call) u32At(ptr uint32) (uint32, bool) {
	b, ok := c.read(ptr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

func (c *call) u64At(ptr uint32) (uint64, bool) {
	b, ok := c.read(ptr, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// field is one named parameter of a function: kind says how many stack
// slots it takes and how it is shown.
type field struct {
	name string
	kind *kind
	out  bool // an out-pointer, shown after the call
}

// kind decodes one parameter from its stack slots (v). pre shows an input
// before the call; post shows an out-value after a successful call.
type kind struct {
	slots int
	both  bool // shown before and after the call (poll_oneoff's subscriptions, events)
	// postName names the value shown after the call, if not the field's name.
	postName string
	pre      func(c *call, v []uint64) string
	post     func(c *call, v []uint64) string
}

// decoder decodes the arguments and results of one function.
type decoder struct {
	pre  func(*call) string
	post func(*call) string
}

// decoderFor returns the decoder of module.name with nparams parameters:
// from its spec when one matches the signature, else the raw arguments.
func decoderFor(module, name string, nparams int) decoder {
	if module == "wasi" {
		return decoder{pre: func(c *call) string { return "start_arg=" + hex(c.args[0]) }, post: spawnResult}
	}
	spec, ok := specs()[name+"/"+strconv.Itoa(nparams)] // a form with another arity
	if !ok {
		spec, ok = specs()[name]
	}
	if ok {
		if fields := parseSpec(spec); slots(fields) == nparams {
			before, after := hooks()[name].before, hooks()[name].after
			return decoder{
				pre: func(c *call) string {
					if before != nil {
						before(c)
					}
					return c.fields(fields, false)
				},
				post: func(c *call) string {
					if after != nil && c.ok() {
						after(c)
					}
					return c.fields(fields, true)
				},
			}
		}
	}
	return decoder{pre: rawArgs, post: func(*call) string { return "" }}
}

// rawArgs shows the arguments of a function without a decoder in hex.
func rawArgs(c *call) string {
	parts := make([]string, len(c.args))
	for i, a := range c.args {
		parts[i] = hex(a)
	}
	return strings.Join(parts, ", ")
}

// spawnResult is wasi.thread-spawn's: a tid, or a negated errno.
func spawnResult(c *call) string {
	if len(c.results) == 0 {
		return ""
	}
	r := int32(c.results[0])
	if r < 0 {
		return ErrnoName(uint16(-r))
	}
	c.ev.ThreadSpawned = true
	return "tid=" + strconv.Itoa(int(r))
}

func slots(fields []field) int {
	n := 0
	for _, f := range fields {
		n += f.kind.slots
	}
	return n
}

// fields shows the inputs (post false) or the out-values (post true).
func (c *call) fields(fields []field, post bool) string {
	var b strings.Builder
	i := 0
	for _, f := range fields {
		v := c.args[i : i+f.kind.slots]
		i += f.kind.slots
		var s string
		switch {
		case !post && !f.out && f.kind.pre != nil:
			s = f.kind.pre(c, v)
		case post && f.kind.post != nil && (f.out || f.kind.both) && c.ok():
			s = f.kind.post(c, v)
		}
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		name := f.name
		if post && f.kind.postName != "" {
			name = f.kind.postName
		}
		b.WriteString(name + "=" + s)
	}
	return b.String()
}

// parseSpec parses "name:kind,>name:kind" (">" marks an out-pointer).
func parseSpec(spec string) []field {
	if spec == "" {
		return nil
	}
	var out []field
	for _, part := range strings.Split(spec, ",") {
		f := field{}
		if strings.HasPrefix(part, ">") {
			f.out = true
			part = part[1:]
		}
		name, k, _ := strings.Cut(part, ":")
		f.name = name
		f.kind = kinds()[k]
		if f.kind == nil {
			panic("trace: unknown kind " + k)
		}
		out = append(out, f)
	}
	return out
}

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

func one(f func(c *call, v uint64) string) func(*call, []uint64) string {
	return func(c *call, v []uint64) string { return f(c, v[0]) }
}

// out reads a value through an out-pointer after the call.
func outU32(f func(c *call, v uint32) string) *kind {
	return &kind{slots: 1, post: func(c *call, v []uint64) string {
		x, ok := c.u32At(uint32(v[0]))
		if !ok {
			return "?"
		}
		return f(c, x)
	}}
}

// kinds are the argument kinds of specs, built on first use (only a traced
// guest needs them).
var kinds = sync.OnceValue(func() map[string]*kind {
	u32 := func(_ *call, v uint64) string { return strconv.FormatUint(uint64(uint32(v)), 10) }
	return map[string]*kind{
		"u32":      {slots: 1, pre: one(u32)},
		"u64":      {slots: 1, pre: one(func(_ *call, v uint64) string { return strconv.FormatUint(v, 10) })},
		"i64":      {slots: 1, pre: one(func(_ *call, v uint64) string { return strconv.FormatInt(int64(v), 10) })},
		"ptr":      {slots: 1, pre: one(func(_ *call, v uint64) string { return hex(uint64(uint32(v))) })},
		"ns":       {slots: 1, pre: one(func(_ *call, v uint64) string { return nsString(v) })},
		"fd":       {slots: 1, pre: one(func(c *call, v uint64) string { return c.t.describeFd(uint32(v)) })},
		"path":     {slots: 2, pre: func(c *call, v []uint64) string { return c.str(v) }},
		"buf":      {slots: 2, pre: func(c *call, v []uint64) string { return fmt.Sprintf("%dB", uint32(v[1])) }},
		"iovs":     {slots: 2, pre: func(c *call, v []uint64) string { return c.iovs(v, false) }},
		"ciovs":    {slots: 2, pre: func(c *call, v []uint64) string { return c.iovs(v, true) }},
		"lookup":   {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint32(v)), lookupNames) })},
		"cloexec":  {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint16(v)), fdflagextNames) })},
		"oflags":   {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint16(v)), oflagNames) })},
		"fdflags":  {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint16(v)), fdflagNames) })},
		"fstflags": {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint16(v)), fstflagNames) })},
		"riflags":  {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint16(v)), riflagNames) })},
		"sdflags":  {slots: 1, pre: one(func(_ *call, v uint64) string { return flagNames(uint64(uint8(v)), sdflagNames) })},
		"rights":   {slots: 1, pre: one(func(_ *call, v uint64) string { return rightsString(v) })},
		"clock":    {slots: 1, pre: one(func(_ *call, v uint64) string { return enumName(uint64(uint32(v)), clockNames) })},
		"signal":   {slots: 1, pre: one(func(_ *call, v uint64) string { return enumName(uint64(uint8(v)), signalNames) })},
		"advice":   {slots: 1, pre: one(func(_ *call, v uint64) string { return enumName(uint64(uint8(v)), adviceNames) })},
		"af":       {slots: 1, pre: one(func(_ *call, v uint64) string { return enumName(uint64(uint32(v)), afNames) })},
		"whence": {slots: 1, pre: one(func(c *call, v uint64) string {
			if c.module == "wasi_unstable" {
				return enumName(uint64(uint8(v)), whenceUnstableNames)
			}
			return enumName(uint64(uint8(v)), whenceNames)
		})},
		"socktype": {slots: 1, pre: one(func(_ *call, v uint64) string {
			s := enumName(uint64(uint32(v)&0xff), sockKindNames)
			if f := uint64(uint32(v) &^ 0xff); f != 0 {
				s += "|" + flagNames(f, sockTypeNames)
			}
			return s
		})},
		"epollop": {slots: 1, pre: one(func(_ *call, v uint64) string {
			// Both numberings reach the host (see abi/wasix epoll_ctl).
			return enumName(uint64(uint32(v)), []string{"ADD", "MOD|ADD", "DEL", "MOD"})
		})},
		"epev": {slots: 1, pre: one(func(c *call, v uint64) string {
			if uint32(v) == 0 {
				return "NULL"
			}
			b, ok := c.read(uint32(v), 32)
			if !ok {
				return "?" + hex(v)
			}
			return fmt.Sprintf("{%s data.fd=%d}", flagNames(uint64(binary.LittleEndian.Uint32(b)), epollNames), binary.LittleEndian.Uint32(b[12:]))
		})},
		"addr": {slots: 1,
			pre: one(func(c *call, v uint64) string { return c.addrPort(uint32(v), false) }),
			post: func(c *call, v []uint64) string {
				return c.addrPort(uint32(v[0]), true)
			}},
		"optts": {slots: 1, pre: one(func(c *call, v uint64) string {
			b, ok := c.read(uint32(v), 16)
			if !ok {
				return "?" + hex(v)
			}
			if b[0] == 0 {
				return "none"
			}
			return nsString(binary.LittleEndian.Uint64(b[8:]))
		})},
		"newfd": outU32(func(c *call, v uint32) string { return c.t.describeFd(v) }),
		"ou32":  outU32(func(_ *call, v uint32) string { return strconv.FormatUint(uint64(v), 10) }),
		"ou16": {slots: 1, post: func(c *call, v []uint64) string {
			b, ok := c.read(uint32(v[0]), 2)
			if !ok {
				return "?"
			}
			return strconv.Itoa(int(binary.LittleEndian.Uint16(b)))
		}},
		"ou8": {slots: 1, post: func(c *call, v []uint64) string {
			b, ok := c.read(uint32(v[0]), 1)
			if !ok {
				return "?"
			}
			return strconv.Itoa(int(b[0]))
		}},
		"ou64": {slots: 1, post: func(c *call, v []uint64) string {
			x, ok := c.u64At(uint32(v[0]))
			if !ok {
				return "?"
			}
			return strconv.FormatUint(x, 10)
		}},
		"nread": outU32(func(c *call, v uint32) string {
			c.ev.BytesRead = uint64(v)
			return strconv.FormatUint(uint64(v), 10)
		}),
		"nwritten": outU32(func(c *call, v uint32) string {
			c.ev.BytesWritten = uint64(v)
			return strconv.FormatUint(uint64(v), 10)
		}),
		"tid": outU32(func(c *call, v uint32) string {
			c.ev.ThreadSpawned = true
			return strconv.FormatUint(uint64(v), 10)
		}),
		"filestat": {slots: 1, post: func(c *call, v []uint64) string {
			b, ok := c.read(uint32(v[0]), 40)
			if !ok {
				return "?"
			}
			// filetype @16, size @32 in preview1; wasi_unstable's nlink is
			// 4 bytes, so its size is @24.
			size := binary.LittleEndian.Uint64(b[32:])
			if c.module == "wasi_unstable" {
				size = binary.LittleEndian.Uint64(b[24:])
			}
			return fmt.Sprintf("{%s size=%d}", enumName(uint64(b[16]), filetypeNames), size)
		}},
		"fdstat": {slots: 1, post: func(c *call, v []uint64) string {
			b, ok := c.read(uint32(v[0]), 24)
			if !ok {
				return "?"
			}
			return fmt.Sprintf("{%s flags=%s}", enumName(uint64(b[0]), filetypeNames), flagNames(uint64(binary.LittleEndian.Uint16(b[2:])), fdflagNames))
		}},
		"subs": {slots: 4, both: true, postName: "events",
			pre:  func(c *call, v []uint64) string { return c.subscriptions(v) },
			post: func(c *call, v []uint64) string { return c.events(v) }},
		"epout": {slots: 1, post: func(c *call, v []uint64) string { return c.epollEvents(uint32(v[0])) }},
		// getcwd(buf, *len): after the call, the directory (len bytes).
		"cwd": {slots: 2, post: func(c *call, v []uint64) string {
			n, ok := c.u32At(uint32(v[1]))
			if !ok {
				return "?"
			}
			if uint32(v[0]) == 0 {
				return fmt.Sprintf("(length %d)", n)
			}
			return c.str([]uint64{v[0], uint64(n)})
		}},
		// proc_join's option_pid {tag u8, pid u32 at 4}: the child asked
		// for (NONE: any), and after the call the one that was joined.
		"optpid": {slots: 1, both: true, postName: "child",
			pre:  one(func(c *call, v uint64) string { return c.optPid(uint32(v)) }),
			post: func(c *call, v []uint64) string { return c.optPid(uint32(v[0])) }},
	}
})

// optPid shows an option_pid at ptr: "any" for NONE, else the pid.
func (c *call) optPid(ptr uint32) string {
	b, ok := c.read(ptr, 8)
	if !ok {
		return "?" + hex(uint64(ptr))
	}
	if b[0] == 0 {
		return "any"
	}
	return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[4:])), 10)
}

// nsString shows a duration in ns; all ones is "inf".
func nsString(v uint64) string {
	if v == ^uint64(0) {
		return "inf"
	}
	if v > uint64(1<<62) {
		return strconv.FormatUint(v, 10) + "ns"
	}
	return time.Duration(v).String()
}

// str reads a (ptr, len) string; long strings are cut.
func (c *call) str(v []uint64) string {
	ptr, n := uint32(v[0]), uint32(v[1])
	const max = 256
	cut := n > max
	if cut {
		n = max
	}
	b, ok := c.read(ptr, n)
	if !ok {
		return fmt.Sprintf("?(%s,%d)", hex(uint64(ptr)), uint32(v[1]))
	}
	s := strconv.Quote(string(b))
	if cut {
		s += "..."
	}
	return s
}

// iovs shows an iovec array as its count and byte total; for output
// (ciovs) also the first bytes.
func (c *call) iovs(v []uint64, data bool) string {
	ptr, n := uint32(v[0]), uint32(v[1])
	if n > 1<<16 {
		return fmt.Sprintf("%d iovs", n)
	}
	b, ok := c.read(ptr, n*8)
	if !ok {
		return fmt.Sprintf("?(%s,%d)", hex(uint64(ptr)), n)
	}
	var total uint64
	var first []byte
	for i := uint32(0); i < n; i++ {
		p, l := binary.LittleEndian.Uint32(b[i*8:]), binary.LittleEndian.Uint32(b[i*8+4:])
		total += uint64(l)
		if data && len(first) < 32 && l > 0 {
			want := min(l, uint32(32-len(first)))
			if d, ok := c.read(p, want); ok {
				first = append(first, d...)
			}
		}
	}
	s := fmt.Sprintf("%d/%dB", n, total)
	if data && total > 0 {
		q := strconv.Quote(string(first))
		if total > uint64(len(first)) {
			q += "..."
		}
		s += " " + q
	}
	return s
}

// addrPort decodes a WASIX addr_port (tag @0, port @2, address @4). As in
// Wasmer (and abi/wasix), the host reads the port little-endian and writes
// it big-endian (out).
func (c *call) addrPort(ptr uint32, out bool) string {
	b, ok := c.read(ptr, 20)
	if !ok {
		return "?" + hex(uint64(ptr))
	}
	port := uint16(b[3])<<8 | uint16(b[2])
	if out {
		port = uint16(b[2])<<8 | uint16(b[3])
	}
	switch b[0] {
	case 1:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port).String()
	case 2:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[4:20])), port).String()
	case 3:
		return "unix"
	case 0:
		return "unspec"
	}
	return "af(" + strconv.Itoa(int(b[0])) + ")"
}

// subscriptions decodes poll_oneoff's input (in, out, nsubs, *nevents).
func (c *call) subscriptions(v []uint64) string {
	in, n := uint32(v[0]), uint32(v[2])
	size, clockOff := uint32(48), uint32(16)
	if c.module == "wasi_unstable" {
		size, clockOff = 56, 24 // a clock subscription carries an identifier first
	}
	var parts []string
	for i := uint32(0); i < n; i++ {
		if i == 16 {
			parts = append(parts, fmt.Sprintf("... %d more", n-i))
			break
		}
		b, ok := c.read(in+i*size, size)
		if !ok {
			parts = append(parts, "?")
			break
		}
		ud := binary.LittleEndian.Uint64(b)
		switch b[8] {
		case 0:
			id := binary.LittleEndian.Uint32(b[clockOff:])
			timeout := binary.LittleEndian.Uint64(b[clockOff+8:])
			flags := binary.LittleEndian.Uint16(b[clockOff+24:])
			how := "rel"
			if flags&1 != 0 {
				how = "abs"
			}
			parts = append(parts, fmt.Sprintf("{ud=%d clock %s %s %s}", ud, enumName(uint64(id), clockNames), how, nsString(timeout)))
		case 1, 2:
			fd := binary.LittleEndian.Uint32(b[16:])
			parts = append(parts, fmt.Sprintf("{ud=%d %s %s}", ud, eventTypeNames[b[8]], c.t.describeFd(fd)))
		default:
			parts = append(parts, fmt.Sprintf("{ud=%d type=%d}", ud, b[8]))
		}
	}
	return fmt.Sprintf("%d[%s]", n, strings.Join(parts, " "))
}

// events decodes poll_oneoff's output after the call.
func (c *call) events(v []uint64) string {
	if !c.ok() {
		return ""
	}
	out := uint32(v[1])
	n, ok := c.u32At(uint32(v[3]))
	if !ok {
		return "?"
	}
	var parts []string
	for i := uint32(0); i < n && i < 16; i++ {
		b, ok := c.read(out+i*32, 32)
		if !ok {
			parts = append(parts, "?")
			break
		}
		ud := binary.LittleEndian.Uint64(b)
		errno := binary.LittleEndian.Uint16(b[8:])
		s := fmt.Sprintf("{ud=%d %s", ud, enumName(uint64(b[10]), eventTypeNames))
		if errno != 0 {
			s += " " + ErrnoName(errno)
		}
		if b[10] != 0 {
			s += fmt.Sprintf(" nbytes=%d", binary.LittleEndian.Uint64(b[16:]))
			if f := binary.LittleEndian.Uint16(b[24:]); f != 0 {
				s += " " + flagNames(uint64(f), eventrwNames)
			}
		}
		parts = append(parts, s+"}")
	}
	if n > 16 {
		parts = append(parts, "...")
	}
	return fmt.Sprintf("%d[%s]", n, strings.Join(parts, " "))
}

// epollEvents decodes epoll_wait's output; the count is the last argument.
func (c *call) epollEvents(out uint32) string {
	n, ok := c.u32At(uint32(c.args[len(c.args)-1]))
	if !ok {
		return "?"
	}
	var parts []string
	for i := uint32(0); i < n && i < 16; i++ {
		b, ok := c.read(out+i*32, 32)
		if !ok {
			parts = append(parts, "?")
			break
		}
		parts = append(parts, fmt.Sprintf("{%s data.fd=%d}", flagNames(uint64(binary.LittleEndian.Uint32(b)), epollNames), binary.LittleEndian.Uint32(b[12:])))
	}
	if n > 16 {
		parts = append(parts, "...")
	}
	return fmt.Sprintf("%d[%s]", n, strings.Join(parts, " "))
}

// describeFd shows a fd with its kind and, when known, its path:
// 3</data>, 4</data/x.txt>, 1<chr>, 5<pipe>, 6<sock>, 7<epoll>; a fd that is
// not open is just its number.
func (t *Tracer) describeFd(fd uint32) string {
	e, errno := t.sys.Table.Get(fd)
	s := strconv.FormatUint(uint64(fd), 10)
	if int32(fd) < 0 {
		s = strconv.Itoa(int(int32(fd))) // AT_FDCWD and the like
	}
	if errno != sys.ESUCCESS {
		return s
	}
	if e.Preopen != "" {
		return s + "<" + e.Preopen + ">"
	}
	t.mu.Lock()
	p, ok := t.fds[fd]
	t.mu.Unlock()
	if ok && p.file == e.File {
		return s + "<" + p.path + ">"
	}
	return s + "<" + kindOf(e.File) + ">"
}

// kindOf names the kind of object behind a fd.
func kindOf(f sys.File) string {
	switch v := f.(type) {
	case *sys.Epoll:
		return "epoll"
	case *sys.HostFile:
		var st unix.Stat_t
		if v.Fd() >= 0 && unix.Fstat(v.Fd(), &st) == nil {
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFIFO:
				return "pipe"
			case unix.S_IFSOCK:
				if v.Filetype() == sys.FiletypeSocketDgram {
					return "dgram"
				}
				return "sock"
			}
		}
	}
	return enumName(uint64(f.Filetype()), filetypeNames)
}

// pathOf returns the guest path of fd, if known (a preopen or a fd opened
// by path).
func (t *Tracer) pathOf(fd uint32) (string, bool) {
	e, errno := t.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return "", false
	}
	if e.Preopen != "" {
		return e.Preopen, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.fds[fd]; ok && p.file == e.File {
		return p.path, true
	}
	return "", false
}

// remember records the guest path of a fd just opened.
func (t *Tracer) remember(fd uint32, p string) {
	e, errno := t.sys.Table.Get(fd)
	if errno != sys.ESUCCESS {
		return
	}
	t.mu.Lock()
	t.fds[fd] = fdPath{file: e.File, path: p}
	t.mu.Unlock()
}

// joinGuest joins a directory's guest path and a path relative to it.
func joinGuest(dir, p string) string {
	if strings.HasPrefix(p, "/") || dir == "" {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}
