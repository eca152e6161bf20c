package queue

import (
	"net/netip"
	"testing"
)

// TestRouteAllowed: an entry's own route reaches public addresses, and
// special ones (loopback, private, link-local, shared, unspecified,
// multicast, IPv4 in IPv6 of those) only in the operator's networks.
func TestRouteAllowed(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		ip          string
		bare, inNet bool
	}{
		{"192.0.2.10", true, true}, {"203.0.113.5", true, true}, {"2001:db8::25", true, true},
		{"127.0.0.1", false, false}, {"::1", false, true}, {"::ffff:127.0.0.1", false, false},
		{"10.1.2.3", false, true}, {"10.2.0.1", false, false}, {"::ffff:10.1.0.9", false, true},
		{"172.16.0.1", false, false}, {"192.168.1.1", false, false}, {"169.254.169.254", false, false},
		{"100.64.0.1", false, false}, {"0.0.0.0", false, false}, {"::", false, false},
		{"fd00::1", false, false}, {"fe80::1", false, false}, {"224.0.0.1", false, false}, {"ff02::1", false, false},
	} {
		ip := netip.MustParseAddr(c.ip)
		if got := routeAllowed(ip, nil); got != c.bare {
			t.Errorf("routeAllowed(%s) = %t, want %t", ip, got, c.bare)
		}
		if got := routeAllowed(ip, nets); got != c.inNet {
			t.Errorf("routeAllowed(%s, %v) = %t, want %t", ip, nets, got, c.inNet)
		}
	}
}
