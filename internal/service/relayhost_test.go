package service

import (
	"log/slog"
	"testing"

	"github.com/xtramail/xtramail/internal/config"
)

// TestRelayHostAsLookedUp: the relay host of the config file reaches the
// queue in the form DNS looks up and the relay's certificate names, an
// internationalised name in its A-labels, in lower case, without a final
// dot; as typed, "Bücher.Example." was dialled as such and could not be
// found.
func TestRelayHostAsLookedUp(t *testing.T) {
	for typed, want := range map[string]string{
		"Bücher.Example.":        "xn--bcher-kva.example",
		"SMARTHOST.example.org":  "smarthost.example.org",
		"relay.xn--bcher-kva.de": "relay.xn--bcher-kva.de",
		"192.0.2.25":             "192.0.2.25",
		"2001:DB8::25":           "2001:db8::25",
	} {
		cfg := config.Default()
		cfg.Queue.RelayHost = typed
		cfg.Queue.RelayPort = 587
		cfg.Capture.Allow = []string{"192.0.2.0/24"}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%q: %v", typed, err)
		}
		qc := queueConfig(&cfg, nil, slog.New(slog.DiscardHandler))
		if qc.Relay == nil || qc.Relay.Host != want {
			t.Errorf("relay_host %q reaches the queue as %+v, want host %q", typed, qc.Relay, want)
		}
	}
}
