package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestRelayHostLoaded: [queue] relay_host is a host alone, read as a
// domain's relay host is (hostport): a name or an IP address, its port in
// relay_port (1 to 65535). A port written into relay_host, or a host that
// is no host, is refused when the file is loaded, naming the key; before,
// "smarthost.example.org:587" was taken and every delivery failed to look
// up a host of that name (probe 38c).
func TestRelayHostLoaded(t *testing.T) {
	for _, tc := range []struct {
		host string
		port string // TOML value
		err  string // in Validate's error; "" for none
	}{
		{`"smarthost.example.org"`, "587", ""},
		{`"Smarthost.Example.org."`, "25", ""},
		{`"192.0.2.25"`, "25", ""},
		{`"2001:db8::25"`, "2525", ""},
		{`"localhost"`, "65535", ""},
		{`"smarthost.example.org:587"`, "587", "the port goes in relay_port"},
		{`"smarthost.example.org:notaport"`, "587", "queue.relay_host"},
		{`"smarthost.example.org:"`, "587", "queue.relay_host"},
		{`":99999"`, "587", "queue.relay_host"},
		{`"[2001:db8::25]"`, "587", "without brackets"},
		{`"[2001:db8::25]:25"`, "587", "the port goes in relay_port"},
		{`"smart host"`, "587", "queue.relay_host"},
		{`"192.0.2.300"`, "587", "queue.relay_host"},
		{`"smarthost.example.org"`, "99999", "relay_port"},
		{`"smarthost.example.org"`, "0", "relay_port"},
		{`"smarthost.example.org"`, "-1", "relay_port"},
	} {
		c := Default()
		err := Load(write(t, fmt.Sprintf("[capture]\nallow = [\"192.0.2.1\"]\n[queue]\nrelay_host = %s\nrelay_port = %s\n", tc.host, tc.port)), &c)
		if err == nil {
			err = c.Validate()
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("relay_host = %s, relay_port = %s: %v", tc.host, tc.port, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("relay_host = %s, relay_port = %s: %v, want an error saying %q", tc.host, tc.port, err, tc.err)
		}
	}
	// A port in relay_port that TOML reads as no number is the loader's
	// error.
	c := Default()
	if err := Load(write(t, "[queue]\nrelay_host = \"smarthost.example.org\"\nrelay_port = \"smtp\"\n"), &c); err == nil || !strings.Contains(err.Error(), "relay_port") {
		t.Errorf("relay_port = \"smtp\": %v", err)
	}
}
