package submission_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// imapCount counts, over IMAP with Python's imaplib, the messages of a
// mailbox whose Subject contains subject.
func imapCount(t *testing.T, srv *testserver.Server, user, pw, mailbox, subject string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.IMAP)
	script := `
import imaplib, ssl, sys
port, cafile, user, pw, mailbox, subject = sys.argv[1:]
m = imaplib.IMAP4_SSL("localhost", int(port), ssl_context=ssl.create_default_context(cafile=cafile))
m.login(user, pw)
typ, _ = m.select(mailbox, readonly=True)
assert typ == "OK", typ
typ, data = m.uid("SEARCH", "SUBJECT", '"' + subject + '"')
assert typ == "OK", data
print(len(data[0].split()))
m.logout()
`
	out, err := exec.Command("python3", "-c", script, port, filepath.Join(srv.Data, tlsutil.SelfSignedCertFile), user, pw, mailbox, subject).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	var n int
	if _, err := fmt.Sscan(string(out), &n); err != nil {
		t.Fatalf("imaplib said %q", out)
	}
	return n
}

// TestStockClientsOneSentCopy (issue 13 part 5): a client that submits a
// message and then APPENDs its own copy to Sent leaves exactly one copy
// there, seen over IMAP, and the relay gets the message once. Debian's
// mutt in batch mode (smtp_url with STARTTLS, record on imaps://…/Sent),
// and Python smtplib followed by imaplib APPEND of the same bytes, as
// Thunderbird does.
func TestStockClientsOneSentCopy(t *testing.T) {
	sk := startSink(t, "8BITMIME")
	srv := start(t, func(c *config.Config) { sk.relayTo(c) })
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	_, port587, _ := net.SplitHostPort(srv.Submission)
	_, portIMAP, _ := net.SplitHostPort(srv.IMAP)
	drained := func() bool { return len(queued(t, srv, alice)) == 0 }

	t.Run("mutt", func(t *testing.T) {
		mutt, err := exec.LookPath("mutt")
		if err != nil {
			t.Fatalf("mutt is not installed (scripts/test installs it): %v", err)
		}
		home := t.TempDir()
		user := url.PathEscape(alice)
		rc := fmt.Sprintf(`set from="%s"
set use_from=yes
set realname="Alice"
set hostname="example.test"
set smtp_url="smtp://%s@localhost:%s/"
set smtp_pass="%s"
set ssl_starttls=yes
set ssl_force_tls=yes
set certificate_file="%s"
set record="imaps://%s@localhost:%s/Sent"
set imap_pass="%s"
set copy=yes
set header_cache=""
set message_cachedir=""
`, alice, strings.ReplaceAll(user, "@", "%40"), port587, alicePw, cafile, strings.ReplaceAll(user, "@", "%40"), portIMAP, alicePw)
		os.WriteFile(filepath.Join(home, "muttrc"), []byte(rc), 0o600)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, mutt, "-n", "-d", "2", "-F", filepath.Join(home, "muttrc"), "-s", "mutt one copy", outsider)
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.Stdin = strings.NewReader("Sent with mutt; its own Sent copy goes by IMAP.\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mutt: %v\n%s", err, out)
		}
		// -d 2 logs the protocol to ~/.muttdebug0: mutt did APPEND its
		// copy (else one copy in Sent would prove nothing).
		debug, _ := filepath.Glob(filepath.Join(home, ".muttdebug*"))
		appended := false
		for _, f := range debug {
			b, _ := os.ReadFile(f)
			appended = appended || strings.Contains(string(b), "APPEND \"Sent\"") || strings.Contains(string(b), "APPEND Sent")
		}
		if !appended {
			t.Fatalf("mutt did not APPEND its copy to Sent (debug logs %q)", debug)
		}
		waitFor(t, "the relay to take mutt's message", func() bool { return sk.count(outsider) >= 1 })
		waitFor(t, "the queue to drain", drained)
		if n := imapCount(t, srv, alice, alicePw, "Sent", "mutt one copy"); n != 1 {
			t.Errorf("Sent holds %d copies of mutt's message over IMAP, want 1", n)
		}
		if n := sk.count(outsider); n != 1 {
			t.Errorf("the relay got mutt's message %d times, want 1", n)
		}
	})

	t.Run("smtplib then imaplib APPEND", func(t *testing.T) {
		script := `
import imaplib, smtplib, ssl, sys, time
p587, pimap, cafile, user, pw, rcpt = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
msg = ("From: Alice <%s>\r\nTo: %s\r\nBcc: hidden@far.test\r\nSubject: thunderbird-like one copy\r\n"
       "Message-ID: <tb-one@example.test>\r\nDate: Sat, 05 Dec 2026 09:00:00 +0000\r\n\r\nSent, then appended to Sent.\r\n" % (user, rcpt)).encode()
s = smtplib.SMTP("localhost", int(p587), timeout=60)
s.starttls(context=ctx)
s.login(user, pw)
s.sendmail(user, [rcpt, "hidden@far.test"], msg)
s.quit()
m = imaplib.IMAP4_SSL("localhost", int(pimap), ssl_context=ctx)
m.login(user, pw)
typ, data = m.append("Sent", r"(\Seen)", imaplib.Time2Internaldate(time.time()), msg)
assert typ == "OK", data
print("APPEND", data[0].decode())
m.logout()
`
		out, err := exec.Command("python3", "-c", script, port587, portIMAP, cafile, alice, alicePw, "dave@far.test").CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "APPENDUID") {
			t.Errorf("APPEND answer without APPENDUID: %s", out)
		}
		waitFor(t, "the relay to take the message", func() bool { return sk.count("dave@far.test") >= 1 })
		waitFor(t, "the queue to drain", drained)
		if n := imapCount(t, srv, alice, alicePw, "Sent", "thunderbird-like one copy"); n != 1 {
			t.Errorf("Sent holds %d copies over IMAP, want 1", n)
		}
		if n := sk.count("dave@far.test"); n != 1 {
			t.Errorf("the relay got it %d times, want 1", n)
		}
	})
}
