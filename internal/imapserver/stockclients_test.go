package imapserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

const imaplibAuthenticate = `
typ, data = m.authenticate('PLAIN', lambda challenge: b'\0' + user.encode() + b'\0' + password.encode())
assert typ == 'OK', (typ, data)
typ, data = m.select('INBOX')
assert typ == 'OK', (typ, data)
print('EXISTS', data[0].decode())
m.logout()
`

// Python's imaplib signs in with AUTHENTICATE PLAIN after an empty
// challenge: the server must send "+ " and not text, which imaplib
// decodes as base64 (RFC 9051 section 7.5; issue 11 part 3).
func TestImaplibAuthenticatePlain(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("one", "body"), 0)
	out := e.runImaplib("auth.py", imaplibAuthenticate, 60*time.Second)
	if !strings.Contains(out, "EXISTS 1") {
		t.Errorf("imaplib: %s", out)
	}
}

// offlineimap with its default settings (it signs in with AUTHENTICATE
// PLAIN through imaplib) syncs a mailbox into a Maildir.
func TestOfflineimapDefaultConfig(t *testing.T) {
	bin := lookPath(t, "offlineimap", "offlineimap3")
	e := newEnv(t)
	for i := range 5 {
		e.deliver("INBOX", msg(fmt.Sprint("offline ", i), "text of the message"), 0)
	}
	home := t.TempDir()
	maildir := filepath.Join(home, "Mail")
	cfg := fmt.Sprintf(`[general]
accounts = test
metadata = %s/meta

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = %s
ssl = yes
sslcacertfile = %s
remoteuser = %s
remotepass = %s
folderfilter = lambda f: f == 'INBOX'
`, home, maildir, e.port(), e.writeCert(), testUser, testPassword)
	cfgFile := filepath.Join(home, "offlineimaprc")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	out := runClient(t, home, 120*time.Second, bin, "-c", cfgFile, "-o", "-u", "basic", "-d", "imap")
	if !strings.Contains(out, "AUTHENTICATE PLAIN") {
		t.Errorf("offlineimap did not sign in with AUTHENTICATE PLAIN:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "*", "*"))
	if len(files) != 5 {
		t.Fatalf("offlineimap synced %d messages, want 5\n%s", len(files), out)
	}
}

// mailboxMessages returns n varied messages: plain and multipart, 8-bit
// and base64, the 14th of several MiB.
func mailboxMessages(rng *rand.Rand, n int) []string {
	var raws []string
	for i := range n {
		var body strings.Builder
		size := 200 + rng.IntN(4000)
		if i == 13 {
			size = 2<<20 + rng.IntN(1<<20) // one of several MiB: many deflate blocks
		}
		for body.Len() < size {
			fmt.Fprintf(&body, "line %d of message %d, caf\xc3\xa9 %x\r\n", body.Len(), i, rng.Uint64())
		}
		switch i % 3 {
		case 0:
			raws = append(raws, msg(fmt.Sprintf("mass %d", i), body.String()))
		case 1:
			raws = append(raws, fmt.Sprintf("From: Carol <carol@example.net>\r\nTo: alice@example.org\r\n"+
				"Subject: mass %d\r\nDate: Sat, 21 Nov 2026 12:%02d:00 +0000\r\nMessage-ID: <mass%d@example.net>\r\n"+
				"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n"+
				"--b%d\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"+
				"--b%d\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
				"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n--b%d--\r\n", i, i%60, i, i, i, body.String(), i, i))
		default:
			raws = append(raws, fmt.Sprintf("From: dave@example.net\r\nTo: alice@example.org\r\nSubject: mass %d\r\n"+
				"Date: Sun, 22 Nov 2026 08:00:00 +0100\r\nMessage-ID: <mass%d@example.net>\r\n\r\n%s", i, i, body.String()))
		}
	}
	return raws
}

// deliverAll stores the messages in INBOX, parsed in parallel and stored
// in a few batches (store.Batch): one fsync per hundred messages instead
// of per group commit, which on a loaded machine took minutes for 500.
func (e *env) deliverAll(raws []string) {
	e.t.Helper()
	ds := make([]*store.Delivery, len(raws))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(raws); i += 4 {
				d := store.NewDelivery([]byte(raws[i]), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
				d.Copies = []store.Copy{{AccountID: e.account.ID, Mailbox: "INBOX"}}
				ds[i] = d
			}
		}()
	}
	wg.Wait()
	for len(ds) > 0 {
		n := min(len(ds), 100)
		if _, err := e.st.DeliverAll(context.Background(), ds[:n]...); err != nil {
			e.t.Fatal(err)
		}
		ds = ds[n:]
	}
}

// mbsync (isync) with its default configuration, which enables
// COMPRESS=DEFLATE and pipelines its UID FETCH and APPEND commands, pulls
// a mailbox of 500 varied messages (one of 2-3 MiB), then pushes new
// local messages and flag changes back (issue 11 part 3: it hung after
// COMPRESS with a complete pipeline held in the server's decompressor).
func TestMbsyncDefaultConfigBothWays(t *testing.T) {
	bin := lookPath(t, "mbsync", "isync")
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(500, 1))
	raws := mailboxMessages(rng, 500)
	e.deliverAll(raws)

	home := t.TempDir()
	maildir := filepath.Join(home, "mail")
	os.MkdirAll(maildir, 0o700)
	// Only what is needed to name the two sides: every other setting
	// (authentication, pipelining, compression) is mbsync's default.
	cfgFile := e.writeMbsyncrc(home, maildir, "", "", "Patterns INBOX\nCreate Near\n")
	out := runClient(t, home, 5*time.Minute, bin, "-D", "-c", cfgFile, "-a")
	if !strings.Contains(out, "COMPRESS DEFLATE") {
		t.Errorf("mbsync did not use COMPRESS=DEFLATE")
	}
	files := maildirFiles(filepath.Join(maildir, "INBOX"))
	if len(files) != len(raws) {
		t.Fatalf("mbsync pulled %d messages, want %d", len(files), len(raws))
	}
	want := map[string]bool{}
	for _, r := range raws {
		want[strings.ReplaceAll(r, "\r\n", "\n")] = true
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		s := string(b)
		// mbsync adds its own X-TUID line to find what it propagated.
		if i := strings.Index(s, "X-TUID: "); i >= 0 {
			j := strings.IndexByte(s[i:], '\n')
			s = s[:i] + s[i+j+1:]
		}
		if !want[s] {
			t.Fatalf("%s is not byte for byte a message of the mailbox (%d bytes)", filepath.Base(f), len(s))
		}
	}

	// Push: new local messages, one of several MiB, and flag changes.
	var pushed []string
	for i := range 12 {
		size := 300
		if i == 5 {
			size = 2 << 20
		}
		body := strings.Repeat(fmt.Sprintf("pushed line %d\n", i), size/15)
		m := fmt.Sprintf("From: alice@example.org\nTo: bob@example.net\nSubject: pushed %d\nMessage-ID: <pushed%d@example.org>\n\n%s", i, i, body)
		pushed = append(pushed, m)
		name := filepath.Join(maildir, "INBOX", "new", fmt.Sprintf("17000000%02d.push%d.host", i, i))
		if err := os.WriteFile(name, []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flagged := 0
	for _, f := range files[:40] {
		base := filepath.Base(f)
		if i := strings.Index(base, ":2,"); i >= 0 {
			base = base[:i]
		}
		if err := os.Rename(f, filepath.Join(maildir, "INBOX", "cur", base+":2,FS")); err != nil {
			t.Fatal(err)
		}
		flagged++
	}
	runClient(t, home, 5*time.Minute, bin, "-c", cfgFile, "-a")

	c := e.login()
	c.timeout = 2 * time.Minute // under -race on a loaded machine
	c.ok("SELECT INBOX")
	lines := c.ok("SEARCH FLAGGED SEEN")
	if n := len(strings.Fields(strings.TrimPrefix(lines[0], "* SEARCH"))); n != flagged {
		t.Errorf("after the push %d messages are \\Flagged \\Seen, want %d", n, flagged)
	}
	// The pushed messages follow the 500 pulled ones.
	got := c.ok(fmt.Sprintf("UID FETCH %d:* BODY.PEEK[]", len(raws)+1))
	if len(got) != len(pushed) {
		t.Fatalf("%d messages on the server after the 500, want the %d pushed", len(got), len(pushed))
	}
	for i, m := range pushed {
		// mbsync sends CRLF and adds an X-TUID line.
		wantMsg := strings.ReplaceAll(m, "\n", "\r\n")
		found := false
		for _, g := range got {
			if k := strings.Index(g, "X-TUID: "); k >= 0 {
				l := strings.Index(g[k:], "\r\n")
				g = g[:k] + g[k+l+2:]
			}
			found = found || strings.Contains(g, wantMsg)
		}
		if !found {
			t.Errorf("pushed message %d is not byte for byte on the server", i)
		}
	}
}

// mutt with imap_deflate=yes reads the index and opens a message over
// COMPRESS=DEFLATE (issue 11 part 3: it stalled on its first header
// fetch).
func TestMuttDeflate(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		e.deliver("INBOX", msg(fmt.Sprintf("mutt subject %d", i), fmt.Sprintf("the body of mutt message %d", i)), 0)
	}
	home := t.TempDir()
	s := e.startMutt(t, home, "set sort=date-sent\n")
	s.waitFor("mutt subject 29")
	s.keys("Enter")
	s.waitFor("the body of mutt message")
	s.keys("q")
	s.keys("q")
	checkMuttDeflate(t, home)
}
