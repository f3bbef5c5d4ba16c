package wasix_test

import (
	"strings"
	"testing"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// Every kind of object has the readiness Linux's poll(2) gives it, in both
// views: poll_oneoff (r, nbytes, hup, w) and epoll_wait (WASIX bits; e63 is
// EPERM from epoll_ctl, as Linux refuses regular files and directories).
// A hung-up fd fires both subscriptions with HANGUP, as poll(2) reports
// POLLHUP/POLLERR whatever was asked.
func TestReadinessBothViews(t *testing.T) {
	wasm := fixtures.Build(t, "c/wasix_ready")
	want := []string{
		"eventfd-0 r=0 nbytes=0 hup=0 w=1 epoll=0x2",
		"eventfd-3 r=1 nbytes=8 hup=0 w=1 epoll=0x3", // nbytes: what a read returns; no FIONREAD guess
		"eventfd-read r=0 nbytes=0 hup=0 w=1 epoll=0x2",
		"eventfd-full r=1 nbytes=8 hup=0 w=0 epoll=0x1", // 2^64-2: a write of 1 would block
		"semaphore-2 r=1 nbytes=8 hup=0 w=1 epoll=0x3",
		"semaphore-1 r=1 nbytes=8 hup=0 w=1 epoll=0x3",
		"semaphore-0 r=0 nbytes=0 hup=0 w=1 epoll=0x2",
		"pipe-read-empty r=0 nbytes=0 hup=0 w=0 epoll=0",
		"pipe-write r=0 nbytes=0 hup=0 w=1 epoll=0x2",
		"pipe-read-5 r=1 nbytes=5 hup=0 w=0 epoll=0x1",
		"pipe-read-5-closed r=1 nbytes=5 hup=1 w=1 epoll=0x21",
		"pipe-read-eof r=1 nbytes=0 hup=1 w=1 epoll=0x20",
		"pipe-write-full r=0 nbytes=0 hup=0 w=0 epoll=0",
		"pipe-write-drained r=0 nbytes=0 hup=0 w=1 epoll=0x2",
		"pipe-write-noreader r=1 nbytes=0 hup=1 w=1 epoll=0x12",
		"file r=1 nbytes=7 hup=0 w=1 epoll=e63",
		"dir r=1 nbytes=0 hup=0 w=1 epoll=e63",
		"epoll-empty r=0 nbytes=0 hup=0 w=0 epoll=0",
		"epoll-idle-member r=0 nbytes=0 hup=0 w=0 epoll=0",
		"epoll-ready-member r=1 nbytes=0 hup=0 w=0 epoll=0x1",
		// A poll_oneoff that waits reports an event fd once per change of
		// its counter (Wasmer's rule; mio never drains its waker).
		"eventfd-edge first=1 again=0 after-write=1 after-read=0",
		// A relative 0 ns clock expires at once, except mio's "no
		// timeout" (precision 1 ms) in a WASIX guest, which never fires.
		"zeroclock precision0=1 precision1ms=0 other=1",
	}
	for i := 0; i < 3; i++ { // the host's events race with the guest: look more than once
		r := testrun.Run(t, wasm, testrun.Options{Dirs: [][2]string{{t.TempDir(), "/d"}}})
		if r.Err != nil || r.Code != 0 {
			t.Fatalf("code %d err %v stdout %q stderr %q", r.Code, r.Err, r.Stdout, r.Stderr)
		}
		got := r.Lines()
		for j, w := range want {
			if j >= len(got) || got[j] != w {
				t.Fatalf("run %d line %d: got\n%s\nwant %q", i, j, strings.Join(got, "\n"), w)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("run %d: %d lines, want %d:\n%s", i, len(got), len(want), r.Stdout)
		}
	}
}
