package wasi_p1_test

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wazix/wazix/fixtures"
	"github.com/wazix/wazix/internal/testrun"
)

// runPoll runs the c/poll fixture with stdin and a real pipe as stdout, and
// returns its output lines with the elapsed_ms value (-t), or -1.
func runPoll(t *testing.T, stdin io.Reader, args ...string) ([]string, int) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, pr); close(copied) }()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	r := testrun.Run(t, fixtures.Build(t, "c/poll"), testrun.Options{
		Args:   append([]string{"-t"}, args...),
		Stdin:  stdin,
		Stdout: pw,
	})
	pw.Close()
	<-copied
	pr.Close()
	if r.Err != nil || r.Code != 0 {
		t.Fatalf("code %d err %v\n%s", r.Code, r.Err, out.String())
	}
	var lines []string
	elapsed := -1
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if v, ok := strings.CutPrefix(l, "elapsed_ms "); ok {
			elapsed, _ = strconv.Atoi(v)
			continue
		}
		lines = append(lines, l)
	}
	return lines, elapsed
}

func pipeWith(t *testing.T, data string, delay time.Duration, closeAfter bool) *os.File {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	go func() {
		time.Sleep(delay)
		if data != "" {
			pw.Write([]byte(data))
		}
		if closeAfter {
			pw.Close()
		}
	}()
	return pr
}

func TestPollOneoff(t *testing.T) {
	tests := []struct {
		name  string
		stdin func(t *testing.T) io.Reader
		args  []string
		want  []string
		minMs int
		maxMs int
	}{
		{
			name:  "relative monotonic clock",
			args:  []string{"oneoff", "rel:mono:30000000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=0 type=clock nbytes=0 flags=0"},
			minMs: 30, maxMs: 2000,
		},
		{
			name:  "earliest clock wins",
			args:  []string{"oneoff", "rel:mono:3000000000", "rel:real:20000000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=2 errno=0 type=clock nbytes=0 flags=0"},
			minMs: 20, maxMs: 2000,
		},
		{
			name:  "absolute clocks",
			args:  []string{"oneoff", "abs:real:30000000", "abs:mono:3000000000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=0 type=clock nbytes=0 flags=0"},
			minMs: 25, maxMs: 2000,
		},
		{
			name:  "absolute deadline in the past",
			args:  []string{"oneoff", "abs:mono:-1000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=0 type=clock nbytes=0 flags=0"},
			maxMs: 500,
		},
		{
			name:  "fd read waits for data",
			stdin: func(t *testing.T) io.Reader { return pipeWith(t, "abc", 50*time.Millisecond, false) },
			args:  []string{"oneoff", "read:0"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=0 type=fd_read nbytes=3 flags=0"},
			maxMs: 2000,
		},
		{
			name:  "mixed: clock fires when the fd stays idle",
			stdin: func(t *testing.T) io.Reader { return pipeWith(t, "", time.Hour, false) },
			args:  []string{"oneoff", "read:0", "rel:mono:30000000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=2 errno=0 type=clock nbytes=0 flags=0"},
			minMs: 30, maxMs: 2000,
		},
		{
			name:  "mixed: fd fires before the clock",
			stdin: func(t *testing.T) io.Reader { return pipeWith(t, "x", 20*time.Millisecond, false) },
			args:  []string{"oneoff", "rel:mono:5000000000", "read:0"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=2 errno=0 type=fd_read nbytes=1 flags=0"},
			maxMs: 2000,
		},
		{
			name:  "hangup",
			stdin: func(t *testing.T) io.Reader { return pipeWith(t, "", 20*time.Millisecond, true) },
			args:  []string{"oneoff", "read:0"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=0 type=fd_read nbytes=0 flags=1"},
			maxMs: 2000,
		},
		{
			name:  "write on a pipe",
			args:  []string{"oneoff", "write:1"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=0 type=fd_write nbytes=0 flags=0"},
			maxMs: 500,
		},
		{
			name:  "bad fd is an event, not a failed call",
			args:  []string{"oneoff", "read:99", "rel:mono:5000000000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=8 type=fd_read nbytes=0 flags=0"},
			maxMs: 500,
		},
		{
			name:  "unsupported clock id",
			args:  []string{"oneoff", "clock:2:1000"},
			want:  []string{"oneoff errno=0 nevents=1", "event userdata=1 errno=28 type=clock nbytes=0 flags=0"},
			maxMs: 500,
		},
		{
			name: "no subscriptions",
			args: []string{"oneoff", "none"},
			want: []string{"oneoff errno=28 nevents=0"},
		},
		{
			name:  "poll() with a timeout on an idle pipe",
			stdin: func(t *testing.T) io.Reader { return pipeWith(t, "", time.Hour, false) },
			args:  []string{"pollin", "0", "30"},
			want:  []string{"pollin 0 ret=0 revents=0"},
		},
		{
			name:  "poll() sleep",
			args:  []string{"sleep", "25"},
			want:  []string{"sleep 25 ret=0 ok"},
			minMs: 25, maxMs: 2000,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdin io.Reader
			if tc.stdin != nil {
				stdin = tc.stdin(t)
			}
			got, ms := runPoll(t, stdin, tc.args...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if ms >= 0 && (ms < tc.minMs || tc.maxMs > 0 && ms > tc.maxMs) {
				t.Errorf("elapsed %d ms, want [%d, %d]", ms, tc.minMs, tc.maxMs)
			}
		})
	}
}

// TestPollIdleUsesNoCPU blocks a guest in poll_oneoff on an idle pipe and
// measures the CPU the process spends meanwhile.
func TestPollIdleUsesNoCPU(t *testing.T) {
	stdin := pipeWith(t, "", time.Hour, false)
	done := make(chan struct{})
	go func() {
		runPoll(t, stdin, "oneoff", "read:0", "rel:mono:1500000000")
		close(done)
	}()
	time.Sleep(300 * time.Millisecond)
	before := cpuTime()
	time.Sleep(time.Second)
	used := cpuTime() - before
	<-done
	if used > 100*time.Millisecond {
		t.Errorf("a guest blocked in poll_oneoff used %v of CPU in 1s", used)
	}
}
