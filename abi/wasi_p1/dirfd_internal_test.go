package wasi_p1

import (
	"context"
	"testing"

	"github.com/wazix/wazix/internal/sys"
)

// TestDirectoryFdErrnos checks the errno of calls that cannot work on a
// directory fd: EBADF, as wasmtime's preview1_dir_fd_op_failures expects,
// for preview1 guests; WASIX guests keep syncing, advising and setting the
// flags of directories as on Linux (and wasmer), and still get EBADF for
// data and position calls.
func TestDirectoryFdErrnos(t *testing.T) {
	for _, wasix := range []bool{false, true} {
		s, err := sys.NewSystem(0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.WASIX = wasix
		d, err := sys.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fd, e := s.Table.Insert(&sys.Entry{File: d, RightsBase: sys.RightsDirectory | sys.RightFdFilestatGet}, 3)
		if e != sys.ESUCCESS {
			t.Fatal(e)
		}
		h := &host{sys: s}
		ctx := context.Background()
		call := func(f fn, args ...uint64) sys.Errno {
			stack := make([]uint64, 8)
			stack[0] = uint64(fd)
			copy(stack[1:], args)
			return f(h, ctx, nil, stack) // none of these reach guest memory for a directory
		}
		syncs := sys.EBADF
		if wasix {
			syncs = sys.ESUCCESS
		}
		for _, c := range []struct {
			name string
			got  sys.Errno
			want sys.Errno
		}{
			{"fd_read", call(fdRead), sys.EBADF},
			{"fd_write", call(fdWrite), sys.EBADF},
			{"fd_pread", call(fdPread), sys.EBADF},
			{"fd_pwrite", call(fdPwrite), sys.EBADF},
			{"fd_seek", call(fdSeek, 0, 1), sys.EBADF},
			{"fd_tell", call(fdTell), sys.EBADF},
			{"fd_allocate", call(fdAllocate, 0, 1), sys.EBADF},
			{"fd_filestat_set_size", call(fdFilestatSetSize, 0), sys.EBADF},
			{"fd_sync", call(fdSync), syncs},
			{"fd_datasync", call(fdDatasync), syncs},
			{"fd_advise", call(fdAdvise, 0, 0, 4), syncs},
			{"fd_fdstat_set_flags", call(fdFdstatSetFlags, uint64(sys.FdflagNonblock)), syncs},
		} {
			if c.got != c.want {
				t.Errorf("wasix=%v %s: errno %d, want %d", wasix, c.name, c.got, c.want)
			}
		}
	}
}

// TestAllocate checks fd_allocate on a regular file: ENOTSUP without
// touching the file for preview1 guests (wasmtime's preview1_file_allocate),
// a real allocation for WASIX guests.
func TestAllocate(t *testing.T) {
	for _, wasix := range []bool{false, true} {
		s, err := sys.NewSystem(0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.WASIX = wasix
		d, err := sys.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		f, e := d.OpenAt("f", sys.OpenOptions{Oflags: sys.OflagCreat, Read: true, Write: true})
		if e != sys.ESUCCESS {
			t.Fatal(e)
		}
		defer d.Close()
		fd, e := s.Table.Insert(&sys.Entry{File: f, RightsBase: sys.RightsRegularFile}, 3)
		if e != sys.ESUCCESS {
			t.Fatal(e)
		}
		h := &host{sys: s}
		e = fdAllocate(h, context.Background(), nil, []uint64{uint64(fd), 0, 100})
		st, _ := f.Stat()
		want, wantSize := sys.ENOTSUP, uint64(0)
		if wasix {
			want, wantSize = sys.ESUCCESS, 100
		}
		if e != want || st.Size != wantSize {
			t.Errorf("wasix=%v: fd_allocate errno %d size %d, want %d size %d", wasix, e, st.Size, want, wantSize)
		}
	}
}
