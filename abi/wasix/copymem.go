//go:build !race

package wasix

// copyMemory copies a guest memory. Other threads of the parent may write
// to it meanwhile, as they may while a native process forks: the child
// gets what each word held at some moment.
func copyMemory(dst, src []byte) { copy(dst, src) }
