package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// browser is one administrator's HTTPS client to the console: cookies
// kept, redirects not followed (tests check them), the CSRF token of the
// last page read.
type browser struct {
	t    testing.TB
	srv  *testserver.Server
	c    *http.Client
	csrf string
}

func newBrowser(t testing.TB, srv *testserver.Server) *browser {
	return &browser{t: t, srv: srv, c: srv.HTTPClient()}
}

var (
	csrfMeta    = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

type page struct {
	status   int
	body     string
	location string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	if m := csrfMeta.FindStringSubmatch(string(body)); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return page{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.Web+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form with the session's CSRF token, as the page's form
// would.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if b.csrf != "" && !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	return b.postRaw(path, form, nil)
}

func (b *browser) postRaw(path string, form url.Values, header http.Header) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.Web+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return b.do(req)
}

// hidden returns the value of a page's hidden input.
func (p page) hidden(name string) string {
	for _, m := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// signIn signs in with a password; an administrator with a second factor
// is then asked for a code, made from secret at the time now.
func (b *browser) signIn(email, password, secret string) {
	b.t.Helper()
	pg := b.postRaw("/console/login", url.Values{"email": {email}, "password": {password}}, nil)
	if pg.status != http.StatusSeeOther {
		b.t.Fatalf("sign in %s: status %d, want 303: %s", email, pg.status, pg.body)
	}
	if strings.HasPrefix(pg.location, "/console/login/totp") {
		b.get(pg.location)
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			b.t.Fatal(err)
		}
		pg = b.post("/console/login/totp", url.Values{"code": {code}})
		if pg.status != http.StatusSeeOther {
			b.t.Fatalf("TOTP of %s: status %d: %s", email, pg.status, pg.body)
		}
	}
	if pg.location != "/console/" {
		b.t.Fatalf("sign in %s: sent to %q, want /console/", email, pg.location)
	}
	if home := b.get("/console/"); home.status != http.StatusOK {
		b.t.Fatalf("dashboard after sign-in of %s: %d", email, home.status)
	}
}

// tree is a provider with two resellers, each with one customer, one
// domain and one address, and an administrator of each level.
type tree struct {
	srv        *testserver.Server
	ops        *admin.Service
	r1, r2     store.Reseller
	c1, c2     store.Customer
	d1, d2     store.Domain
	u1, u2     string // addresses
	provider   string // emails; every password is adminPassword
	ra1, ca1   string
	ca2        string
	ca2ID      int64
	token2     int64  // an API token of ca2
	msg2       string // Message-ID of a log record of u2
	queue2     int64  // a queue entry of u2
	expunged2  int64  // a deleted message of u2
	providerID int64
}

const adminPassword = "correct horse battery"

// newOps is the tests' own admin.Service on the server's store, to
// prepare state. Its hashes are cheap: sign-in verifies a hash with the
// hash's own parameters, so the service's sign-in stays the real one.
func newOps(t testing.TB, srv *testserver.Server) *admin.Service {
	t.Helper()
	h, err := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	return admin.New(srv.Store, admin.Options{Hasher: h})
}

func newTree(t *testing.T) *tree {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{Data: freshData(t), Configure: func(c *config.Config) { c.Web.SystemSender = "continuity@example.test" }})
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	tr := &tree{srv: srv, ops: ops, u1: "u1@c1.test", u2: "u2@c2.test",
		provider: "provider@example.test", ra1: "ra1@r1.test", ca1: "ca1@c1.test", ca2: "ca2@c2.test"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	tr.r1, err = ops.AddReseller(ctx, cli, "Reseller One")
	must(err)
	tr.r2, err = ops.AddReseller(ctx, cli, "Reseller Two")
	must(err)
	tr.c1, err = ops.AddCustomer(ctx, cli, tr.r1.ID, "Customer One")
	must(err)
	tr.c2, err = ops.AddCustomer(ctx, cli, tr.r2.ID, "Customer Two")
	must(err)
	tr.d1, err = ops.AddDomain(ctx, cli, tr.c1.ID, "c1.test", 0)
	must(err)
	tr.d2, err = ops.AddDomain(ctx, cli, tr.c2.ID, "c2.test", 0)
	must(err)
	_, err = ops.AddAddress(ctx, cli, tr.u1, "", true)
	must(err)
	acct2, err := ops.AddAddress(ctx, cli, tr.u2, "", true)
	must(err)
	pa, err := ops.AddAdmin(ctx, cli, tr.provider, adminPassword, store.RoleProvider, 0)
	must(err)
	tr.providerID = pa.ID
	_, err = ops.AddAdmin(ctx, cli, tr.ra1, adminPassword, store.RoleReseller, tr.r1.ID)
	must(err)
	_, err = ops.AddAdmin(ctx, cli, tr.ca1, adminPassword, store.RoleCustomer, tr.c1.ID)
	must(err)
	ca2, err := ops.AddAdmin(ctx, cli, tr.ca2, adminPassword, store.RoleCustomer, tr.c2.ID)
	must(err)
	tr.ca2ID = ca2.ID
	_, tok, err := ops.CreateToken(ctx, cli, ca2.ID, "ca2 script", time.Time{})
	must(err)
	tr.token2 = tok.ID

	// A message of u2: in the log, deleted from its INBOX, and one copy
	// queued to an outside recipient.
	tr.msg2 = "m2@c2.test"
	raw := []byte("From: u2@c2.test\r\nTo: someone@elsewhere.example\r\nSubject: Quarterly figures\r\nMessage-ID: <m2@c2.test>\r\n\r\nHello.\r\n")
	d := store.NewDelivery(raw, time.Now())
	d.Copies = []store.Copy{{AccountID: acct2.ID, Mailbox: store.Inbox}}
	d.Outbound = []store.Outbound{{AccountID: acct2.ID, MailFrom: tr.u2, Rcpt: "someone@elsewhere.example"}}
	d.Events = []store.LogEvent{{Time: time.Now(), Status: msglog.Stored, MessageID: tr.msg2, Subject: "Quarterly figures",
		MailFrom: tr.u2, Rcpt: tr.u2, DomainID: tr.d2.ID}}
	delivered, err := srv.Store.Deliver(ctx, d)
	must(err)
	must(srv.Store.Expunge(ctx, acct2.ID, delivered[0].MailboxID, []int64{delivered[0].MessageID}))
	tr.expunged2 = delivered[0].MessageID
	qs, err := srv.Store.QueueEntries(ctx, store.QueueQuery{})
	must(err)
	if len(qs) != 1 {
		t.Fatalf("%d queue entries, want 1", len(qs))
	}
	tr.queue2 = qs[0].ID
	return tr
}
