package sys

import (
	"net/netip"
	"testing"
)

func TestParseNetRule(t *testing.T) {
	type probe struct {
		addr  string
		port  uint16
		allow bool
	}
	cases := []struct {
		rule   string
		probes []probe
	}{
		{"127.0.0.1", []probe{{"127.0.0.1", 80, true}, {"127.0.0.2", 80, false}, {"::ffff:127.0.0.1", 1, true}}},
		{"10.0.0.0/8:80,443", []probe{{"10.1.2.3", 80, true}, {"10.1.2.3", 443, true}, {"10.1.2.3", 81, false}, {"11.0.0.1", 80, false}}},
		{"192.168.1.5:8000-8100", []probe{{"192.168.1.5", 8050, true}, {"192.168.1.5", 8101, false}}},
		{"[::1]/128:8080", []probe{{"::1", 8080, true}, {"::1", 8081, false}}},
		{"[::1]:53", []probe{{"::1", 53, true}, {"::2", 53, false}}},
		{"::/0", []probe{{"2001:db8::1", 1, true}, {"1.2.3.4", 1, false}}},
		{"0.0.0.0/0:*", []probe{{"8.8.8.8", 53, true}}},
	}
	for _, c := range cases {
		r, err := ParseNetRule(c.rule)
		if err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		p := NetPolicy{Rules: []NetRule{r}}
		for _, pr := range c.probes {
			if got := p.Allows(netip.MustParseAddr(pr.addr), pr.port); got != pr.allow {
				t.Errorf("%s allows %s:%d = %v, want %v", c.rule, pr.addr, pr.port, got, pr.allow)
			}
		}
	}
	for _, bad := range []string{"", "x", "1.2.3.4/33", "1.2.3.4:70000", "1.2.3.4:9-8", "[::1", "10.0.0.0/8:a"} {
		if _, err := ParseNetRule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	var none NetPolicy
	if none.On() || none.Allows(netip.MustParseAddr("127.0.0.1"), 80) {
		t.Error("the zero policy allows something")
	}
}
