package wasix

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/guestmem"
	"github.com/wazix/wazix/internal/sys"
)

// setjmp/longjmp for guests built with asyncify, as Wasmer does them:
// stack_checkpoint unwinds the calling thread, keeps a copy of the saved
// frames and of the globals (the stack pointer), and rewinds at once,
// returning 0; stack_restore unwinds whatever stack the thread has now,
// puts the kept frames and globals back, and rewinds them, so that
// stack_checkpoint returns a second time, with the value given. Both go
// through the same driver as fork (Process.call).

// snapshotSize is the size of a stack_snapshot: a u64 the host fills (the
// checkpoint's id here) and 16 bytes of hash (a marker here).
const snapshotSize = 24

var snapshotMarker = [16]byte{'w', 'a', 'z', 'i', 'x', '-', 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't'}

// stackCheckpoint is stack_checkpoint(snapshot: *stack_snapshot, ret_val:
// *u64) -> errno: setjmp. *ret_val is 0 when the checkpoint is made, and
// the value given to stack_restore when the stack comes back to it.
func stackCheckpoint(h *host, ctx context.Context, m api.Module, stack []uint64) sys.Errno {
	snap, retPtr := uint32(stack[0]), uint32(stack[1])
	if res, ok := h.rewound(ctx, m); ok {
		return guestmem.PutU64(m.Memory(), retPtr, res.val)
	}
	if h.process == nil || !h.canFork(m) || !h.process.prepared(m) {
		return sys.ENOTSUP
	}
	if !guestmem.Writable(m.Memory(), snap, snapshotSize) || !guestmem.Writable(m.Memory(), retPtr, 8) {
		return sys.EFAULT
	}
	return h.startUnwind(ctx, m, &unwindReq{kind: unwindCheckpoint, snapshot: snap})
}

// stackRestore is stack_restore(snapshot: *stack_snapshot, val: u64):
// longjmp. It does not return: the thread goes on in stack_checkpoint. A
// snapshot that no checkpoint of this thread made is a trap.
func stackRestore(h *host, ctx context.Context, m api.Module, stack []uint64) {
	snap, val := uint32(stack[0]), stack[1]
	b, ok := m.Memory().Read(snap, snapshotSize)
	if !ok {
		panic(fmt.Errorf("wazix: stack_restore: snapshot at %#x is out of memory", snap))
	}
	st := &h.proc.fork
	st.mu.Lock()
	st.init()
	cp := st.checkpoints[guestmem.LE64(b)]
	st.mu.Unlock()
	if cp == nil || [16]byte(b[8:24]) != snapshotMarker || cp.tid != h.tidOf(m) {
		panic(fmt.Errorf("wazix: stack_restore: the snapshot at %#x was not made by stack_checkpoint in this thread", snap))
	}
	if errno := h.startUnwind(ctx, m, &unwindReq{kind: unwindRestore, restore: cp, val: val}); errno != sys.ESUCCESS {
		panic(fmt.Errorf("wazix: stack_restore: %v", errno))
	}
}

// saveCheckpoint keeps the stack m unwound for a checkpoint.
func (p *Process) saveCheckpoint(m api.Module, req *unwindReq) forkResult {
	mem := m.Memory()
	cur, ok := mem.ReadUint32Le(req.buf)
	if !ok || cur < req.buf+8 {
		return forkResult{errno: sys.EFAULT}
	}
	frames, ok := mem.Read(req.buf+8, cur-req.buf-8)
	if !ok {
		return forkResult{errno: sys.EFAULT}
	}
	st := &p.host.proc.fork
	st.mu.Lock()
	defer st.mu.Unlock()
	st.nextID++
	cp := &checkpoint{id: st.nextID, tid: p.host.tidOf(m), frames: append([]byte(nil), frames...), globals: globalsOf(m)}
	st.checkpoints[cp.id] = cp
	var snap [snapshotSize]byte
	guestmem.Put64(snap[:], cp.id)
	copy(snap[8:], snapshotMarker[:])
	mem.Write(req.snapshot, snap[:])
	if len(st.checkpoints) > st.sweepAt {
		if all, ok := mem.Read(0, mem.Size()); ok {
			sweepCheckpoints(st.checkpoints, all)
		}
		// One more checkpoint per page before the next sweep: scanning a
		// page costs about what making a checkpoint does, so a large
		// memory does not make setjmp in a loop slower.
		st.sweepAt = max(minSweep, 2*len(st.checkpoints)) + int(mem.Size()/65536)
	}
	return forkResult{val: 0}
}

// minSweep is the fewest checkpoints a process keeps before sweeping.
const minSweep = 256

// sweepCheckpoints deletes from cps the checkpoints whose snapshot no
// longer appears anywhere in mem, the process's memory: a longjmp can only
// name a snapshot that is in memory (a jmp_buf overwritten by a newer
// setjmp, or freed and reused, is gone for good), so a program that calls
// setjmp in a loop keeps a bounded set. The scan is conservative: bytes
// that merely look like a snapshot keep a checkpoint alive, never the
// reverse.
func sweepCheckpoints(cps map[uint64]*checkpoint, mem []byte) {
	live := make(map[uint64]bool, len(cps))
	for off := 0; ; {
		i := bytes.Index(mem[off:], snapshotMarker[:])
		if i < 0 {
			break
		}
		at := off + i
		if at >= 8 {
			live[guestmem.LE64(mem[at-8:at])] = true
		}
		off = at + 1
	}
	for id := range cps {
		if !live[id] {
			delete(cps, id)
		}
	}
}

// restoreCheckpoint puts the frames and globals of a checkpoint back in
// place of the stack m just unwound.
func (p *Process) restoreCheckpoint(m api.Module, req *unwindReq) forkResult {
	mem := m.Memory()
	cp := req.restore
	if !mem.Write(req.buf+8, cp.frames) || !mem.WriteUint32Le(req.buf, req.buf+8+uint32(len(cp.frames))) {
		return forkResult{errno: sys.EFAULT}
	}
	setGlobals(m, cp.globals)
	return forkResult{val: req.val}
}
