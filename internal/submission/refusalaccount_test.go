package submission_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestRefusalRecordsNameTheSignedInAccount: every refused record of a
// signed-in session names the account as its sender, so that "xtramail
// log search --address <account> --status refused" finds it, and keeps
// the MAIL FROM address the client gave in its detail. Before, the
// record of a forged envelope sender had that sender as mail_from (it
// read as if bob had sent it, and the account's search found nothing),
// and a revoked sign-in's record had no address at all.
func TestRefusalRecordsNameTheSignedInAccount(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	const limit = 4096
	srv := start(t, func(c *config.Config) {
		c.Submission.MaxPerHour = 1
		c.Submission.MaxMessageBytes = limit
	})
	forged := []string{bob, outsider, fmt.Sprintf("boss%d@example.test", rng.IntN(1e6))}[rng.IntN(3)]
	tag := fmt.Sprintf("alice+t%d@example.test", rng.IntN(1e6))
	big := msg(alice, outsider, "big@x", "") + strings.Repeat("0123456789abcdef\r\n", limit/16)

	// Each refusal, in an order that lets the hourly limit's come after
	// the one message it allows and the revocation's last.
	cases := []struct {
		name, reply string
		mailFrom    string // the MAIL FROM the detail must name, if any
		refuse      func() string
	}{
		{"forged envelope sender", "550 5.7.1", forged, func() string {
			return send(authedClient(t, srv), forged, []string{outsider}, msg(alice, outsider, "forged@x", ""))
		}},
		{"over the size limit", "552 5.3.4", "", func() string {
			return send(authedClient(t, srv), alice, []string{outsider}, big)
		}},
		{"over the hourly limit", "450 4.7.1", tag, func() string {
			c := authedClient(t, srv)
			if got := send(c, alice, []string{outsider}, msg(alice, outsider, "first@x", "")); got != "ok" {
				t.Fatalf("the message within the limit: %s", got)
			}
			return send(c, tag, []string{outsider}, msg(tag, outsider, "second@x", ""))
		}},
		{"revoked sign-in", "530 5.7.0", "", func() string {
			c := authedClient(t, srv)
			hash := srv.Account(t, alice).PasswordHash
			if err := srv.Store.SetPassword(context.Background(), alice, hash+"-changed"); err != nil {
				t.Fatal(err)
			}
			return send(c, alice, []string{outsider}, msg(alice, outsider, "revoked@x", ""))
		}},
	}
	for _, tc := range cases {
		if got := tc.refuse(); got != tc.reply {
			t.Fatalf("%s: %s, want %s", tc.name, got, tc.reply)
		}
	}

	srv.FlushLog(t)
	evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{Address: alice, Status: msglog.Refused, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		var found []store.LogEvent
		for _, e := range evs {
			if strings.HasPrefix(e.Detail, "submission: "+tc.reply+" ") {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d refused records found by %s, want 1 (all: %+v)", tc.name, len(found), alice, evs)
			continue
		}
		e := found[0]
		if e.MailFrom != alice {
			t.Errorf("%s: record's sender %q, want the signed-in %s", tc.name, e.MailFrom, alice)
		}
		if tc.mailFrom != "" && !strings.Contains(e.Detail, fmt.Sprintf("MAIL FROM %q", tc.mailFrom)) {
			t.Errorf("%s: detail %q does not name MAIL FROM %s", tc.name, e.Detail, tc.mailFrom)
		}
	}
	// The forged address did not send it: its own search does not find
	// the refusal (it may find those of messages to it).
	for _, d := range refusals(t, srv, forged) {
		if strings.HasPrefix(d, "submission: 550 5.7.1 ") {
			t.Errorf("the forged sender's refusal found by %s: %q", forged, d)
		}
	}
}
