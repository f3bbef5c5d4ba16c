package wasix

import (
	"reflect"
	"testing"
)

// TestSplitArgs: wasix-libc's argument string ends each argument with a
// line feed; empty arguments survive, as on Linux, and a carriage return
// is part of an argument.
func TestSplitArgs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"sh\n", []string{"sh"}},
		{"sh\n-c\n\n", []string{"sh", "-c", ""}},
		{"a\n\nb\n", []string{"a", "", "b"}},
		{"a\nb", []string{"a", "b"}}, // no final line feed
		{"\n", []string{""}},
		{"a\r\nb\x00", []string{"a\r", "b"}},
	} {
		if got := splitArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
