package submission_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// refusals returns the details of the refused records of addr.
func refusals(t *testing.T, srv *testserver.Server, addr string) []string {
	t.Helper()
	srv.FlushLog(t)
	evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{Address: addr, Status: msglog.Refused, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Detail)
	}
	return out
}

// TestRefusalRecordsReadOnce: a refusal's message log record says
// "submission: <code> <why>" once, in the answer's words, with no
// internal account id: the hourly limit's read "submission: submission:
// too many messages this hour: account 2 sent 3 ...".
func TestRefusalRecordsReadOnce(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Submission.MaxPerHour = 1 })
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "first@x", "")); got != "ok" {
		t.Fatalf("first message: %s", got)
	}
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "second@x", "")); got != "450 4.7.1" {
		t.Fatalf("second message over the hourly limit: %s", got)
	}
	id := strconv.FormatInt(srv.Account(t, alice).ID, 10)
	recs := refusals(t, srv, alice)
	if len(recs) != 1 {
		t.Fatalf("refused records %q, want the hourly limit's", recs)
	}
	d := recs[0]
	if !strings.HasPrefix(d, "submission: 450 4.7.1 Too many messages sent in the last hour (limit 1)") ||
		strings.Count(d, "submission") != 1 || strings.Contains(d, "account "+id) {
		t.Errorf("hourly limit record %q: want it to read once, without the account id", d)
	}
}
