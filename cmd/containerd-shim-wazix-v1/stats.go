package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2/stats"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// procMetrics reads the CPU time, resident memory and thread count of pid
// from /proc, in the cgroup v2 metrics shape that ctr and the CRI decode.
func procMetrics(pid int) (*stats.Metrics, error) {
	if pid <= 0 {
		return nil, errors.New("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 18 {
		return nil, errors.New("bad /proc stat")
	}
	// Fields 14 and 15 (utime, stime) are f[11] and f[12]; 20 (threads) is f[17].
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	threads, _ := strconv.ParseUint(f[17], 10, 64)
	toUsec := func(ticks uint64) uint64 { return ticks * 1_000_000 / clockTicks }
	m := &stats.Metrics{
		Pids: &stats.PidsStat{Current: threads},
		CPU: &stats.CPUStat{
			UsageUsec:  toUsec(utime + stime),
			UserUsec:   toUsec(utime),
			SystemUsec: toUsec(stime),
		},
		Memory: &stats.MemoryStat{},
	}
	st, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	sc := bufio.NewScanner(st)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(fs[0], 10, 64)
		switch k {
		case "VmRSS":
			m.Memory.Usage = n * 1024
		case "RssAnon":
			m.Memory.Anon = n * 1024
		case "RssFile":
			m.Memory.File = n * 1024
		case "VmHWM":
			m.Memory.MaxUsage = n * 1024
		}
	}
	return m, nil
}
