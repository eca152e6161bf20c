package imapserver_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// writeCert writes the test server's certificate as PEM for outside
// clients to trust.
func (e *env) writeCert() string {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), "cert.pem")
	der := e.tlsCfg.Certificates[0].Certificate[0]
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

const pythonClients = `
import imaplib, smtplib, ssl, sys
smtp_host, smtp_port, imap_port, cafile, user, password, msgfile, outfile = sys.argv[1:]
raw = open(msgfile, 'rb').read()
with smtplib.SMTP(smtp_host, int(smtp_port)) as s:
    s.sendmail('bob@example.net', [user], raw)
ctx = ssl.create_default_context(cafile=cafile)
m = imaplib.IMAP4_SSL('localhost', int(imap_port), ssl_context=ctx)
m.login(user, password)
typ, data = m.select('INBOX')
assert typ == 'OK', (typ, data)
typ, data = m.uid('SEARCH', None, 'ALL')
uid = data[0].split()[-1]
typ, data = m.uid('FETCH', uid, '(BODY.PEEK[] FLAGS)')
assert typ == 'OK', (typ, data)
open(outfile, 'wb').write(data[0][1])
typ, data = m.uid('FETCH', uid, '(FLAGS)')
assert b'\\Seen' not in data[0], data
m.logout()
`

// A message captured with Python's smtplib through the real capture
// listener is fetched with Python's imaplib over TLS, byte for byte.
func TestPythonSMTPThenIMAP(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not installed: run scripts/test, which installs it")
	}
	e := newEnv(t)
	smtpAddr := e.startCapture()
	dir := t.TempDir()
	raw := "From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: =?UTF-8?B?w6ljaG8=?=\r\n" +
		"Date: Sat, 21 Nov 2026 12:00:00 +0000\r\nMessage-ID: <py1@example.net>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Caf\xc3\xa9 au lait.\r\n.leading dot line\r\n\r\n  trailing spaces  \r\nlast line\r\n"
	msgFile, outFile, script := filepath.Join(dir, "msg.eml"), filepath.Join(dir, "out.eml"), filepath.Join(dir, "c.py")
	os.WriteFile(msgFile, []byte(raw), 0o600)
	os.WriteFile(script, []byte(pythonClients), 0o600)
	host, port, _ := net.SplitHostPort(smtpAddr)
	_, imapPort, _ := net.SplitHostPort(e.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, script, host, port, imapPort, e.writeCert(), testUser, testPassword, msgFile, outFile).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(outFile)
	if !bytes.Equal(got, []byte(raw)) {
		t.Errorf("fetched over IMAP differs from what was sent:\n got %q\nwant %q", got, raw)
	}
}

// mbsync (isync, an independent client from Debian) pulls a mailbox
// byte for byte into a Maildir, and a flag set locally reaches the
// server on the next sync.
func TestMbsync(t *testing.T) {
	bin, err := exec.LookPath("mbsync")
	if err != nil {
		t.Fatal("mbsync not installed: run scripts/test, which installs isync")
	}
	e := newEnv(t)
	var raws []string
	for i := range 5 {
		r := msg(fmt.Sprint("sync ", i), strings.Repeat(fmt.Sprintf("line %d of the body\r\n", i), i+1))
		raws = append(raws, r)
		e.deliver("INBOX", r, 0)
	}
	mailbox := e.deliver("INBOX", multipartMsg, store.FlagFlagged)
	raws = append(raws, multipartMsg)
	_ = mailbox

	home := t.TempDir()
	maildir := filepath.Join(home, "mail")
	host, port, _ := net.SplitHostPort(e.addr)
	cfg := fmt.Sprintf(`IMAPAccount test
Host %s
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync All
SyncState *
Expunge None
`, "localhost", port, testUser, testPassword, e.writeCert(), maildir, maildir)
	_ = host
	os.MkdirAll(maildir, 0o700)
	cfgFile := filepath.Join(home, "mbsyncrc")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	run := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-D", "-c", cfgFile, "-a")
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
		// mbsync -D shows the transcript: it compresses when offered.
		if !strings.Contains(string(out), "COMPRESS DEFLATE") {
			t.Errorf("mbsync did not use COMPRESS=DEFLATE")
		}
	}
	run()
	files, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "cur", "*"))
	news, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "new", "*"))
	files = append(files, news...)
	if len(files) != len(raws) {
		t.Fatalf("mbsync pulled %d messages, want %d", len(files), len(raws))
	}
	// mbsync stores messages with LF line ends and inserts its own
	// X-TUID header line (to find messages it propagated); apart from
	// that, the files hold the bytes the server sent.
	tuid := regexp.MustCompile(`(?m)^X-TUID: [^\n]*\n`)
	got := map[string]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		got[tuid.ReplaceAllString(string(b), "")] = true
	}
	for i, r := range raws {
		if !got[strings.ReplaceAll(r, "\r\n", "\n")] {
			t.Errorf("message %d not found byte for byte in the Maildir: %q", i, r)
			for k := range got {
				t.Logf("have %q", k)
			}
		}
	}
	// Mark one message seen locally: Maildir flags after ":2,".
	var target string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "Subject: sync 3") {
			target = f
		}
	}
	if target == "" {
		t.Fatal("message 'sync 3' not in the Maildir")
	}
	base := filepath.Base(target)
	if i := strings.Index(base, ":2,"); i >= 0 {
		base = base[:i]
	}
	seen := filepath.Join(maildir, "INBOX", "cur", base+":2,S")
	if err := os.Rename(target, seen); err != nil {
		t.Fatal(err)
	}
	run()
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok("SEARCH SEEN")
	if len(lines) != 1 || lines[0] != "* SEARCH 4" {
		t.Errorf("after the second sync, SEEN is %q; want message 4", lines)
	}
}
