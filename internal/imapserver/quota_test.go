package imapserver_test

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/store"
)

// TestQuotaReportsAndEnforcesStorage guards QUOTA (RFC 9208): usage comes
// from the account's mailboxes, GETQUOTAROOT and GETQUOTA report it in
// KiB against the configured limit, and an APPEND past it is NO
// [OVERQUOTA].
func TestQuotaReportsAndEnforcesStorage(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{QuotaStorage: 16 << 10})
	body := strings.Repeat("y", 3000)
	e.deliver("INBOX", msg("a", body), store.Flags(0))
	e.deliver("Sent", msg("b", body), store.Flags(0))
	c := e.login()
	has(t, c.ok("CAPABILITY"), " QUOTA ", "QUOTA=RES-STORAGE")
	lines := c.ok("GETQUOTAROOT INBOX")
	has(t, lines, `* QUOTAROOT INBOX ""`, `* QUOTA "" (STORAGE 7 16)`)
	has(t, c.ok(`GETQUOTA ""`), `* QUOTA "" (STORAGE 7 16)`)
	c.want(`GETQUOTA "other"`, "NO [NONEXISTENT]")
	c.want("GETQUOTAROOT Nope", "NO [NONEXISTENT]")

	big := msg("c", strings.Repeat("z", 10<<10))
	c.want(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(big), big), "NO [OVERQUOTA]")
	small := msg("d", "small")
	c.ok(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(small), small))

	// go-imap's client reads the same answers.
	ic, err := imapclient.DialTLS(e.addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: e.roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := ic.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 1 || data[0].Root != "" {
		t.Fatalf("GETQUOTAROOT: %+v", data)
	}
	st := data[0].Resources["STORAGE"]
	if st.Limit != 16 || st.Usage < 7 {
		t.Errorf("STORAGE %+v", st)
	}
}

// TestQuotaOff guards the negative setting: no QUOTA capability and
// GETQUOTAROOT names no root.
func TestQuotaOff(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{QuotaStorage: -1})
	c := e.login()
	hasNot(t, c.ok("CAPABILITY"), "QUOTA")
	lines := c.ok("GETQUOTAROOT INBOX")
	has(t, lines, "* QUOTAROOT INBOX")
	hasNot(t, lines, "* QUOTA ")
}

// TestQuotaPerDomainAndCopy guards the per-domain limit (QuotaByDomain
// overrides QuotaStorage for the account's domain) and COPY against it:
// a copy past the limit is NO [OVERQUOTA] and copies nothing, a MOVE
// (no growth) still works.
func TestQuotaPerDomainAndCopy(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{QuotaStorage: -1, QuotaByDomain: map[string]int64{store.DomainOf(testUser): 13 << 10}})
	body := strings.Repeat("y", 4000)
	e.deliver("INBOX", msg("a", body), store.Flags(0))
	e.deliver("INBOX", msg("b", body), store.Flags(0))
	c := e.login()
	has(t, c.ok("CAPABILITY"), " QUOTA ")
	has(t, c.ok(`GETQUOTA ""`), `(STORAGE 9 13)`)
	c.ok("SELECT INBOX")
	c.ok("COPY 1 Drafts") // three copies of 4.1 KB: just fit
	c.want("COPY 2 Drafts", "NO [OVERQUOTA]")
	has(t, c.ok("STATUS Drafts (MESSAGES)"), "MESSAGES 1")
	c.ok("MOVE 2 Drafts")
	has(t, c.ok("STATUS Drafts (MESSAGES)"), "MESSAGES 2")
	more := msg("d", strings.Repeat("z", 1000))
	c.want(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(more), more), "NO [OVERQUOTA]")
}
