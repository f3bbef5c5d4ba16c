//go:build race

package testtools

// RaceEnabled reports whether the race detector is on. Its instrumentation
// costs CPU, so tests that measure a guest's idle CPU skip that check.
const RaceEnabled = true
