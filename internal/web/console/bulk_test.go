package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// TestBulkEnableAndDisable: the address list's bulk form turns
// continuity off, then on, for exactly the selected addresses, each
// change audited; one address of another customer in the selection
// makes the request a 404.
func TestBulkEnableAndDisable(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	cli := admin.CLI()
	for _, a := range []string{"x@c1.test", "y@c1.test", "untouched@c1.test"} {
		if _, err := tr.ops.AddAddress(ctx, cli, a, "", true); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	list := b.get("/console/addresses")
	for _, a := range []string{"x@c1.test", "y@c1.test", "untouched@c1.test"} {
		if !strings.Contains(list.body, `name="address" value="`+a+`"`) {
			t.Fatalf("the list offers no checkbox for %s", a)
		}
	}
	enabled := func(addr string) bool {
		t.Helper()
		a, err := tr.ops.Address(ctx, cli, addr)
		if err != nil {
			t.Fatal(err)
		}
		return a.Enabled
	}
	sel := url.Values{"address": {"x@c1.test", "y@c1.test"}}
	sel.Set("action", "disable")
	if pg := b.post("/console/addresses/bulk", sel); pg.status != http.StatusSeeOther {
		t.Fatalf("bulk disable: %d", pg.status)
	}
	if flash := b.get("/console/addresses"); !strings.Contains(flash.body, "Continuity off for 2 addresses") {
		t.Error("no flash naming the two addresses")
	}
	if enabled("x@c1.test") || enabled("y@c1.test") || !enabled("untouched@c1.test") {
		t.Fatal("bulk disable changed other addresses than the selected two")
	}
	sel.Set("action", "enable")
	if pg := b.post("/console/addresses/bulk", sel); pg.status != http.StatusSeeOther {
		t.Fatalf("bulk enable: %d", pg.status)
	}
	if !enabled("x@c1.test") || !enabled("y@c1.test") {
		t.Fatal("bulk enable left a selected address off")
	}
	recs, err := tr.ops.SearchAudit(ctx, cli, store.AuditQuery{Actor: tr.ca1, Action: admin.OpAddressDisable})
	if err != nil || len(recs) != 2 {
		t.Errorf("%d disable records (%v), want 2", len(recs), err)
	}
	// Another customer's address in the selection: 404, and nothing of
	// the request is done, the own address included.
	foreign := url.Values{"address": {"x@c1.test", tr.u2}, "action": {"disable"}}
	if pg := b.post("/console/addresses/bulk", foreign); pg.status != http.StatusNotFound {
		t.Errorf("bulk disable with another customer's address: %d, want 404", pg.status)
	}
	if !enabled(tr.u2) || !enabled("x@c1.test") {
		t.Error("a refused bulk disable changed an address")
	}
}

// TestQueueSelectionWithForeignEntryChangesNothing: a queue form that
// names an entry of another customer beside one of the administrator's
// own is a 404, and neither entry is retried or deleted.
func TestQueueSelectionWithForeignEntryChangesNothing(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	u1, err := tr.ops.Address(ctx, admin.CLI(), tr.u1)
	if err != nil {
		t.Fatal(err)
	}
	d := store.NewDelivery([]byte("From: u1@c1.test\r\nSubject: own\r\nMessage-ID: <own@c1.test>\r\n\r\nx\r\n"), time.Now())
	d.Outbound = []store.Outbound{{AccountID: u1.ID, MailFrom: tr.u1, Rcpt: "far@elsewhere.example"}}
	if _, err := tr.srv.Store.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	before, err := tr.srv.Store.QueueEntries(ctx, store.QueueQuery{})
	if err != nil || len(before) != 2 {
		t.Fatalf("queue %v %v", before, err)
	}
	own := before[1].ID
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	b.get("/console/queue")
	for _, action := range []string{"retry", "delete"} {
		pg := b.post("/console/queue", url.Values{"action": {action}, "id": {fmt.Sprint(own), fmt.Sprint(tr.queue2)}})
		if pg.status != http.StatusNotFound {
			t.Errorf("%s of an own and a foreign entry: %d, want 404", action, pg.status)
		}
	}
	after, err := tr.srv.Store.QueueEntries(ctx, store.QueueQuery{})
	if err != nil || len(after) != 2 {
		t.Fatalf("queue after the refused requests: %d entries (%v), want both", len(after), err)
	}
	for i := range after {
		if !after[i].NextAttempt.Equal(before[i].NextAttempt) {
			t.Errorf("entry %d was retried by a refused request", after[i].ID)
		}
	}
	// Alone, the own entry is retried.
	if pg := b.post("/console/queue", url.Values{"action": {"retry"}, "id": {fmt.Sprint(own)}}); pg.status != http.StatusSeeOther {
		t.Errorf("retry of the own entry: %d", pg.status)
	}
}

// TestBulkGenerateWithForeignAddressChangesNothing: generating passwords
// for a selection with another customer's address in it is a 404 that
// sets no password, the own addresses' included (it used to set theirs
// and then answer 404 without showing them: the users were locked out).
func TestBulkGenerateWithForeignAddressChangesNothing(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	b.get("/console/addresses")
	hash := func(addr string) string {
		t.Helper()
		a, err := tr.srv.Store.Account(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		return a.PasswordHash
	}
	before := hash(tr.u1)
	sel := url.Values{"address": {tr.u1, tr.u2}, "action": {"generate"}}
	if pg := b.post("/console/addresses/bulk", sel); pg.status != http.StatusNotFound {
		t.Errorf("generate for an own and a foreign address: %d, want 404", pg.status)
	}
	if hash(tr.u1) != before || hash(tr.u2) != "" {
		t.Fatal("a refused bulk generate set a password")
	}
	// Alone, the own address gets one, shown on the page.
	pg := b.post("/console/addresses/bulk", url.Values{"address": {tr.u1}, "action": {"generate"}})
	if pg.status != http.StatusOK || hash(tr.u1) == before || !strings.Contains(pg.body, tr.u1) {
		t.Errorf("generate for the own address: %d", pg.status)
	}
}

// TestCSVFieldsAreNotFormulas: a CSV the console hands out shows a field
// that begins like a spreadsheet formula as text (a leading
// apostrophe). Addresses may begin with "=" or "-" (and a whole-domain
// address is created by whoever sends the first copy to it), and the
// passwords file of them used to carry them as they are.
func TestCSVFieldsAreNotFormulas(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	const formula = "=2+5@c1.test"
	if _, err := tr.ops.AddAddress(ctx, admin.CLI(), formula, "", true); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	b.get("/console/addresses")
	pg := b.post("/console/addresses/bulk", url.Values{"action": {"generate"}, "address": {formula, tr.u1}})
	if pg.status != http.StatusOK {
		t.Fatalf("bulk generate: %d", pg.status)
	}
	pg = b.post("/console/addresses/passwords.csv", url.Values{"row": {formula + ",pw1", tr.u1 + ",-pw2", "@x@c1.test,+pw3"}})
	want := "address,password\n'" + formula + ",pw1\n" + tr.u1 + ",'-pw2\n'@x@c1.test,'+pw3\n"
	if pg.status != http.StatusOK || pg.body != want {
		t.Errorf("passwords CSV: %d\n%s\nwant\n%s", pg.status, pg.body, want)
	}
}
