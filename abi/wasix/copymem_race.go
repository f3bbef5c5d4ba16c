//go:build race

package wasix

import "unsafe"

// copyMemory copies a guest memory. Other threads of the parent may write
// to it meanwhile, as they may while a native process forks: the child
// gets what each word held at some moment. The race detector would report
// those writes (made through the host, like a thread id) against the copy,
// so under it the copy is a loop it does not instrument.
//
//go:norace
func copyMemory(dst, src []byte) {
	n := min(len(dst), len(src))
	i := 0
	for ; i+8 <= n; i += 8 {
		*(*uint64)(unsafe.Pointer(&dst[i])) = *(*uint64)(unsafe.Pointer(&src[i]))
	}
	for ; i < n; i++ {
		dst[i] = src[i]
	}
}
