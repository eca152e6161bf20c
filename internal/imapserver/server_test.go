package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

const (
	testUser     = "alice@example.org"
	testPassword = "correct horse battery"
)

// env is a running server on a real SQLite store, over TLS on 127.0.0.1.
type env struct {
	t       testing.TB
	dir     string
	st      store.Store
	srv     *imapserver.Server
	addr    string
	roots   *x509.CertPool
	tlsCfg  *tls.Config
	account store.Account
	plain   string // plaintext (STARTTLS) listener, when asked
	// log, when set, is the server's log for the next start.
	log *slog.Logger
}

// cheapParams make test password hashes fast; Verify reads them from the
// PHC string.
var cheapParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func openStore(t testing.TB, dir string) store.Store {
	t.Helper()
	return openStoreWith(t, dir, sqlite.Options{})
}

// openStoreWith is openStore with options (a slow disk).
func openStoreWith(t testing.TB, dir string, opts sqlite.Options) store.Store {
	t.Helper()
	blobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "db", "x.db"), blobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func lookup(st store.Store) auth.LookupFunc {
	return func(ctx context.Context, user string) (auth.Credential, error) {
		a, err := st.Account(ctx, user)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return auth.Credential{}, fmt.Errorf("%w: %v", auth.ErrUnknownUser, err)
		}
		if err != nil {
			return auth.Credential{}, err
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled}, nil
	}
}

