package hostport

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
		err  string // in the error; "" for none
	}{
		{"mx.example", "mx.example", 0, ""},
		{"MX.Example.", "mx.example", 0, ""},
		{"mx.example:25", "mx.example", 25, ""},
		{"mx.example:2525", "mx.example", 2525, ""},
		{"mx.example:65535", "mx.example", 65535, ""},
		{"mx.example:1", "mx.example", 1, ""},
		{"localhost:587", "localhost", 587, ""},
		{"192.0.2.1", "192.0.2.1", 0, ""},
		{"192.0.2.1:25", "192.0.2.1", 25, ""},
		{"[2001:db8::1]", "2001:db8::1", 0, ""},
		{"[2001:DB8:0::1]:2525", "2001:db8::1", 2525, ""},
		{"[::ffff:192.0.2.1]:25", "::ffff:192.0.2.1", 25, ""},
		{"bücher.example:25", "xn--bcher-kva.example", 25, ""},

		{"mx.example:notaport", "", 0, "not a number"},
		{"mx.example:99999", "", 0, "not a number"},
		{"mx.example:65536", "", 0, "not a number"},
		{"mx.example:0", "", 0, "not a number"},
		{"mx.example:-1", "", 0, "not a number"},
		{"mx.example:+25", "", 0, "not a number"},
		{"mx.example: 25", "", 0, "not a number"},
		{"mx.example:smtp", "", 0, "not a number"},
		{"mx.example:", "", 0, "no port"},
		{":25", "", 0, "not a host name"},
		{":99999", "", 0, "not a host name"},
		{"", "", 0, "not a host name"},
		{"mx..example", "", 0, "not a host name"},
		{"-mx.example", "", 0, "not a host name"},
		{"mx_1.example", "", 0, "not a host name"},
		{"mx example", "", 0, "not a host name"},
		{"192.0.2.300", "", 0, "not a host name"},
		{"2001:db8::1", "", 0, "in brackets"},
		{"2001:db8::1:25", "", 0, "in brackets"},
		{"[2001:db8::1", "", 0, "without its"},
		{"[192.0.2.1]:25", "", 0, "not an IPv6 address"},
		{"[mx.example]:25", "", 0, "not an IPv6 address"},
		{"[fe80::1%eth0]:25", "", 0, "not an IPv6 address"},
		{"[2001:db8::1]25", "", 0, "a port follows"},
		{"[2001:db8::1]:", "", 0, "no port"},
		{"[2001:db8::1]:0x19", "", 0, "not a number"},
		{"mx.example:25:25", "", 0, "in brackets"},
	} {
		host, port, err := Parse(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Parse(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q) = %q, %d, %v; want an error saying %q", tc.in, host, port, err, tc.err)
		case host != tc.host || port != tc.port:
			t.Errorf("Parse(%q) = %q, %d; want %q, %d", tc.in, host, port, tc.host, tc.port)
		}
	}
}

// TestHost: a host alone, as the configuration's relay_host (whose port
// is relay_port) takes it: an IPv6 address without brackets, no port.
func TestHost(t *testing.T) {
	for in, want := range map[string]string{
		"smarthost.example.org": "smarthost.example.org",
		"127.0.0.1":             "127.0.0.1",
		"2001:DB8::1":           "2001:db8::1",
	} {
		if got, err := Host(in); err != nil || got != want {
			t.Errorf("Host(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"smarthost.example.org:587", "[2001:db8::1]", "", "fe80::1%eth0", "a b"} {
		if got, err := Host(in); err == nil {
			t.Errorf("Host(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzParse: whatever Parse takes, String writes back in a form Parse
// reads as the same host and port; and a port it returns is a port.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"mx.example", "mx.example:25", "[2001:db8::1]:2525", "[::1]", "192.0.2.1:587",
		"mx.example:notaport", ":99999", "bücher.example", "[::ffff:192.0.2.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := Parse(s)
		if err != nil {
			return
		}
		if port < 0 || port > 65535 || host == "" {
			t.Fatalf("Parse(%q) = %q, %d", s, host, port)
		}
		h2, p2, err := Parse(String(host, port))
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("Parse(%q) = %q, %d; its String %q reads %q, %d, %v", s, host, port, String(host, port), h2, p2, err)
		}
	})
}
