package sys

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkStatAt compares a stat of a 4-component path under preview1
// rules (one openat2) and WASIX rules (one openat2 and fstat per component).
func BenchmarkStatAt(b *testing.B) {
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b", "c"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "c", "f"), nil, 0o644)
	for _, wasix := range []bool{false, true} {
		name := "preview1"
		if wasix {
			name = "wasix"
		}
		b.Run(name, func(b *testing.B) {
			s, err := NewSystem(0)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			d, err := OpenDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			if err := s.FS.Mount("/", d); err != nil {
				b.Fatal(err)
			}
			s.WASIX = wasix
			for i := 0; i < b.N; i++ {
				if _, e := d.StatAt("a/b/c/f", true); e != ESUCCESS {
					b.Fatal(e)
				}
			}
		})
	}
}
