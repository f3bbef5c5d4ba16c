package wazix

import (
	"github.com/wazix/wazix/internal/trace"
)

// TraceEvent is one host call of a guest, with its arguments decoded from
// guest memory, its errno, its out-values and the time it took (see
// WithTracer). Its String method gives the line `wazix run --trace` prints.
type TraceEvent = trace.Event

// TraceCategory selects kinds of host calls: TraceFS, TraceNet, ...
type TraceCategory = trace.Category

// Trace categories.
const (
	TraceFS     = trace.FS
	TraceNet    = trace.Net
	TracePoll   = trace.Poll
	TraceProc   = trace.Proc
	TraceThread = trace.Thread
	TraceSignal = trace.Signal
	TraceClock  = trace.Clock
	TraceRandom = trace.Random
	TraceMem    = trace.Mem
	TraceAll    = trace.All
)

// ParseTraceCategories parses a comma-separated list of categories ("fs,net";
// "all" or "" for every category).
func ParseTraceCategories(s string) (TraceCategory, error) { return trace.ParseCategories(s) }

// WithTracer calls f after every host call of the categories given (0 means
// all) with the decoded call, from the guest's threads, concurrently. It is
// for logging and metering guests; f must not keep the guest waiting long.
// WithTracer may be given several times. Without a tracer the host
// functions are not wrapped at all, so tracing costs nothing when off.
func (c *Config) WithTracer(f func(TraceEvent), categories TraceCategory) *Config {
	c.tracers = append(c.tracers, trace.Hook{Categories: categories, Func: f})
	return c
}
