package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestSignInLinkLimitShown: a 6th sign-in link to one alternate address
// within the hour is refused with a page that says so (429, the limit
// and when to try again in the form's error), and nothing more is
// queued.
func TestSignInLinkLimitShown(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	enrol(t, b, tr.provider)
	to := url.Values{"to": {"u1.home@personal.example"}}
	for i := range 5 {
		if pg := b.post("/console/addresses/"+tr.u1+"/link", to); pg.status != http.StatusOK || !strings.Contains(pg.body, "Link sent to u1.home@personal.example") {
			t.Fatalf("link %d: %d", i+1, pg.status)
		}
	}
	pg := b.post("/console/addresses/"+tr.u1+"/link", to)
	if pg.status != http.StatusTooManyRequests || !strings.Contains(pg.body, "alert-error") ||
		!strings.Contains(pg.body, "Too many sign-in links sent to u1.home@personal.example: at most 5 an hour. Try again in") ||
		strings.Contains(pg.body, "Link sent to") {
		t.Errorf("6th link: %d\n%s", pg.status, pg.body)
	}
	qs, err := tr.srv.Store.QueueEntries(context.Background(), store.QueueQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range qs {
		if q.Rcpt == "u1.home@personal.example" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d mails queued to the address, want 5", n)
	}
}
