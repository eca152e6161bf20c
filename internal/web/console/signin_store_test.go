package console_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// onNode returns a browser on another node that shares b's cookies: the
// next request of the same browser, sent elsewhere by a load balancer
// without sticky sessions.
func (b *browser) onNode(srv *testserver.Server) *browser {
	nb := newBrowser(b.t, srv)
	nb.c.Jar = b.c.Jar
	nb.csrf = b.csrf
	return nb
}

// TestSecondFactorOnAnotherNode: two nodes on one database. The password
// on node A, the code on node B signs in; an enrolment's QR code shown by
// B is confirmed on A; wrong codes sent to both nodes count together; a
// code used on B is a replay on A.
func TestSecondFactorOnAnotherNode(t *testing.T) {
	tr := newTree(t)
	nodeA := tr.srv
	nodeB := testserver.Start(t, testserver.Options{Data: nodeA.Data})
	ctx := context.Background()
	if _, err := tr.ops.AddAdmin(ctx, admin.CLI(), "second@example.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}

	// Enrolment: password on A, the page with the QR code on B, the
	// code on A.
	a := newBrowser(t, nodeA)
	pg := a.postRaw("/console/login", url.Values{"email": {tr.provider}, "password": {adminPassword}}, nil)
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/login/enrol") {
		t.Fatalf("password on A: %d to %q", pg.status, pg.location)
	}
	b := a.onNode(nodeB)
	pg = b.get(pg.location)
	secret := shownSecret(pg)
	if pg.status != http.StatusOK || secret == "" {
		t.Fatalf("enrolment page on B: %d, secret %q", pg.status, secret)
	}
	a.csrf = b.csrf
	if again := shownSecret(a.get("/console/login/enrol")); again != secret {
		t.Fatalf("enrolment page on A shows %q, B showed %q", again, secret)
	}
	used := time.Now()
	code, _ := totp.GenerateCode(secret, used)
	if pg := a.post("/console/login/enrol", url.Values{"code": {code}}); pg.status != http.StatusSeeOther || pg.location != "/console/" {
		t.Fatalf("enrolment code on A: %d to %q: %s", pg.status, pg.location, pg.body)
	}
	if pg := b.get("/console/domains"); pg.status != http.StatusOK {
		t.Fatalf("B after sign-in on A: %d", pg.status)
	}

	// Sign-in: password on A, code on B.
	a = newBrowser(t, nodeA)
	pg = a.postRaw("/console/login", url.Values{"email": {tr.provider}, "password": {adminPassword}}, nil)
	if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.location, "/console/login/totp") {
		t.Fatalf("password on A: %d to %q", pg.status, pg.location)
	}
	b = a.onNode(nodeB)
	if pg := b.get(pg.location); pg.status != http.StatusOK || !strings.Contains(pg.body, `name="code"`) {
		t.Fatalf("code page on B: %d", pg.status)
	}
	next, _ := totp.GenerateCode(secret, used.Add(30*time.Second))
	if pg := b.post("/console/login/totp", url.Values{"code": {next}}); pg.status != http.StatusSeeOther || pg.location != "/console/" {
		t.Fatalf("code on B: %d to %q: %s", pg.status, pg.location, pg.body)
	}
	if pg := b.get("/console/domains"); pg.status != http.StatusOK || !strings.Contains(pg.body, "c2.test") {
		t.Fatalf("domains on B: %d", pg.status)
	}

	// The code used on B is a replay on A.
	a = newBrowser(t, nodeA)
	a.postRaw("/console/login", url.Values{"email": {tr.provider}, "password": {adminPassword}}, nil)
	a.get("/console/login/totp")
	if pg := a.post("/console/login/totp", url.Values{"code": {next}}); pg.status != http.StatusUnauthorized {
		t.Fatalf("code used on B, again on A: %d, want 401", pg.status)
	}

	// Wrong codes, alternately to A and B, with two pending sign-ins:
	// five in all, then the right code is refused on either node.
	a = newBrowser(t, nodeA)
	a.postRaw("/console/login", url.Values{"email": {"second@example.test"}, "password": {adminPassword}}, nil)
	b = a.onNode(nodeB)
	pg = b.get("/console/login/enrol")
	secret2 := shownSecret(pg)
	a.csrf = b.csrf
	right, _ := totp.GenerateCode(secret2, time.Now())
	for i := range 5 {
		br := []*browser{a, b}[i%2]
		wrong := fmt.Sprintf("%06d", (atoi(right)+1+i)%1000000)
		if pg := br.post("/console/login/enrol", url.Values{"code": {wrong}}); pg.status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d, want 401", i, pg.status)
		}
	}
	if pg := b.post("/console/login/enrol", url.Values{"code": {right}}); pg.status != http.StatusTooManyRequests {
		t.Fatalf("right code after 5 wrong ones on two nodes: %d, want 429", pg.status)
	}
	// A new pending sign-in does not start the count again.
	c := newBrowser(t, nodeB)
	c.postRaw("/console/login", url.Values{"email": {"second@example.test"}, "password": {adminPassword}}, nil)
	c.get("/console/login/enrol")
	if pg := c.post("/console/login/enrol", url.Values{"code": {right}}); pg.status != http.StatusTooManyRequests {
		t.Fatalf("a fresh pending sign-in after 6 codes: %d, want 429", pg.status)
	}
}

// fromIP returns a browser whose connections come from ip (a loopback
// address other than 127.0.0.1: Linux answers all of 127.0.0.0/8).
func fromIP(t *testing.T, srv *testserver.Server, ip string) *browser {
	b := newBrowser(t, srv)
	tr := b.c.Transport.(*http.Transport)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 30 * time.Second}
	tr.DialContext = d.DialContext
	return b
}

// TestAdminKnownIPPassesLockoutAfterRestart: a console administrator
// signs in from one IP; the service restarts; someone else's wrong
// passwords lock the address out; from the known IP the right password
// still signs in, from another IP it is refused. The known IP came from
// the store: the restarted process had never seen it.
func TestAdminKnownIPPassesLockoutAfterRestart(t *testing.T) {
	tr := newTree(t)
	newBrowserFrom := func(srv *testserver.Server, ip string) *browser { return fromIP(t, srv, ip) }
	newBrowserFrom(tr.srv, "127.0.0.1").signIn(tr.ca1, adminPassword, "")
	if err := tr.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Data: tr.srv.Data})

	guesser := newBrowserFrom(srv, "127.0.0.2")
	locked := false
	for i := range 12 {
		pg := guesser.postRaw("/console/login", url.Values{"email": {tr.ca1}, "password": {fmt.Sprintf("guess %d", i)}}, nil)
		if pg.status == http.StatusTooManyRequests {
			locked = true
			break
		}
		if pg.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, pg.status)
		}
	}
	if !locked {
		t.Fatal("12 wrong passwords did not lock the address out")
	}
	if pg := newBrowserFrom(srv, "127.0.0.3").postRaw("/console/login", url.Values{"email": {tr.ca1}, "password": {adminPassword}}, nil); pg.status != http.StatusTooManyRequests {
		t.Fatalf("right password from an unknown IP during the lock-out: %d, want 429", pg.status)
	}
	newBrowserFrom(srv, "127.0.0.1").signIn(tr.ca1, adminPassword, "")
}
