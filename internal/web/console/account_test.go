package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/store"
)

// TestTOTPSelfReset: a signed-in administrator re-enrols their
// authenticator: a code of the current key starts it and shows a new
// key; a code of the old key does not end it, one of the new key does;
// then sign-in takes the new key's codes and refuses the old key's. Both
// steps are audited, and the re-enrolment's id is worth nothing to
// another administrator.
func TestTOTPSelfReset(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	oldKey, used := enrol(t, b, tr.provider)
	at := func(steps int) time.Time { return used.Add(time.Duration(steps) * 30 * time.Second) }
	codeOf := func(key string, when time.Time) string {
		c, err := totp.GenerateCode(key, when)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	pg := b.get("/console/account")
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Set up a new key") {
		t.Fatalf("account page: %d", pg.status)
	}
	if pg := b.post("/console/account/totp", url.Values{"code": {"000000"}}); pg.status != http.StatusUnauthorized || shownSecret(pg) != "" {
		t.Fatalf("re-enrolment with a wrong current code: %d, want 401 and no new key", pg.status)
	}
	// The code just used to sign in is a replay.
	if pg := b.post("/console/account/totp", url.Values{"code": {codeOf(oldKey, used)}}); pg.status != http.StatusUnauthorized {
		t.Fatalf("re-enrolment with the sign-in's own code: %d, want 401", pg.status)
	}
	pg = b.post("/console/account/totp", url.Values{"code": {codeOf(oldKey, at(1))}})
	newKey := shownSecret(pg)
	reset := pg.hidden("reset")
	if pg.status != http.StatusOK || newKey == "" || newKey == oldKey || reset == "" || !strings.Contains(pg.body, `<svg class="xc-qrcode"`) {
		t.Fatalf("second step: %d, key %q, reset id %q", pg.status, newKey, reset)
	}

	// Another administrator cannot end it.
	other := newBrowser(t, tr.srv)
	other.signIn(tr.ca1, adminPassword, "")
	if pg := other.post("/console/account/totp/confirm", url.Values{"reset": {reset}, "code": {codeOf(newKey, time.Now())}}); pg.status != http.StatusConflict {
		t.Fatalf("another admin confirms the re-enrolment: %d, want 409", pg.status)
	}

	// A code of the old key does not confirm the new one.
	pg = b.post("/console/account/totp/confirm", url.Values{"reset": {reset}, "code": {codeOf(oldKey, time.Now())}})
	if pg.status != http.StatusUnauthorized || shownSecret(pg) != newKey || pg.hidden("reset") != reset {
		t.Fatalf("confirm with the old key's code: %d, want 401 with the same new key shown", pg.status)
	}
	pg = b.post("/console/account/totp/confirm", url.Values{"reset": {reset}, "code": {codeOf(newKey, time.Now())}})
	if pg.status != http.StatusSeeOther || pg.location != "/console/account" {
		t.Fatalf("confirm with the new key's code: %d to %q: %s", pg.status, pg.location, pg.body)
	}
	if pg := b.post("/console/account/totp/confirm", url.Values{"reset": {reset}, "code": {codeOf(newKey, at(3))}}); pg.status != http.StatusConflict {
		t.Fatalf("the re-enrolment confirmed twice: %d, want 409", pg.status)
	}

	// Sign-in now takes the new key only: codes of the next step, which
	// the old key's would pass if it were still in use.
	s := newBrowser(t, tr.srv)
	s.postRaw("/console/login", url.Values{"email": {tr.provider}, "password": {adminPassword}}, nil)
	s.get("/console/login/totp")
	if pg := s.post("/console/login/totp", url.Values{"code": {codeOf(oldKey, time.Now().Add(30*time.Second))}}); pg.status != http.StatusUnauthorized {
		t.Fatalf("old key's code after re-enrolment: %d, want 401", pg.status)
	}
	if pg := s.post("/console/login/totp", url.Values{"code": {codeOf(newKey, time.Now().Add(30*time.Second))}}); pg.status != http.StatusSeeOther || pg.location != "/console/" {
		t.Fatalf("new key's code: %d to %q", pg.status, pg.location)
	}

	recs, err := tr.srv.Store.SearchAudit(context.Background(), store.AllScope(), store.AuditQuery{Action: "admin.totp"})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, r := range recs {
		if r.Object == "admin "+tr.provider {
			details = append(details, r.Detail)
		}
	}
	if all := strings.Join(details, "; "); !strings.Contains(all, "re-enrolment started") || !strings.Contains(all, "re-enrolled") {
		t.Fatalf("audit of the re-enrolment: %q", all)
	}
}

// TestTOTPFirstEnrolmentFromAccount: an administrator without a second
// factor (a customer administrator need not have one) adds one from
// their account page, needing no current code; sign-in then asks for it.
func TestTOTPFirstEnrolmentFromAccount(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ca1, adminPassword, "")
	if pg := b.get("/console/account"); !strings.Contains(pg.body, "Set up an authenticator app") {
		t.Fatalf("account page without TOTP: %d", pg.status)
	}
	pg := b.post("/console/account/totp", nil)
	key := shownSecret(pg)
	if pg.status != http.StatusOK || key == "" {
		t.Fatalf("first enrolment: %d", pg.status)
	}
	code, _ := totp.GenerateCode(key, time.Now())
	if pg := b.post("/console/account/totp/confirm", url.Values{"reset": {pg.hidden("reset")}, "code": {code}}); pg.status != http.StatusSeeOther {
		t.Fatalf("confirm first enrolment: %d", pg.status)
	}
	s := newBrowser(t, tr.srv)
	if pg := s.postRaw("/console/login", url.Values{"email": {tr.ca1}, "password": {adminPassword}}, nil); !strings.HasPrefix(pg.location, "/console/login/totp") {
		t.Fatalf("sign-in after enrolment goes to %q, want the code page", pg.location)
	}
}
