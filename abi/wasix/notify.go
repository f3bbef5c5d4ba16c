package wasix

import (
	"reflect"
	"sync"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
)

// notifier is the method wazero's memory instance has for
// memory.atomic.notify; api.Memory does not declare it.
type notifier interface {
	Notify(offset uint32, count uint32) uint32
}

// notifyAll wakes every guest thread blocked in memory.atomic.wait32/64 on
// mem, as if another thread had notified its address. The waiters are
// woken to be torn down: threads blocked there cannot see a context, and
// without this a thread waiting forever would outlive its process.
//
// wazero keeps the waited-on addresses in an unexported sync.Map of its
// memory instance; when that field is found (wazero v1.12) only those
// addresses are notified, otherwise every aligned address of the memory
// (slower, linear in the memory size).
func notifyAll(mem api.Memory) {
	n, ok := mem.(notifier)
	if !ok {
		return
	}
	if waiters := waitersOf(mem); waiters != nil {
		waiters.Range(func(k, _ any) bool {
			if off, ok := k.(uint32); ok {
				n.Notify(off, ^uint32(0))
			}
			return true
		})
		return
	}
	size := mem.Size()
	for off := uint32(0); off+4 <= size && off+4 > off; off += 4 {
		n.Notify(off, ^uint32(0))
	}
}

// waitersOf returns the sync.Map of wazero's memory instance that holds the
// waiters by address, or nil when the instance does not have one.
func waitersOf(mem api.Memory) *sync.Map {
	v := reflect.ValueOf(mem)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("waiters")
	if !f.IsValid() || f.Type() != reflect.TypeOf(sync.Map{}) || !f.CanAddr() {
		return nil
	}
	return (*sync.Map)(unsafe.Pointer(f.UnsafeAddr()))
}
