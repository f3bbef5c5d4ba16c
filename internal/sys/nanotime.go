package sys

import _ "unsafe" // for go:linkname

// nanotime is the Go runtime's monotonic clock (CLOCK_MONOTONIC). Read
// directly, it costs less than time.Since and lets System.Now be inlined
// into clock_time_get (wazero reads its clock the same way).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
