package capture

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/blob"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

type testEnv struct {
	st   *sqlite.Store
	srv  *Server
	addr string
	bob  store.Account
}

func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	return newEnvLog(t, cfg, slog.New(slog.DiscardHandler))
}

func newEnvLog(t testing.TB, cfg Config, log *slog.Logger) *testEnv {
	t.Helper()
	return newEnvAt(t, t.TempDir(), cfg, log)
}

// newEnvAt keeps the store (database and bodies) in dir.
func newEnvAt(t testing.TB, dir string, cfg Config, log *slog.Logger) *testEnv {
	t.Helper()
	return newEnvBlobs(t, dir, cfg, log, func(s *fs.Store) blob.Store { return s })
}

// newEnvBlobs lets a test wrap the blob store.
func newEnvBlobs(t testing.TB, dir string, cfg Config, log *slog.Logger, wrap func(*fs.Store) blob.Store) *testEnv {
	t.Helper()
	fsBlobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "x.db"), wrap(fsBlobs), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	bob, err := st.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, "alice@example.test", ""); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, st, log, nil)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	return &testEnv{st: st, srv: srv, addr: ln.Addr().String(), bob: bob}
}

// messages lists the live messages of an account's mailbox.
func (e *testEnv) messages(t testing.TB, acct store.Account, mailbox string) []store.Message {
	t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, acct.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(ctx, acct.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func (e *testEnv) inbox(t testing.TB, acct store.Account) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, m := range e.messages(t, acct, store.Inbox) {
		rc, err := e.st.OpenBody(ctx, acct.ID, m.BodyID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}

// conv sends raw lines and checks each reply's start, like a transcript.
type conv struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *conv {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cv := &conv{t: t, c: c, r: bufio.NewReader(c)}
	cv.expect("220 ")
	return cv
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (cv *conv) reply() string {
	cv.t.Helper()
	// Generous: storing a 10 MiB message under the race detector on a
	// loaded machine takes a while; only a hang should fail here.
	cv.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for {
		line, err := cv.r.ReadString('\n')
		if err != nil {
			return "ERR " + err.Error()
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (cv *conv) expect(prefix string) {
	cv.t.Helper()
	if got := cv.reply(); !strings.HasPrefix(got, prefix) {
		cv.t.Fatalf("reply %q, want %q", got, prefix)
	}
}

func (cv *conv) send(s string) {
	cv.t.Helper()
	if _, err := io.WriteString(cv.c, s); err != nil {
		cv.t.Fatal(err)
	}
}

func (cv *conv) cmd(line, want string) {
	cv.t.Helper()
	cv.send(line + "\r\n")
	cv.expect(want)
}

// tryCmds sends each line and checks its reply like cmd, but returns false
// at the first temporary failure (a 4xx reply or a closed connection),
// which the caller may try again.
func (cv *conv) tryCmds(steps ...[2]string) bool {
	cv.t.Helper()
	for _, st := range steps {
		if _, err := io.WriteString(cv.c, st[0]+"\r\n"); err != nil {
			cv.t.Logf("%s: %v, trying again", st[0], err)
			return false
		}
		got := cv.reply()
		switch {
		case strings.HasPrefix(got, st[1]):
		case strings.HasPrefix(got, "4"), strings.HasPrefix(got, "ERR "):
			cv.t.Logf("%s: %q, trying again", st[0], got)
			return false
		default:
			cv.t.Fatalf("%s: reply %q, want %q", st[0], got, st[1])
		}
	}
	return true
}

func TestTranscripts(t *testing.T) {
	e := newEnv(t, Config{Config: smtpserver.Config{MaxMessageBytes: 2048}, MaxRecipients: 3})
	cases := []struct {
		name  string
		steps [][2]string // line sent, reply prefix expected
	}{
		{"unknown recipient", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<a@outside.test>", "250 "}, {"RCPT TO:<nobody@example.test>", "550 5.1.1 "}, {"RCPT TO:<x@other.test>", "550 5.1.1 "}, {"RCPT TO:<Postmaster>", "550 5.1.1 "}}},
		{"bad address", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<a@outside.test>", "250 "}, {"RCPT TO:<not an address>", "501 5.5.2 "}, {"RCPT TO:<a@-bad-.test>", "501 5.1.3 "}}},
		{"bad sender", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<a@-bad-.test>", "553 5.1.7 "}}},
		{"rcpt before mail", [][2]string{{"EHLO up.test", "250 "}, {"RCPT TO:<bob@example.test>", "502 "}}},
		{"data before rcpt", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<a@outside.test>", "250 "}, {"DATA", "502 "}}},
		{"size declared too big", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<a@outside.test> SIZE=999999", "552 5.3.4 "}}},
		{"too many recipients", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<alice@example.test>", "250 "},
			{"RCPT TO:<r1@else.test>", "250 "}, {"RCPT TO:<r2@else.test>", "250 "}, {"RCPT TO:<r3@else.test>", "250 "}, {"RCPT TO:<r4@else.test>", "452 4.5.3 "}}},
		{"garbage", [][2]string{{"\x00\xff\xfe garbage", "50"}, {"EHLO up.test", "250 "}, {"NOOP", "250 "}}},
		{"duplicate recipient", [][2]string{{"EHLO up.test", "250 "}, {"MAIL FROM:<a@outside.test>", "250 "}, {"RCPT TO:<bob@example.test>", "250 "}, {"RCPT TO:<BOB@example.test>", "250 "}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cv := dialRaw(t, e.addr)
			for _, s := range tc.steps {
				cv.cmd(s[0], s[1])
			}
			cv.cmd("QUIT", "221 ")
		})
	}
}

func TestSizeLimit(t *testing.T) {
	e := newEnv(t, Config{Config: smtpserver.Config{MaxMessageBytes: 2048}})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<bob@example.test>", "250 ")
	cv.cmd("DATA", "354 ")
	cv.send("Subject: big\r\n\r\n" + strings.Repeat("x", 100) + "\r\n")
	for range 40 {
		cv.send(strings.Repeat("y", 98) + "\r\n")
	}
	cv.cmd(".", "552 5.3.4 ")
	// The session goes on after a refused message.
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<bob@example.test>", "250 ")
	cv.cmd("DATA", "354 ")
	cv.cmd("Subject: small\r\n\r\nok\r\n.", "250 ")
	if got := e.inbox(t, e.bob); len(got) != 1 || !strings.Contains(got[0], "Subject: small") {
		t.Fatalf("inbox %q", got)
	}
}

// TestSmuggling checks that "\n.\n" and "\r.\r" inside DATA never end
// the message: only CRLF.CRLF does, so no second message can be hidden.
func TestSmuggling(t *testing.T) {
	e := newEnv(t, Config{})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<bob@example.test>", "250 ")
	cv.cmd("DATA", "354 ")
	cv.send("Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@x.test>\nRCPT TO:<alice@example.test>\nDATA\nSubject: smuggled\r.\r\nend\r\n")
	cv.cmd(".", "250 ")
	cv.cmd("QUIT", "221 ")
	got := e.inbox(t, e.bob)
	if len(got) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(got))
	}
	want := "Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: smuggled\r\n.\r\nend\r\n"
	if got[0] != want {
		t.Fatalf("stored %q\nwant   %q", got[0], want)
	}
	alice, _ := e.st.Account(context.Background(), "alice@example.test")
	if n := len(e.inbox(t, alice)); n != 0 {
		t.Fatalf("smuggled message reached alice (%d)", n)
	}
}

func TestChunkingAndPipelining(t *testing.T) {
	e := newEnv(t, Config{})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	// Pipelined: all commands in one write (RFC 2920).
	cv.send("MAIL FROM:<a@outside.test>\r\nRCPT TO:<bob@example.test>\r\nBDAT 14\r\nSubject: b\r\n\r\nBDAT 4 LAST\r\nhi\r\n")
	cv.expect("250 ")
	cv.expect("250 ")
	cv.expect("250 ")
	cv.expect("250 ")
	if got := e.inbox(t, e.bob); len(got) != 1 || got[0] != "Subject: b\r\n\r\nhi\r\n" {
		t.Fatalf("inbox %q", got)
	}
}

// TestBDATCutShortNotStored: an upstream that announces a last BDAT
// chunk, sends part of it and ends the connection gets nothing stored and
// no answer: go-smtp takes a chunk cut short by the end of the stream for
// a whole one (smtpserver.ErrCutShort), and the part was stored in the
// INBOX while the upstream, with no 250, would send it again whole.
func TestBDATCutShortNotStored(t *testing.T) {
	e := newEnv(t, Config{})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<bob@example.test>", "250 ")
	cv.send("BDAT 100000 LAST\r\nSubject: cut\r\n\r\nthe first line of a long message\r\n")
	// The end of the client's stream; the server answers (or not) and
	// hangs up, which the read waits for.
	cv.c.(*net.TCPConn).CloseWrite()
	cv.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	rest, err := io.ReadAll(cv.r)
	if err != nil {
		t.Fatalf("read until the server hung up: %v", err)
	}
	if strings.Contains(string(rest), "250 ") {
		t.Errorf("a chunk cut short was accepted: %q", rest)
	}
	if got := e.inbox(t, e.bob); len(got) != 0 {
		t.Errorf("inbox %q, want nothing stored", got)
	}
}

func TestAllowList(t *testing.T) {
	e := newEnv(t, Config{AllowNets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "554 5.7.1 ") {
		t.Fatalf("greeting from outside the allow-list: %q", line)
	}
}

func TestConnectionLimit(t *testing.T) {
	e := newEnv(t, Config{Config: smtpserver.Config{MaxConnsPerIP: 2}})
	dialRaw(t, e.addr)
	second := dialRaw(t, e.addr)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "421 4.7.0 ") {
		t.Fatalf("third connection: %q", line)
	}
	// A closed connection frees its slot (as soon as the server has seen
	// it close).
	second.cmd("QUIT", "221 ")
	second.c.Close()
	for deadline := time.Now().Add(time.Minute); ; {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed after the connection closed: %q", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDataTimeoutCloses checks that a client stalling in DATA is
// disconnected rather than left with a 421 and an open session.
func TestDataTimeoutCloses(t *testing.T) {
	e := newEnv(t, Config{Config: smtpserver.Config{ReadTimeout: 300 * time.Millisecond}})
	cv := envelopeRetried(t, e.addr, [2]string{"DATA", "354 "})
	cv.send("Subject: stalled\r\n\r\npartial")
	cv.c.SetReadDeadline(time.Now().Add(time.Minute))
	rest, err := io.ReadAll(cv.r)
	if err != nil {
		t.Fatalf("connection not closed after DATA timeout: %v (read %q)", err, rest)
	}
	if n := len(e.inbox(t, e.bob)); n != 0 {
		t.Fatalf("partial message stored (%d)", n)
	}
}

// envelopeRetried sends an envelope for bob and then steps on a new
// connection. A test of a short read timeout runs the envelope under the
// same timeout, which a loaded machine can overrun (a store look-up
// answered 451, a command read cut off with 421): what is tested comes
// after, so an envelope refused for now is tried again.
func envelopeRetried(t *testing.T, addr string, steps ...[2]string) *conv {
	t.Helper()
	steps = append([][2]string{
		{"EHLO up.test", "250 "},
		{"MAIL FROM:<a@outside.test>", "250 "},
		{"RCPT TO:<bob@example.test>", "250 "},
	}, steps...)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		cv := dialRaw(t, addr)
		if cv.tryCmds(steps...) {
			return cv
		}
		cv.c.Close()
		if time.Now().After(deadline) {
			t.Fatal("no envelope accepted in 2 minutes")
		}
	}
}

func TestStartTLS(t *testing.T) {
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Config: smtpserver.Config{TLS: srvTLS}})
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("a@outside.test", []string{"bob@example.test"}, strings.NewReader("Subject: tls\r\n\r\nsecret\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := e.inbox(t, e.bob); len(got) != 1 {
		t.Fatalf("inbox %q", got)
	}
}

func TestRefusedIsLogged(t *testing.T) {
	e := newEnv(t, Config{})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<nobody@example.test>", "550 ")
	// Refusals are written in the background.
	if err := e.srv.FlushLog(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := e.st.SearchLog(context.Background(), store.LogQuery{Address: "nobody@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Status != msglog.Refused || evs[0].MailFrom != "a@outside.test" || evs[0].RemoteIP != "127.0.0.1" {
		t.Fatalf("log %+v", evs)
	}
}
