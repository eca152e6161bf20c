package imapserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// lookPath finds a stock client the test drives, or fails the test.
func lookPath(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed: run scripts/test, which installs Debian's %s", name, pkg)
	}
	return p
}

// runClient runs a stock client with HOME set and a generous deadline,
// failing the test with its output when it fails.
func runClient(t *testing.T, home string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 8000 {
			tail = "..." + tail[len(tail)-8000:]
		}
		t.Fatalf("%s: %v\n%s", filepath.Base(name), err, tail)
	}
	return string(out)
}

const imaplibAuthenticate = `
import imaplib, ssl, sys
port, cafile, user, password = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
m = imaplib.IMAP4_SSL('localhost', int(port), ssl_context=ctx)
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
	py := lookPath(t, "python3", "python3")
	e := newEnv(t)
	e.deliver("INBOX", msg("one", "body"), 0)
	dir := t.TempDir()
	script := filepath.Join(dir, "auth.py")
	os.WriteFile(script, []byte(imaplibAuthenticate), 0o600)
	_, port, _ := net.SplitHostPort(e.addr)
	out := runClient(t, dir, 60*time.Second, py, script, port, e.writeCert(), testUser, testPassword)
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
	_, port, _ := net.SplitHostPort(e.addr)
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
`, home, maildir, port, e.writeCert(), testUser, testPassword)
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

// maildirFiles lists the messages of a Maildir folder.
func maildirFiles(dir string) []string {
	cur, _ := filepath.Glob(filepath.Join(dir, "cur", "*"))
	news, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	return append(cur, news...)
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
	_, port, _ := net.SplitHostPort(e.addr)
	// Only what is needed to name the two sides: every other setting
	// (authentication, pipelining, compression) is mbsync's default.
	cfg := fmt.Sprintf(`IMAPAccount test
Host localhost
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s

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
SyncState *
`, port, testUser, testPassword, e.writeCert(), maildir, maildir)
	cfgFile := filepath.Join(home, "mbsyncrc")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
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

// tmuxSession runs a terminal program in a detached tmux session of its
// own (its own server socket), so tests can read the screen and type.
type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
}

func newTmux(t *testing.T, home string, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, tmux: lookPath(t, "tmux", "tmux"), socket: filepath.Join(home, "tmux.sock")}
	cmd := exec.Command(s.tmux, "-S", s.socket, "new-session", "-d", "-x", "200", "-y", "50", command)
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(s.tmux, "-S", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command(s.tmux, "-S", s.socket, "capture-pane", "-p").CombinedOutput()
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	args := append([]string{"-S", s.socket, "send-keys"}, keys...)
	if out, err := exec.Command(s.tmux, args...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// waitFor polls the screen until it shows want, for up to a minute (the
// machine may be loaded: a generous deadline, not a timing assertion).
func (s *tmuxSession) waitFor(want string) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if strings.Contains(s.screen(), want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed %q; it shows:\n%s", want, s.screen())
}

// mutt with imap_deflate=yes reads the index and opens a message over
// COMPRESS=DEFLATE (issue 11 part 3: it stalled on its first header
// fetch).
func TestMuttDeflate(t *testing.T) {
	bin := lookPath(t, "mutt", "mutt")
	e := newEnv(t)
	for i := range 30 {
		e.deliver("INBOX", msg(fmt.Sprintf("mutt subject %d", i), fmt.Sprintf("the body of mutt message %d", i)), 0)
	}
	home := t.TempDir()
	_, port, _ := net.SplitHostPort(e.addr)
	certs, _ := os.ReadFile(e.writeCert())
	os.WriteFile(filepath.Join(home, "certs.pem"), certs, 0o600)
	rc := fmt.Sprintf(`set folder="imaps://%s@localhost:%s/"
set spoolfile="+INBOX"
set imap_pass="%s"
set imap_deflate=yes
set certificate_file="%s/certs.pem"
set ssl_verify_host=yes
set header_cache=""
set message_cachedir=""
set sort=date-sent
set mark_old=no
set wait_key=no
set pager_stop=yes
`, strings.ReplaceAll(testUser, "@", "%40"), port, testPassword, home)
	os.WriteFile(filepath.Join(home, "muttrc"), []byte(rc), 0o600)
	// Through a shell that stays, so a failure shows mutt's last screen
	// and its error output.
	s := newTmux(t, home, fmt.Sprintf("%s -n -F %s/muttrc -d 2 2>%s/err; echo mutt exited: $(cat %s/err); sleep 600", bin, home, home, home))
	s.waitFor("mutt subject 29")
	s.keys("Enter")
	s.waitFor("the body of mutt message")
	s.keys("q")
	s.keys("q")
	// -d 2 logs the protocol to ~/.muttdebug0.
	debug, _ := filepath.Glob(filepath.Join(home, ".muttdebug*"))
	var used bool
	for _, f := range debug {
		b, _ := os.ReadFile(f)
		used = used || strings.Contains(string(b), "COMPRESS DEFLATE")
	}
	if !used {
		t.Errorf("mutt did not send COMPRESS DEFLATE (debug logs %q)", debug)
	}
}
