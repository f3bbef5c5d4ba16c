package sys

import "testing"

func TestCheckArgsEnv(t *testing.T) {
	for _, tc := range []struct {
		args, env []string
		ok        bool
	}{
		{nil, nil, true},
		{[]string{"prog", "", "with 🚩 emoji"}, []string{"A=", "B=x=y"}, true},
		{[]string{"prog", "a\x00b"}, nil, false},
		{[]string{"prog"}, []string{"K=v\x00w"}, false},
		{[]string{"prog"}, []string{"K\x00=v"}, false},
	} {
		if err := CheckArgsEnv(tc.args, tc.env); (err == nil) != tc.ok {
			t.Errorf("CheckArgsEnv(%q, %q) = %v, want ok=%v", tc.args, tc.env, err, tc.ok)
		}
	}
}
