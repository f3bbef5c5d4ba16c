package wasix_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// TestFdLayer runs each operation of the fd-layer fixture (c/wasix_fdlayer)
// and compares its lines: sync on streams, sock_send/sock_recv on pipes,
// FD_CLOEXEC, SOCK_NONBLOCK in F_GETFL, IPV6_V6ONLY, recvfrom on a connected
// UDP socket, and sock_send_msg/sock_recv_msg with SCM_RIGHTS.
func TestFdLayer(t *testing.T) {
	wasm := fixtures.Build(t, "c/wasix_fdlayer")
	const (
		EAGAIN       = "6"
		EBADF        = "8"
		EINVAL       = "28"
		EFAULT       = "21"
		ENOTSOCK     = "57"
		ENOTSUP      = "58"
		ECONNREFUSED = "14"
	)
	tests := []struct {
		op   string
		net  bool
		want []string
	}{
		{"sync", false, []string{
			"pipe_read_sync " + EINVAL, "pipe_write_datasync " + EINVAL, "socket_sync " + EINVAL,
			"socket_datasync " + EINVAL, "file_sync 0", "file_datasync 0", "bad_fd " + EBADF,
		}},
		{"pipesock", false, []string{
			"send 0 n=5", "recv 0 n=5 ro=0 data=hello", "recv_dontwait_empty " + EAGAIN, "recv_peek " + ENOTSUP,
			"send_on_read_end " + EBADF, "recv_on_write_end " + EBADF, "recv_eof 0 n=0", "recv_bad_fd " + EBADF,
			"send_on_file " + ENOTSOCK, "send_msg 0 n=3", "recv_msg 0 n=3 ro=0 ctl=0 data=msg",
		}},
		{"cloexec", false, []string{
			"pipe_default 0 0", "pipe2_cloexec 1 1", "cleared 0 1", "set_bad_bits " + EINVAL, "get_bad_fd -" + EBADF,
			"socketpair_cloexec 1 1", "socketpair_default 0 0", "socket_cloexec 1", "dupfd_cloexec 1 fd=20", "dup_clears 0",
		}},
		{"nonblock", false, []string{
			"socket nonblock=4 plain=0", "socketpair 4 4", "recv_empty " + EAGAIN, "cleared 0", "socketpair_plain 0",
		}},
		{"v6only", true, []string{
			"set1 0", "get1 1", "set0 0", "get0 0", "v4_connect_v6only0 0", "accept 0 tag=2 mapped=1",
			"v4_connect_v6only1 " + ECONNREFUSED,
		}},
		{"udpfrom", true, []string{
			"recv_from 0 n=4 data=ping tag=1 sender_is_b=1", "recv_msg 0 n=4 ctl=0 sender_is_b=1",
			"shutdown_rd 0", "recv_after_shutdown 0 n=0",
		}},
		{"msg", false, []string{
			"send_plain 0 n=9", "recv_plain 0 n=9 data=hello msg ctl=0",
			"send_rights 0 n=1", "recv_rights 0 n=1 data=x ctl=12 nfds=1 not_w=1",
			"read_received 16 data=through the pipe", "received_cloexec 0",
			"send_two 0", "recv_two 0 nfds=2 ctl=16", "file_shared_position 3 data=234",
			"received_write_end 5", "read_again 5 data=again",
			"recv_truncated 0 n=1 ctl_out=16", "dropped_closed 0",
			"recv_no_control 0 n=1 ctl_out=12", "no_control_closed 0",
			"boundary_first 0 data=AB nfds=1", "boundary_second 0 data=CD nfds=0",
			"peek 0 data=P nfds=1", "after_peek 0 data=P nfds=1 distinct=1", "peeked_write 2 2", "peeked_read 4 data=p1p2",
			"plain_recv 0 n=1", "discarded_closed 0",
			"dgram_send 0", "dgram_recv 0 n=4 data=data nfds=1",
			"err_bad_fd " + EBADF, "err_short_len " + EINVAL, "err_long_len " + EINVAL,
			"err_other_type " + ENOTSUP, "err_bad_control_ptr " + EFAULT, "err_inet_rights " + ENOTSUP,
			"err_not_socket " + ENOTSOCK, "err_recv_bad_out " + EFAULT, "err_bad_siflags " + EINVAL,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			opts := testrun.Options{Args: []string{tt.op}, Dirs: [][2]string{{dir, "/data"}}, Ctx: ctx}
			if tt.net {
				opts.NetAllow = []string{"127.0.0.1", "::"}
			}
			r := testrun.Run(t, wasm, opts)
			if r.Err != nil || r.Code != 0 {
				t.Fatalf("code %d err %v\nstdout:\n%s\nstderr:\n%s", r.Code, r.Err, r.Stdout, r.Stderr)
			}
			if strings.Contains(r.Stdout, "v6only unavailable") {
				t.Skipf("no IPv6 on this host: %s", r.Stdout)
			}
			var got []string
			for _, l := range r.Lines() {
				got = append(got, strings.TrimPrefix(l, tt.op+" "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
