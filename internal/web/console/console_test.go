package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// enrol signs a provider administrator in for the first time: password,
// then the enrolment page's secret, then a code made from it. It returns
// the secret and the time step the code used.
func enrol(t *testing.T, b *browser, email string) (secret string, used time.Time) {
	t.Helper()
	pg := b.postRaw("/console/login", url.Values{"email": {email}, "password": {adminPassword}}, nil)
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/login/enrol") {
		t.Fatalf("first sign-in of %s: %d to %q, want 303 to the enrolment", email, pg.status, pg.location)
	}
	pg = b.get(pg.location)
	secret = shownSecret(pg)
	if secret == "" || !strings.Contains(pg.body, "<svg class=\"xc-qrcode\"") {
		t.Fatalf("enrolment page without secret or QR code: %s", pg.body)
	}
	used = time.Now()
	code, err := totp.GenerateCode(secret, used)
	if err != nil {
		t.Fatal(err)
	}
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	if pg := b.post("/console/login/enrol", url.Values{"code": {wrong}}); pg.status != http.StatusUnauthorized || shownSecret(pg) != secret {
		t.Fatalf("enrolment with a wrong code: %d, want 401 and the same secret shown again", pg.status)
	}
	pg = b.post("/console/login/enrol", url.Values{"code": {code}})
	if pg.status != http.StatusSeeOther || pg.location != "/console/" {
		t.Fatalf("enrolment with the right code: %d to %q: %s", pg.status, pg.location, pg.body)
	}
	if home := b.get("/console/"); home.status != http.StatusOK {
		t.Fatalf("dashboard after enrolment: %d", home.status)
	}
	return secret, used
}

var secretShown = regexp.MustCompile(`<code class="xc-secret">([A-Z2-7]+)</code>`)

// shownSecret is the TOTP key a page shows for typing.
func shownSecret(pg page) string {
	m := secretShown.FindStringSubmatch(pg.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// TestTOTPSignInAndReplay: a provider administrator enrols at first
// sign-in; the console is closed between password and code; a code
// already used is refused (RFC 6238 section 5.2), the next step's is
// accepted.
func TestTOTPSignInAndReplay(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	secret, used := enrol(t, b, tr.provider)
	if pg := b.post("/console/logout", nil); pg.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", pg.status)
	}
	if pg := b.get("/console/domains"); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/login") {
		t.Fatalf("console after sign-out: %d to %q, want the sign-in page", pg.status, pg.location)
	}

	b2 := newBrowser(t, tr.srv)
	pg := b2.postRaw("/console/login", url.Values{"email": {tr.provider}, "password": {adminPassword}}, nil)
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/login/totp") {
		t.Fatalf("second sign-in: %d to %q, want the code page", pg.status, pg.location)
	}
	// Password right, code not given yet: the console stays closed.
	if pg := b2.get("/console/domains"); pg.status != http.StatusSeeOther {
		t.Fatalf("console between password and code: %d, want a redirect to sign-in", pg.status)
	}
	b2.get("/console/login/totp")
	replayed, _ := totp.GenerateCode(secret, used)
	if pg := b2.post("/console/login/totp", url.Values{"code": {replayed}}); pg.status != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d, want 401", pg.status)
	}
	next, _ := totp.GenerateCode(secret, used.Add(30*time.Second))
	pg = b2.post("/console/login/totp", url.Values{"code": {next}})
	if pg.status != http.StatusSeeOther || pg.location != "/console/" {
		t.Fatalf("next step's code: %d to %q", pg.status, pg.location)
	}
	if pg := b2.get("/console/domains"); pg.status != http.StatusOK || !strings.Contains(pg.body, "c2.test") {
		t.Fatalf("domains after sign-in: %d", pg.status)
	}
}

// TestWrongCodesAreLimited: after a few wrong codes the right one is
// refused too, so the code cannot be found by trying.
func TestWrongCodesAreLimited(t *testing.T) {
	tr := newTree(t)
	secret, _ := enrol(t, newBrowser(t, tr.srv), tr.provider)
	b := newBrowser(t, tr.srv)
	b.postRaw("/console/login", url.Values{"email": {tr.provider}, "password": {adminPassword}}, nil)
	b.get("/console/login/totp")
	right, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	for i := range 5 {
		wrong := fmt.Sprintf("%06d", (atoi(right)+1+i)%1000000)
		if pg := b.post("/console/login/totp", url.Values{"code": {wrong}}); pg.status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d, want 401", i, pg.status)
		}
	}
	if pg := b.post("/console/login/totp", url.Values{"code": {right}}); pg.status != http.StatusTooManyRequests {
		t.Fatalf("right code after 5 wrong ones: %d, want 429", pg.status)
	}
}

