package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/msglog"
)

// pythonIDN sends one copy through capture with SMTPUTF8 to the address in
// U-labels and one without it to the same address in A-labels, then signs
// in over IMAP (AUTHENTICATE PLAIN carries UTF-8) with the U-label
// spelling and lists INBOX's Message-IDs.
const pythonIDN = `
import imaplib, smtplib, ssl, sys
capture, imap, user_u, user_a, password = sys.argv[1:6]
host, port = capture.rsplit(":", 1)
with smtplib.SMTP(host, int(port), local_hostname="upstream.test") as s:
    s.sendmail("sender@far.test", [user_u], ("From: sender@far.test\r\nTo: %s\r\nSubject: u\r\nMessage-ID: <u-label@far.test>\r\n\r\nvia U-labels\r\n" % user_u).encode(), mail_options=["SMTPUTF8"])
    s.sendmail("sender@far.test", [user_a], b"From: sender@far.test\r\nSubject: a\r\nMessage-ID: <a-label@far.test>\r\n\r\nvia A-labels\r\n")
host, port = imap.rsplit(":", 1)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx, timeout=120)
m.authenticate("PLAIN", lambda _: b"\0" + user_u.encode() + b"\0" + password.encode())
m.select("INBOX")
typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
print(sorted(p[1].decode().split(":", 1)[1].strip() for p in data if isinstance(p, tuple)))
m.logout()
`

// TestInternationalisedDomain: a domain with non-ASCII letters is protected
// under its A-labels whichever spelling the administrator types, and its
// addresses work under either spelling: capture stores copies for both into
// one INBOX, IMAP signs in with the U-label address, and the message log
// finds them by either.
func TestInternationalisedDomain(t *testing.T) {
	data := t.TempDir()
	if out := cliProc(t, data, "", "domain", "add", "Bücher.TEST"); !strings.Contains(out, "domain xn--bcher-kva.test added") {
		t.Fatalf("domain add: %s", out)
	}
	runCases(t, data, []cliCase{
		{args: []string{"domain", "add", "xn--bcher-kva.test", "--data", "$DATA"}, code: 1, stderr: []string{"domain xn--bcher-kva.test: already exists"}},
		{args: []string{"domain", "add", "bü cher.test", "--data", "$DATA"}, code: 1, stderr: []string{"is not a domain name"}},
		{args: []string{"user", "add", "Anna@bücher.test", "--password-stdin", "--data", "$DATA"}, stdin: "anna's long password\n",
			stdout: []string{"address anna@xn--bcher-kva.test protected"}},
		{args: []string{"user", "add", "anna@XN--BCHER-KVA.test", "--data", "$DATA"}, code: 1, stderr: []string{"already exists"}},
	})
	srv := startServer(t, data)
	out, err := exec.Command("python3", "-c", pythonIDN, srv.addr, srv.imap, "anna@bücher.test", "anna@xn--bcher-kva.test", "anna's long password").CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s\n%s", err, out, srv.stderr)
	}
	if got, want := strings.TrimSpace(string(out)), "['<a-label@far.test>', '<u-label@far.test>']"; got != want {
		t.Fatalf("INBOX of anna@bücher.test over IMAP: %s, want %s", got, want)
	}
	for _, spelling := range []string{"anna@bücher.test", "anna@xn--bcher-kva.test"} {
		evs := searchLog(t, data, "--address", spelling, "--status", string(msglog.Stored))
		if len(evs) != 2 {
			t.Errorf("log search --address %s: %d stored records, want 2: %+v", spelling, len(evs), evs)
		}
	}
}
