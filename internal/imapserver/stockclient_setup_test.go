package imapserver_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The set-up the stock-client tests share (Python's imaplib, mbsync,
// mutt, fetchmail, offlineimap): finding and running a client, and the
// configuration each one needs to reach the test server over TLS.

// lookPath finds a stock client the test drives, or fails the test.
func lookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed: run scripts/test, which installs Debian's %s", name, pkg)
	}
	return p
}

// runClient runs a stock client with HOME set and a generous deadline,
// failing the test with its output when it fails.
func runClient(t testing.TB, home string, timeout time.Duration, name string, args ...string) string {
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

// port is the server's TCP port, as a client's configuration names it.
func (e *env) port() string {
	_, port, err := net.SplitHostPort(e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return port
}

// imaplibStart begins every imaplib script: m is a session over TLS to
// the server (not signed in), and call(name, fn, *args) runs one imaplib
// method and keeps its status ("OK", "NO", "BAD", or "error: ..." when
// imaplib raised) and data (decoded as UTF-8) in out under name.
const imaplibStart = `
import imaplib, json, ssl, sys, time
port, cafile, user, password = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
out = {}
def call(name, fn, *args):
    try:
        typ, data = fn(*args)
        out[name] = [typ, [d.decode('utf-8', 'replace') if isinstance(d, bytes) else
                           [x.decode('utf-8', 'replace') if isinstance(x, bytes) else str(x) for x in d] if isinstance(d, tuple) else str(d)
                           for d in data]]
    except Exception as e:
        out[name] = ['error: ' + type(e).__name__ + ': ' + str(e), []]
m = imaplib.IMAP4_SSL('localhost', int(port), ssl_context=ctx)
`

// runImaplib runs a Python imaplib script after imaplibStart, written to
// a file of its own, with the arguments port, CA file, user and
// password, and returns what it printed.
func (e *env) runImaplib(name, script string, timeout time.Duration) string {
	e.t.Helper()
	py := lookPath(e.t, "python3", "python3")
	dir := e.t.TempDir()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(imaplibStart+script), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return runClient(e.t, dir, timeout, py, file, e.port(), e.writeCert(), testUser, testPassword)
}

// writeMbsyncrc writes an mbsync configuration in home that syncs the
// test account with the Maildir maildir, and returns its path. account
// adds lines to the IMAPAccount section, local to the MaildirStore and
// channel to the Channel (each line ending in a newline); everything else
// is mbsync's default.
func (e *env) writeMbsyncrc(home, maildir, account, local, channel string) string {
	e.t.Helper()
	cfg := fmt.Sprintf(`IMAPAccount test
Host localhost
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
%s
IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX
%s
Channel sync
Far :remote:
Near :local:
%sSyncState *
`, e.port(), testUser, testPassword, e.writeCert(), account, maildir, maildir, local, channel)
	file := filepath.Join(home, "mbsyncrc")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return file
}

// startMutt starts mutt in tmux with home as its home, reading INBOX over
// IMAPS with imap_deflate=yes and protocol debug logging, with settings
// (muttrc lines) added to the shared ones. It runs through a shell that
// stays, so a failure shows mutt's last screen and its error output.
func (e *env) startMutt(t *testing.T, home, settings string) *tmuxSession {
	t.Helper()
	bin := lookPath(t, "mutt", "mutt")
	certs, err := os.ReadFile(e.writeCert())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "certs.pem"), certs, 0o600)
	rc := fmt.Sprintf(`set folder="imaps://%s@localhost:%s/"
set spoolfile="+INBOX"
set imap_pass="%s"
set imap_deflate=yes
set certificate_file="%s/certs.pem"
set ssl_verify_host=yes
set header_cache=""
set message_cachedir=""
set mark_old=no
set wait_key=no
set pager_stop=yes
%s`, strings.ReplaceAll(testUser, "@", "%40"), e.port(), testPassword, home, settings)
	os.WriteFile(filepath.Join(home, "muttrc"), []byte(rc), 0o600)
	return newTmux(t, home, fmt.Sprintf("%s -n -F %s/muttrc -d 2 2>%s/err; echo mutt exited: $(cat %s/err); sleep 600", bin, home, home, home))
}

// checkMuttDeflate fails the test unless mutt's protocol log (-d 2 writes
// it to ~/.muttdebug0) shows that it sent COMPRESS DEFLATE.
func checkMuttDeflate(t *testing.T, home string) {
	t.Helper()
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

// maildirFiles lists the messages of a Maildir folder.
func maildirFiles(dir string) []string {
	cur, _ := filepath.Glob(filepath.Join(dir, "cur", "*"))
	news, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	return append(cur, news...)
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

// waitFor polls the screen until it shows want.
func (s *tmuxSession) waitFor(want string) {
	s.t.Helper()
	s.waitUntil(fmt.Sprintf("screen never showed %q", want), func(screen string) bool { return strings.Contains(screen, want) })
}

// waitUntil polls the screen until ok holds for it, for up to a minute
// (the machine may be loaded: a generous deadline, not a timing
// assertion), and fails with what went wrong and the screen.
func (s *tmuxSession) waitUntil(what string, ok func(screen string) bool) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if ok(s.screen()) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("%s; the screen shows:\n%s", what, s.screen())
}