// newEnv starts a server with one account (testUser) in a temp dir.
func newEnv(t testing.TB) *env {
	t.Helper()
	// Not t.TempDir: fuzz and subtest names put '#' in it, which
	// sqlite.Open's file: URI takes for a fragment.
	dir, err := os.MkdirTemp("", "imapserver-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return newEnvIn(t, dir)
}

// newEnvIn is newEnv in a directory that outlives t.
func newEnvIn(t testing.TB, dir string) *env {
	t.Helper()
	return newEnvStore(t, openStore(t, dir), dir)
}

// newEnvStore is newEnv on a store opened in dir.
func newEnvStore(t testing.TB, st store.Store, dir string) *env {
	t.Helper()
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashParams(testPassword, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, testUser, hash)
	if err != nil {
		t.Fatal(err)
	}
	if !acct.Enabled {
		if err := st.SetEnabled(ctx, testUser, true); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, dir: dir, st: st, account: acct}
	// Registered before the server's stop, so it runs after it: a
	// session still in a store call when a test fails must not wait
	// forever on a closed store.
	t.Cleanup(func() { e.st.Close() })
	e.start(imapserver.Config{})
	return e
}

// start runs a server on e.st; stop ends it. Tests that restart call both.
func (e *env) start(cfg imapserver.Config) {
	t := e.t
	if e.tlsCfg == nil {
		var err error
		e.tlsCfg, e.roots, err = tlsutil.NewTestPair()
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg.TLS = e.tlsCfg
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("IMAP_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if e.log != nil {
		log = e.log
	}
	srv := imapserver.New(cfg, e.st, auth.NewAuthenticator(lookup(e.st), auth.Options{}), log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServePlain(pln)
	e.srv, e.addr, e.plain = srv, ln.Addr().String(), pln.Addr().String()
	t.Cleanup(func() { e.stop() })
}

// stop shuts the server down and fails the test if a session panicked.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	checkPanics(e.t, e.srv)
	e.srv = nil
}

// checkPanics fails the test when the server recovered a panic.
func checkPanics(t testing.TB, srv *imapserver.Server) {
	t.Helper()
	if n := srv.Panics(); n > 0 {
		t.Errorf("%d session panic(s) recovered; see the log", n)
	}
}

// deliver stores a message in a mailbox of the account and returns its
// UID. The message is old mail: claimed as \Recent already, as one
// stored before the server started is (deliverNew leaves it recent to the
// next session that sees it).
func (e *env) deliver(mailbox, raw string, flags store.Flags) uint32 {
	e.t.Helper()
	got := e.deliverNew(mailbox, raw, flags)
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, mailbox)
	if err == nil {
		_, err = e.st.ClaimRecent(context.Background(), e.account.ID, mb.ID, got)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// deliverNew stores a message that the next session to see it gets as
// \Recent.
func (e *env) deliverNew(mailbox, raw string, flags store.Flags) uint32 {
	e.t.Helper()
	d := store.NewDelivery([]byte(raw), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	d.Copies = []store.Copy{{AccountID: e.account.ID, Mailbox: mailbox, Flags: flags}}
	got, err := e.st.Deliver(context.Background(), d)
	if err != nil {
		e.t.Fatal(err)
	}
	return got[0].UID
}

// msg returns a small message with a subject and body.
func msg(subject, body string) string {
	return "From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: " + subject +
		"\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") +
		"@example.net>\r\n\r\n" + body + "\r\n"
}

// conn is a raw IMAP client for transcripts.
type conn struct {
	t    testing.TB
	c    net.Conn
	r    *bufio.Reader
	n    int
	tag  string
	last string // the last tagged status line
	// timeout bounds the wait for each line (default 60 s: TestLogin timed
	// out at 10 s under -race on a machine at load 30); tests that
	// read large answers under load set more.
	timeout time.Duration
}

// dial connects over TLS and reads the greeting.
func (e *env) dial() *conn {
	e.t.Helper()
	c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	if err != nil {
		e.t.Fatal(err)
	}
	cn := &conn{t: e.t, c: c, r: bufio.NewReader(c)}
	e.t.Cleanup(func() { c.Close() })
	if g := cn.line(); !strings.HasPrefix(g, "* OK") {
		e.t.Fatalf("greeting %q", g)
	}
	return cn
}

// login dials and signs in.
func (e *env) login() *conn {
	c := e.dial()
	c.ok("LOGIN " + testUser + ` "` + testPassword + `"`)
	return c
}

// line reads one response line (literals included, CRLF stripped).
func (c *conn) line() string {
	c.t.Helper()
	timeout := c.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	c.c.SetReadDeadline(time.Now().Add(timeout))
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (after %q)", err, b.String()+l)
		}
		b.WriteString(l)
		// A literal {n} at the end: read n bytes and continue the line.
		trimmed := strings.TrimRight(l, "\r\n")
		if strings.HasSuffix(trimmed, "}") {
			if i := strings.LastIndexByte(trimmed, '{'); i >= 0 {
				var n int
				if _, err := fmt.Sscanf(trimmed[i:], "{%d}", &n); err == nil {
					buf := make([]byte, n)
					if _, err := io.ReadFull(c.r, buf); err != nil {
						c.t.Fatal(err)
					}
					b.Write(buf)
					continue
				}
			}
		}
		return strings.TrimRight(b.String(), "\r\n")
	}
}

// send writes a raw line (CRLF added).
func (c *conn) send(line string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends a tagged command and returns the untagged lines and the
// tagged status line.
func (c *conn) cmd(command string) ([]string, string) {
	c.t.Helper()
	c.n++
	c.tag = fmt.Sprintf("a%d", c.n)
	c.send(c.tag + " " + command)
	lines, st := c.until(c.tag)
	c.last = st
	return lines, st
}

// until reads lines until the one tagged tag.
func (c *conn) until(tag string) ([]string, string) {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return lines, strings.TrimPrefix(l, tag+" ")
		}
		lines = append(lines, l)
	}
}

// ok runs a command that must succeed and returns its untagged lines.
func (c *conn) ok(command string) []string {
	c.t.Helper()
	lines, st := c.cmd(command)
	if !strings.HasPrefix(st, "OK") {
		c.t.Fatalf("%s: %s (untagged %q)", command, st, lines)
	}
	return lines
}

// want runs a command whose status must start with prefix.
func (c *conn) want(command, prefix string) []string {
	c.t.Helper()
	lines, st := c.cmd(command)
	if !strings.HasPrefix(st, prefix) {
		c.t.Fatalf("%s: got %q, want %q... (untagged %q)", command, st, prefix, lines)
	}
	return lines
}

// has fails unless some line contains each of the substrings.
func has(t *testing.T, lines []string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		found := false
		for _, l := range lines {
			if strings.Contains(l, s) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line contains %q in %q", s, lines)
		}
	}
}

// hasNot fails if a line contains the substring.
func hasNot(t *testing.T, lines []string, sub string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, sub) {
			t.Errorf("unexpected %q in %q", sub, l)
		}
	}
}