func TestWrongPassword(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	pg := b.postRaw("/console/login", url.Values{"email": {tr.ca1}, "password": {"not the password"}}, nil)
	if pg.status != http.StatusUnauthorized || !strings.Contains(pg.body, "Wrong email or password") {
		t.Fatalf("wrong password: %d: %s", pg.status, pg.body)
	}
	if pg := b.get("/console/"); pg.status != http.StatusSeeOther {
		t.Fatalf("console after a wrong password: %d", pg.status)
	}
}

// TestForeignIDsAre404 asks, as customer one's administrator, for every
// kind of object of customer two by its id or name in the URL or form:
// each is the 404 page, exactly as for an object that does not exist,
// nothing changes, and the attempts are in the audit log.
func TestForeignIDsAre404(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	for _, c := range []struct {
		name, method, path string
		form               url.Values
	}{
		{"customer", "GET", fmt.Sprintf("/console/customers/%d", tr.c2.ID), nil},
		{"domain", "GET", "/console/domains/c2.test", nil},
		{"domain settings", "POST", "/console/domains/c2.test", url.Values{"retention": {"5"}}},
		{"domain DKIM", "POST", "/console/domains/c2.test/dkim", url.Values{"algorithm": {"ed25519"}}},
		{"address", "GET", "/console/addresses/" + tr.u2, nil},
		{"address disable", "POST", "/console/addresses/" + tr.u2 + "/enabled", url.Values{"enabled": {"0"}}},
		{"address password", "POST", "/console/addresses/" + tr.u2 + "/password", url.Values{"action": {"set"}, "password": {"a new password 1"}}},
		{"address generate", "POST", "/console/addresses/" + tr.u2 + "/password", url.Values{"action": {"generate"}}},
		{"address link", "POST", "/console/addresses/" + tr.u2 + "/link", nil},
		{"address remove", "POST", "/console/addresses/" + tr.u2 + "/delete", nil},
		{"bulk disable", "POST", "/console/addresses/bulk", url.Values{"action": {"disable"}, "address": {tr.u2}}},
		{"timeline", "GET", "/console/log/timeline?message_id=" + url.QueryEscape(tr.msg2), nil},
		{"restore", "POST", "/console/messages/restore", url.Values{"address": {tr.u2}, "id": {fmt.Sprint(tr.expunged2)}, "message_id": {tr.msg2}}},
		{"redeliver", "POST", "/console/messages/redeliver", url.Values{"address": {tr.u2}, "id": {fmt.Sprint(tr.expunged2)}, "message_id": {tr.msg2}}},
		{"address link sent", "POST", "/console/addresses/" + tr.u2 + "/link", url.Values{"to": {"u2.home@personal.example"}}},
		{"queue retry", "POST", "/console/queue", url.Values{"action": {"retry"}, "id": {fmt.Sprint(tr.queue2)}}},
		{"queue delete", "POST", "/console/queue", url.Values{"action": {"delete"}, "id": {fmt.Sprint(tr.queue2)}}},
		{"admin disable", "POST", fmt.Sprintf("/console/admins/%d/disabled", tr.ca2ID), url.Values{"disabled": {"1"}}},
		{"admin remove", "POST", fmt.Sprintf("/console/admins/%d/delete", tr.ca2ID), nil},
		{"admin second factors", "GET", fmt.Sprintf("/console/admins/%d/factors", tr.ca2ID), nil},
		{"admin second factors reset", "POST", fmt.Sprintf("/console/admins/%d/factors/reset", tr.ca2ID), nil},
		{"token revoke", "POST", fmt.Sprintf("/console/tokens/%d/revoke", tr.token2), nil},
		{"import job", "GET", "/console/import/not-a-job-of-yours", nil},
		{"no such page", "GET", "/console/nothing-here", nil},
	} {
		var pg page
		if c.method == "GET" {
			pg = b.get(c.path)
		} else {
			pg = b.post(c.path, c.form)
		}
		if pg.status != http.StatusNotFound {
			t.Errorf("%s: %s %s: status %d, want 404", c.name, c.method, c.path, pg.status)
		}
		if strings.Contains(pg.body, "c2.test") || strings.Contains(pg.body, "Customer Two") {
			t.Errorf("%s: the 404 page names the other tenant's object", c.name)
		}
	}

	ctx := context.Background()
	cli := admin.CLI()
	u2, err := tr.ops.Address(ctx, cli, tr.u2)
	if err != nil || !u2.Enabled || u2.PasswordHash != "" {
		t.Errorf("u2 changed by another tenant's admin: %+v, %v", u2, err)
	}
	if d2, err := tr.ops.Domain(ctx, cli, "c2.test"); err != nil || d2.RetentionDays == 5 {
		t.Errorf("c2.test changed: %+v, %v", d2, err)
	}
	if qs, err := tr.srv.Store.QueueEntries(ctx, store.QueueQuery{}); err != nil || len(qs) != 1 {
		t.Errorf("queue entry of c2 deleted: %d, %v", len(qs), err)
	}
	toks, err := tr.ops.Tokens(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if tk.ID == tr.token2 && tk.Revoked {
			t.Error("ca2's token was revoked by ca1")
		}
	}
	recs, err := tr.ops.SearchAudit(ctx, cli, store.AuditQuery{Actor: tr.ca1, Action: "denied"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 10 {
		t.Errorf("%d denied attempts in the audit log, want one per cross-tenant request (>= 10)", len(recs))
	}
	// The queue entry's id is named, once for the retry, once for the
	// delete.
	qrecs, err := tr.ops.SearchAudit(ctx, cli, store.AuditQuery{Actor: tr.ca1, Action: "denied", Object: fmt.Sprintf("queue %d", tr.queue2)})
	if err != nil || len(qrecs) != 2 {
		t.Errorf("%d denied records for c2's queue entry (%v), want 2", len(qrecs), err)
	}
}

// TestRolesSeeOnlyTheirSubtree checks the lists: a reseller administrator
// sees its customers and their domains only, a customer administrator
// its own domains and addresses, and neither gets the provider's pages.
func TestRolesSeeOnlyTheirSubtree(t *testing.T) {
	tr := newTree(t)
	ra := newBrowser(t, tr.srv)
	ra.signIn(tr.ra1, adminPassword, "")
	for path, want := range map[string]string{
		"/console/customers": "Customer One",
		"/console/domains":   "c1.test",
		"/console/addresses": tr.u1,
		"/console/admins":    tr.ca1,
	} {
		pg := ra.get(path)
		if pg.status != http.StatusOK || !strings.Contains(pg.body, want) {
			t.Errorf("reseller %s: %d, lacks %q", path, pg.status, want)
		}
		for _, foreign := range []string{"Customer Two", "c2.test", tr.u2, tr.ca2} {
			if strings.Contains(pg.body, foreign) {
				t.Errorf("reseller %s shows %q of another reseller", path, foreign)
			}
		}
	}
	if pg := ra.get(fmt.Sprintf("/console/customers?reseller=%d", tr.r2.ID)); pg.status != http.StatusNotFound {
		t.Errorf("reseller one's view of reseller two's customers: %d, want 404", pg.status)
	}
	if pg := ra.post(fmt.Sprintf("/console/customers/%d/delete", tr.c2.ID), nil); pg.status != http.StatusNotFound {
		t.Errorf("reseller one removing reseller two's customer: %d, want 404", pg.status)
	}
	if pg := ra.post(fmt.Sprintf("/console/resellers/%d/delete", tr.r2.ID), nil); pg.status != http.StatusForbidden {
		t.Errorf("reseller admin removing a reseller: %d, want 403 (role)", pg.status)
	}

	ca := newBrowser(t, tr.srv)
	ca.signIn(tr.ca1, adminPassword, "")
	home := ca.get("/console/")
	for _, hidden := range []string{`href="/console/resellers"`, `href="/console/customers"`} {
		if strings.Contains(home.body, hidden) {
			t.Errorf("customer admin's navigation has %s", hidden)
		}
	}
	if pg := ca.get("/console/resellers"); pg.status != http.StatusForbidden {
		t.Errorf("customer admin's resellers page: %d, want 403", pg.status)
	}
	if pg := ca.get("/console/customers"); pg.status != http.StatusSeeOther || pg.location != fmt.Sprintf("/console/customers/%d", tr.c1.ID) {
		t.Errorf("customer admin's customers: %d to %q, want their own customer", pg.status, pg.location)
	}
	pg := ca.get("/console/log?address=" + url.QueryEscape(tr.u2))
	if pg.status != http.StatusOK || strings.Contains(pg.body, "Quarterly figures") {
		t.Errorf("customer one's log search shows customer two's message (%d)", pg.status)
	}
	if pg := ca.get("/console/queue"); strings.Contains(pg.body, "someone@elsewhere.example") {
		t.Error("customer one's queue shows customer two's entry")
	}
}

// TestCSRFRefused: a state change with the session cookie but without
// the session's token, or marked cross-site by the browser, is refused
// and changes nothing.
func TestCSRFRefused(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	path := "/console/addresses/" + tr.u1 + "/enabled"
	if pg := b.postRaw(path, url.Values{"enabled": {"0"}}, nil); pg.status != http.StatusForbidden {
		t.Errorf("POST without token: %d, want 403", pg.status)
	}
	if pg := b.postRaw(path, url.Values{"enabled": {"0"}, "csrf": {"forged"}}, nil); pg.status != http.StatusForbidden {
		t.Errorf("POST with a wrong token: %d, want 403", pg.status)
	}
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	if pg := b.postRaw(path, url.Values{"enabled": {"0"}, "csrf": {b.csrf}}, cross); pg.status != http.StatusForbidden {
		t.Errorf("cross-site POST with the token: %d, want 403", pg.status)
	}
	u1, err := tr.ops.Address(context.Background(), admin.CLI(), tr.u1)
	if err != nil || !u1.Enabled {
		t.Fatalf("u1 disabled by a refused request: %+v %v", u1, err)
	}
	if pg := b.post(path, url.Values{"enabled": {"0"}}); pg.status != http.StatusSeeOther {
		t.Errorf("POST with the token: %d, want 303", pg.status)
	}
	u1, _ = tr.ops.Address(context.Background(), admin.CLI(), tr.u1)
	if u1.Enabled {
		t.Error("the form with its token did not disable u1")
	}
}

// TestDisabledAdminIsSignedOut: an administrator disabled by another is
// out at their next request.
func TestDisabledAdminIsSignedOut(t *testing.T) {
	tr := newTree(t)
	ca := newBrowser(t, tr.srv)
	ca.signIn(tr.ca1, adminPassword, "")
	ra := newBrowser(t, tr.srv)
	ra.signIn(tr.ra1, adminPassword, "")
	as, err := tr.ops.Admins(context.Background(), admin.CLI())
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, a := range as {
		if a.Email == tr.ca1 {
			id = a.ID
		}
	}
	if pg := ra.post(fmt.Sprintf("/console/admins/%d/disabled", id), url.Values{"disabled": {"1"}}); pg.status != http.StatusSeeOther {
		t.Fatalf("disable ca1: %d: %s", pg.status, pg.body)
	}
	if pg := ca.get("/console/domains"); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/login") {
		t.Fatalf("disabled admin's next request: %d to %q, want the sign-in page", pg.status, pg.location)
	}
}

// TestPagesRender opens every page as the provider, and makes the
// changes each form offers, checking the result.
func TestPagesRender(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	enrol(t, b, tr.provider)
	for path, want := range map[string]string{
		"/console/":          "Messages captured and sent per day",
		"/console/resellers": "Reseller Two",
		"/console/customers": "Customer Two",
		fmt.Sprintf("/console/customers/%d", tr.c2.ID): "c2.test",
		"/console/domains":                            "c1.test",
		"/console/domains/c2.test":                    "Retention window",
		"/console/addresses":                          tr.u2,
		"/console/addresses?q=u2":                     tr.u2,
		"/console/addresses/" + tr.u2:                 "Continuity is <strong>on</strong>",
		"/console/import":                             "CSV file",
		"/console/log":                                "Message-ID",
		"/console/log?address=" + tr.u2:               "Quarterly figures",
		"/console/log?subject=quarterly":              "Quarterly figures",
		"/console/log/timeline?message_id=" + tr.msg2: "Restore",
		"/console/queue":                              "someone@elsewhere.example",
		"/console/audit":                              "domain.add",
		"/console/admins":                             tr.ca2,
		"/console/tokens":                             "ca2 script",
	} {
		pg := b.get(path)
		if pg.status != http.StatusOK || !strings.Contains(pg.body, want) {
			t.Errorf("GET %s: %d, lacks %q", path, pg.status, want)
		}
	}

	// Forms.
	if pg := b.post("/console/resellers", url.Values{"name": {"Reseller Three"}}); pg.status != http.StatusSeeOther {
		t.Errorf("add reseller: %d", pg.status)
	}
	pg := b.post("/console/customers", url.Values{"name": {"Customer Three"}, "reseller": {"0"}})
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/customers/") {
		t.Fatalf("add customer: %d %q", pg.status, pg.location)
	}
	c3 := strings.TrimPrefix(pg.location, "/console/customers/")
	if pg := b.post("/console/domains", url.Values{"name": {"c3.test"}, "customer": {c3}}); pg.status != http.StatusSeeOther || pg.location != "/console/domains/c3.test" {
		t.Errorf("add domain: %d %q", pg.status, pg.location)
	}
	if pg := b.post("/console/domains", url.Values{"name": {"not a domain"}, "customer": {c3}}); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "alert-error") {
		t.Errorf("add a bad domain: %d, want 400 with the form's error", pg.status)
	}
	if pg := b.post("/console/domains/c3.test", url.Values{"retention": {"45"}, "whole": {"1"}, "continuity_only": {"1"}, "allowed": {"192.0.2.0/24\n2001:db8::1"}, "relay": {"mail.c3.test:25"}}); pg.status != http.StatusSeeOther {
		t.Errorf("domain settings: %d: %s", pg.status, pg.body)
	}
	dom := b.get("/console/domains/c3.test")
	for _, want := range []string{`value="45"`, "checked", `id="continuity_only" name="continuity_only" type="checkbox" value="1" checked`, "192.0.2.0/24", "mail.c3.test:25"} {
		if !strings.Contains(dom.body, want) {
			t.Errorf("domain page after saving lacks %q", want)
		}
	}
	if pg := b.post("/console/domains/c3.test/dkim", url.Values{"algorithm": {"ed25519"}}); pg.status != http.StatusSeeOther {
		t.Errorf("DKIM key: %d", pg.status)
	}
	if pg := b.get("/console/domains/c3.test"); !strings.Contains(pg.body, "._domainkey.c3.test") || !strings.Contains(pg.body, "v=DKIM1") ||
		!strings.Contains(pg.body, "Waiting for its record") {
		t.Errorf("domain page lacks the DKIM record to publish, or does not say the key waits for it")
	}
	// Once its record is seen (dkim.ActivatePending), the key signs and
	// the page no longer says it waits.
	if ks, err := tr.srv.Store.PendingDKIMKeys(context.Background(), "c3.test"); err != nil || len(ks) != 1 {
		t.Errorf("pending keys of c3.test: %v, %v", ks, err)
	} else if err := tr.srv.Store.ActivateDKIMKey(context.Background(), "c3.test", ks[0].Selector, time.Now()); err != nil {
		t.Fatal(err)
	}
	if pg := b.get("/console/domains/c3.test"); !strings.Contains(pg.body, "v=DKIM1") || strings.Contains(pg.body, "Waiting for its record") {
		t.Errorf("domain page after activation lacks the record, or still says the key waits")
	}
	if pg := b.post("/console/addresses", url.Values{"address": {"new@c3.test"}, "enabled": {"1"}}); pg.status != http.StatusSeeOther {
		t.Errorf("add address: %d", pg.status)
	}
	pg = b.post("/console/addresses/new@c3.test/password", url.Values{"action": {"generate"}})
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "shown once") {
		t.Errorf("generate a password: %d", pg.status)
	}
	// The sign-in link is mailed (queued: this service has no worker);
	// the page says where it went and never shows the link.
	pg = b.post("/console/addresses/new@c3.test/link", url.Values{"to": {"new.home@personal.example"}})
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Link sent to new.home@personal.example") || strings.Contains(pg.body, "/login/link?token=") {
		t.Errorf("sign-in link: %d", pg.status)
	}
	if pg := b.get("/console/queue"); !strings.Contains(pg.body, "new.home@personal.example") {
		t.Error("the sign-in link's mail is not in the queue")
	}
	pg = b.post("/console/addresses/bulk", url.Values{"action": {"generate"}, "address": {tr.u1, tr.u2}})
	if pg.status != http.StatusOK || strings.Count(pg.body, `name="row"`) != 2 {
		t.Errorf("bulk generate: %d", pg.status)
	}
	if pg := b.post("/console/addresses/passwords.csv", url.Values{"row": {tr.u1 + ",abc"}}); pg.status != http.StatusOK || !strings.HasPrefix(pg.body, "address,password\n"+tr.u1+",abc") {
		t.Errorf("passwords CSV: %d %q", pg.status, pg.body)
	}
	pg = b.post("/console/tokens", url.Values{"name": {"backup script"}, "days": {"30"}})
	if pg.status != http.StatusCreated || !strings.Contains(pg.body, "xtm_") {
		t.Errorf("create token: %d", pg.status)
	}
	if pg := b.post("/console/admins", url.Values{"email": {"ca3@c3.test"}, "password": {"long enough pw"}, "scope": {"customer:" + c3}}); pg.status != http.StatusSeeOther {
		t.Errorf("add admin: %d: %s", pg.status, pg.body)
	}
	pg = b.post("/console/messages/restore", url.Values{"address": {tr.u2}, "id": {fmt.Sprint(tr.expunged2)}, "message_id": {tr.msg2}})
	if pg.status != http.StatusSeeOther {
		t.Errorf("restore: %d: %s", pg.status, pg.body)
	}
	if pg := b.get("/console/log/timeline?message_id=" + tr.msg2); !strings.Contains(pg.body, "in the mailbox") {
		t.Error("timeline does not show the restored copy in the mailbox")
	}
	// Redeliver: refused until the domain names a relay host, then queued
	// to the address through it.
	redeliver := url.Values{"address": {tr.u2}, "id": {fmt.Sprint(tr.expunged2)}, "message_id": {tr.msg2}}
	if pg := b.post("/console/messages/redeliver", redeliver); pg.status != http.StatusConflict || !strings.Contains(pg.body, "relay host") {
		t.Errorf("redeliver without a relay host: %d", pg.status)
	}
	if err := tr.ops.SetDomainSettings(context.Background(), admin.CLI(), "c2.test", store.DomainSettings{RetentionDays: 30, RelayHost: "mx.c2.test:2525"}); err != nil {
		t.Fatal(err)
	}
	if pg := b.post("/console/messages/redeliver", redeliver); pg.status != http.StatusSeeOther {
		t.Errorf("redeliver: %d: %s", pg.status, pg.body)
	}
	if pg := b.get("/console/log/timeline?message_id=" + tr.msg2); !strings.Contains(pg.body, "redelivered") || !strings.Contains(pg.body, "mx.c2.test:2525") {
		t.Error("timeline does not show the redelivery")
	}
	if pg := b.post("/console/queue", url.Values{"action": {"retry"}, "id": {fmt.Sprint(tr.queue2)}}); pg.status != http.StatusSeeOther {
		t.Errorf("queue retry: %d", pg.status)
	}
	// An entry being delivered is left, and the flash says why.
	if claimed, err := tr.srv.Store.ClaimQueue(context.Background(), time.Now(), 15*time.Minute, 100); err != nil || len(claimed) == 0 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if pg := b.post("/console/queue", url.Values{"action": {"delete"}, "id": {fmt.Sprint(tr.queue2)}}); pg.status != http.StatusSeeOther {
		t.Errorf("queue delete while being delivered: %d", pg.status)
	}
	if pg := b.get("/console/queue"); !strings.Contains(pg.body, "1 entry was being delivered at that moment and was left") ||
		!strings.Contains(pg.body, "someone@elsewhere.example") {
		t.Errorf("queue page after deleting an entry being delivered: %s", pg.body)
	}
	if _, err := tr.srv.Store.ReleaseQueueLeases(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pg := b.post("/console/queue", url.Values{"action": {"delete"}, "id": {fmt.Sprint(tr.queue2)}}); pg.status != http.StatusSeeOther {
		t.Errorf("queue delete: %d", pg.status)
	}
	if pg := b.get("/console/queue"); strings.Contains(pg.body, "someone@elsewhere.example") {
		t.Error("the deleted queue entry is still listed")
	}
	// The message log says the recipient's message was dropped, and by
	// whom (by role: the audit log names the admin).
	pg = b.get("/console/log?status=cancelled&address=someone@elsewhere.example")
	if !strings.Contains(pg.body, "deleted from the queue by a provider administrator in the console or API") ||
		!strings.Contains(pg.body, `xc-st-cancelled`) {
		t.Errorf("log search for the deleted entry: %d: %s", pg.status, pg.body)
	}
}
