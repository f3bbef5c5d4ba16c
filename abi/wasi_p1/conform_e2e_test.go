package wasi_p1_test

import (
	"os"
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// TestConformance runs fixtures/c/conform, which makes the raw preview1
// calls that third-party suites (WebAssembly/wasi-testsuite's Rust and C
// tests, wasmtime's preview1 tests) make, one section per run, with a fresh
// scratch directory preopened as "/" as those suites do. Each line is
// "<check> <errno>" or a detail; where a suite accepts several errnos the
// fixture prints "ok"/"bad" instead of pinning ours.
func TestConformance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		section string
		why     string
		want    string
		// pipeStdin gives the guest a host pipe as stdin instead of a Go reader.
		pipeStdin bool
	}{
		{
			section:   "stdstat",
			why:       "fd_filestat_get on stdio reports size 0 and no times, for a host pipe as for a Go stream (wasmtime's preview1_fd_filestat_get).",
			pipeStdin: true,
			want: `filestat_0 0 type=2 size=0 times_zero=1
filestat_1 0 type=2 size=0 times_zero=1
filestat_2 0 type=2 size=0 times_zero=1
cleanup 0`,
		},
		{
			section: "dirfd",
			why:     "fd_read/pread/write/pwrite/seek/tell/allocate/set_size/advise/datasync/sync/fdstat_set_flags on a directory are EBADF (8), as wasmtime's preview1_dir_fd_op_failures wants and wasi-testsuite's dir_fd_op_failures accepts; readdir works, and a directory opened with FD_SEEK does not get it (directory_seek).",
			want: `filestat 0
filetype 3
read 8
pread 8
write 8
pwrite 8
seek_cur 8
seek_set 8
seek_end 8
tell 8
allocate 8
set_size 8
advise 8
datasync 8
sync 8
set_flags 8
readdir_ok 0
mkdir 0
open_seek_right 0
sub_seek 8
sub_fdstat 0
sub_has_seek 0
rmdir 0
cleanup 0`,
		},
		{
			section: "preopen",
			why:     "The preopen holds the rights path_open_preopen lists, opening \".\" works with its rights, none, O_DIRECTORY and FD_READ, and O_DIRECTORY with FD_WRITE is EISDIR (31); O_DIRECTORY on a file is ENOTDIR (54).",
			want: `prestat 0
dir_name_short ok
dir_name_long 0
fdstat 0
base_complete 1
inheriting_complete 1
base_fd_set_size 0
open_same_rights 0
open_no_rights 0
open_dir_no_rights 0
open_dir_read 0
open_dir_read_write 31
open_nonblock 0
open_dir_on_file_write 54
unlink 0
cleanup 0`,
		},
		{
			section: "closepre",
			why:     "A preopen can be renumbered over (overwrite_preopen) and closed (close_preopen); other fds stay open.",
			want: `mkdir 0
filestat_before 0
renumber_over_preopen 0
filestat_after 0
same_file 1
old_fd_closed 8
close_preopen 0
preopen_closed 8
root_still_open 0
rmdir 0
cleanup 0`,
		},
		{
			section: "renumber",
			why:     "fd_renumber moves the fd with its rights and flags, needs both fds open (EBADF otherwise) and works on stdio (renumber, stdio).",
			want: `renumber 0
close_from 8
fdstat_to 0
same_fdstat 1
renumber_to_closed 8
renumber_from_closed 8
renumber_self 0
close_to 0
renumber_stdin 0
stdin_closed 8
moved_stdin 0
unlink1 0
unlink2 0
cleanup 0`,
		},
		{
			section: "symlinks",
			why:     "nofollow_errors, dangling_symlink, symlink_loop, symlink_create (an absolute target is refused with 63 EPERM), path_symlink_trailing_slashes, readlink (a short buffer truncates), symlink_filestat.",
			want: `mkdir_target 0
symlink 0
open_dir_nofollow 54
open_nofollow 32
open_dir_follow 0
unlink_link 0
rmdir_target 0
symlink_file 0
file_open_dir_nofollow 54
file_open_nofollow 32
file_open_dir_follow 54
file_open_follow 0
excl_on_link 20
readlink 0
readlink_value 6 target rest_zero=1
readlink_short 0
readlink_short_value 4 targ
readlink_file 28
lstat 0
lstat_type 7
link_set_times 0
link_mtim_changed 1
target_mtim_kept 1
follow_set_times 0
target_mtim_changed 1
stat_follow 0
stat_follow_type 4
unlink_link2 0
unlink_target 0
dangling 0
dangling_open_dir 54
dangling_open 32
dangling_open_follow 44
dangling_creat_excl 20
unlink_dangling 0
loop 0
loop_open 32
loop_open_follow 32
unlink_loop 0
absolute 63
absolute_file 63
slash_missing 44
mkdir_t 0
slash_dir 20
exists_dir 20
rmdir_t 0
slash_file 54
exists_file 20
unlink_t 0
cleanup 0`,
		},
		{
			section: "paths",
			why:     "interesting_paths (absolute 63, too many .. 63, NUL in the path, trailing slashes), unlink_file_trailing_slashes, remove_directory_trailing_slashes, remove_nonempty_directory, path_open_missing, path_open_create_existing, path_open_dirfd_not_dir (ENOTDIR before rights: wasmtime accepts only that).",
			want: `mkdir 0
mkdir_nested 0
absolute 63
dotdot 0
nul ok
file_slash 54
file_slashes 54
dir_slash 0
dir_slashes 0
escape 63
rmdir_nonempty 55
missing 44
creat_dir 28
creat_dir_left_nothing 44
trunc_dir 31
excl_existing 20
unlink_file 0
rmdir_nested 0
unlink_dir 31
unlink_dir_slash 31
rmdir_slash 0
unlink_file_slash 54
rmdir_file 54
rmdir_file_slash 54
unlink_file2 0
dirfd_not_dir 54
dirfd_not_dir_mkdir 54
dirfd_stdout 54
unlink_f 0
cleanup 0`,
		},
		{
			section: "link",
			why:     "path_link: same rights and filestat through the link, EEXIST onto files, dirs and symlinks, EPERM for directories, ENOENT for \"link/\", links to dangling symlinks and loops, and SYMLINK_FOLLOW refused with EINVAL (28; wasmtime requires it, wasi-testsuite accepts it).",
			want: `mkdir_sub 0
link_other_dir 0
same_rights 1
same_filestat 1 nlink=2
unlink_sub_link 0
rmdir_sub 0
link_existing 20
unlink_link 0
link_self 20
mkdir_link 0
link_onto_dir 20
rmdir_link 0
mkdir_sub2 0
link_dir ok
rmdir_sub2 0
link_slash 44
symlink_dangling 0
link_dangling 0
unlink_link2 0
link_onto_symlink 20
link_follow_dangling 28
link_follow 28
unlink_target 0
unlink_symlink 0
symlink_loop 0
link_loop 0
unlink_loop 0
unlink_link3 0
unlink_file 0
cleanup 0`,
		},
		{
			section: "rename",
			why:     "path_rename (ENOTEMPTY, ENOTDIR, EISDIR) and path_rename_dir_trailing_slashes.",
			want: `mkdir_source 0
dir_to_new 0
source_gone 44
mkdir_source2 0
dir_to_empty_dir 0
mkdir_source3 0
dir_to_nonempty_dir 55
dir_to_file 54
unlink_tf 0
rmdir_target 0
src_slash 0
dst_slash 0
both_slash 0
rmdir_target2 0
file_to_file 0
mkdir_d 0
file_to_dir 31
file_slash 54
rmdir_d 0
unlink_source 0
unlink_target 0
cleanup 0`,
		},
		{
			section: "files",
			why:     "truncation_rights (no directory claims PATH_FILESTAT_SET_SIZE), file_truncation, fd_flags_set (APPEND on and off), fd_allocate ENOTSUP (58) with the size untouched (wasmtime's file_allocate requires it, wasi-testsuite's accepts it), pwrite-with-append, path_filestat (APPEND|SYNC kept), file_allocate, fd_advise, fstflags_validate, fd_filestat_set, file_seek_tell, file_unbuffered_write, path_open_read_write; rights other than FD_READ/FD_WRITE come unasked (wasmtime's fd_filestat_set and fd_advise ask only for FD_READ|FD_WRITE), write rights only when opened for writing.",
			want: `dir_fdstat 0
dir_fd_set_size 0
dir_path_set_size 0
write 0
read_truncated 0
truncated_size 0
trunc_no_rights 0
tell_after_append 0
append_pos 20
pwrite_append 0
pos_after_pwrite 20
end_after_pwrite ok
clear_append 0
flags_now 0
pos_after_overwrite 1
seek_negative 28
seek_beyond 0
open_flags 17
allocate 58
size_after_allocate 0
allocate_inside 58
allocate_grow 58
size_after_grow 0
advise 0
advise_bad 28
fstflags_mtim_both 28
fstflags_atim_both 28
set_mtim 0
mtim_set 1 atim_kept 1
path_times_both 28
rw_filestat 0
rw_set_size 0
rw_advise 0
rw_allocate 58
rw_size 100
rw_seek 0
ro_rights write=0 set_size=0 allocate=0 filestat=1 seek=1
ro_set_size 76
wo_filestat 0
wo_read 8
unbuffered_read 0
unbuffered_n 1
read_on_writeonly 8
write_on_readonly 8
cleanup 0`,
		},
		{
			section: "readdir",
			why:     "fd_readdir: \".\" has the directory's inode, entries carry st_ino, cookies resume, a directory opened with no rights at all can be listed (wasmtime's preview1_fd_readdir), and a 302-entry listing read 256 bytes at a time sees every entry once.",
			want: `empty 0
empty_entries 2 dot_ino=1 dots_are_dirs=2
one_file 3 file_ok=1
from_cookie used=28
unlink 0
mkdir_nested 0
no_rights_open 0
no_rights_filestat 0
no_rights_readdir 0
no_rights_entries used=51
rmdir_nested 0
no_rights_file_write 8
no_rights_file_read 0
unlink_ro 0
many 302
cleanup 0`,
		},
		{
			section: "stdio",
			why:     "sock_shutdown-not_sock (57 ENOTSOCK before the missing socket rights), sock_* on files, fd_write-to-invalid-fd, poll_oneoff_stdio, two clocks.",
			want: `shutdown_stdout 57
shutdown_badf 8
shutdown_file 57
recv_file 57
send_file 57
accept_file 57
accept_stdin 57
write_badf 8
poll_stdin 0
poll_stdin_events ok
poll_out_err 0
poll_out_err_events n=2 stdout=1 stderr=1
poll_two_clocks 0
two_clocks n=1 first=1
poll_none 28
stdout_fdstat 0
cleanup 0`,
		},
		{
			section: "rights",
			why:     "fd_fdstat_set_rights: rights only shrink (76) and dropped rights are enforced; reading or writing without FD_READ/FD_WRITE is EBADF (8), the one errno both suites accept; a right dropped from a directory does not come back unasked on what is opened through it.",
			want: `write 0
same_rights 0
drop 0
read_dropped 8
write_dropped 8
has_seek 1
regrant 76
unlink 0
unasked_mkdir_right 1
drop_mkdir 0
mkdir_dropped 76
reopened_mkdir_right 0
mkdir_reopened 76
create_reopened 0
unlink_g 0
drop_read 0
no_read_rights base=0 inheriting=0
read_without_right 8
unlink_r 0
cleanup 0`,
		},
		{
			section: "zero",
			why:     "wasmtime's preview1 tests open their scratch directory and files with no rights at all and then use them fully: a request for no rights opens read-only, reads, and gets every right but the write ones; FD_READ|FD_WRITE alone gives a fully usable file.",
			want: `open_dir 0
mkdir 0
create 0
create_write 8
create_read 0
create_filestat 0
open_rw 0
rw_write 0
rw_seek 0
rw_read 0
rw_tell 0
rw_set_size 0
rw_set_times 0
rw_sync 0
rw_set_flags 0
path_filestat 0
size 2
path_set_times 0
symlink 0
readlink 0
link 0
rename 0
readdir 0
open_sub 0
sub_readdir 0
sub_open_rw 0
sub_rw_write 0
unlink_l 0
unlink_h2 0
unlink_f 0
rmdir 0
dir_rights_like_preopen 1
cleanup 0`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.section, func(t *testing.T) {
			t.Parallel()
			o := testrun.Options{
				Args: []string{tc.section},
				Dirs: [][2]string{{t.TempDir(), "/"}},
			}
			if tc.pipeStdin {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pr.Close()
				defer pw.Close()
				pw.Write([]byte("some input"))
				o.Stdin = pr
			}
			r := testrun.Run(t, fixtures.Build(t, "c/conform"), o)
			if r.Err != nil || r.Code != 0 {
				t.Fatalf("code %d err %v\nstdout:\n%s\nstderr:\n%s", r.Code, r.Err, r.Stdout, r.Stderr)
			}
			got := strings.TrimPrefix(strings.TrimRight(r.Stdout, "\n"), "== "+tc.section+"\n")
			if got != tc.want {
				t.Errorf("%s\n%s", tc.why, diffLines(got, tc.want))
			}
		})
	}
}

// diffLines lists the lines of got and want that differ, side by side.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			b.WriteString("got  " + gl + "\nwant " + wl + "\n")
		}
	}
	return b.String()
}
