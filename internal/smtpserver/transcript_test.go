package smtpserver_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

const (
	tUser = "alice@example.test"
	tPass = "Pw-7Qx!tr4nscript-secret"
	tBob  = "bob@example.test"
)

// syncBuffer is a log sink shared by the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// raw is an SMTP client that writes bytes as given and reads replies.
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	r.expect("220 ")
	return r
}

// expect reads one reply (all its lines) and checks its last line.
func (r *raw) expect(prefix string) {
	r.t.Helper()
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("reading reply (want %q): %v", prefix, err)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, prefix) {
			r.t.Fatalf("reply %q, want %q", line, prefix)
		}
		return
	}
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) cmd(line, want string) {
	r.t.Helper()
	r.send(line + "\r\n")
	r.expect(want)
}

func (r *raw) startTLS(cfg *tls.Config) {
	r.t.Helper()
	tc := tls.Client(r.c, cfg)
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	r.c, r.br = tc, bufio.NewReader(tc)
}

// TestTranscriptAtDebug guards issue 12 part 7: at debug level, capture
// and submission log every command and reply line with the connection's
// cid, after STARTTLS and on implicit TLS too; AUTH payloads never reach
// the log in any encoding, message bodies (DATA, BDAT) only as a byte
// count, also when a client sends them before the reply that lets it.
func TestTranscriptAtDebug(t *testing.T) {
	var logBuf syncBuffer
	srv := testserver.Start(t, testserver.Options{
		Users:    map[string]string{tUser: tPass, tBob: "bob-password-1"},
		LogLevel: "debug",
		Log:      &logBuf,
	})
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	_, p587, _ := net.SplitHostPort(srv.Submission)
	_, p465, _ := net.SplitHostPort(srv.Submissions)

	// Stock client: Python smtplib over STARTTLS (AUTH PLAIN with an
	// initial response, then AUTH LOGIN) and over implicit TLS.
	script := filepath.Join(t.TempDir(), "send.py")
	os.WriteFile(script, []byte(transcriptPy), 0o644)
	out, err := exec.Command("python3", script, "localhost", p587, p465, cafile, tUser, tPass).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}

	tlsCfg := srv.ClientTLS()
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + tUser + "\x00" + tPass))
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	// AUTH PLAIN without an initial response: the credentials come on a
	// continuation line after "334 ".
	r := dialRaw(t, srv.Submission)
	r.cmd("EHLO raw.test", "250 ")
	r.cmd("STARTTLS", "220 ")
	r.startTLS(tlsCfg)
	r.cmd("EHLO raw.test", "250 ")
	r.cmd("AUTH PLAIN", "334 ")
	r.cmd(plain, "235 ")
	r.cmd("QUIT", "221 ")

	// A client that does not wait: AUTH LOGIN with both lines sent at
	// once, before any 334; and a command sent before STARTTLS's reply,
	// which go-smtp never runs.
	r = dialRaw(t, srv.Submission)
	r.cmd("EHLO raw.test", "250 ")
	r.send("STARTTLS\r\nMAIL FROM:<injected@example.test>\r\n")
	r.expect("220 ")
	r.startTLS(tlsCfg)
	r.cmd("EHLO raw.test", "250 ")
	r.send("AUTH LOGIN\r\n" + b64(tUser) + "\r\n" + b64(tPass) + "\r\n")
	r.expect("334 ")
	r.expect("334 ")
	r.expect("235 ")
	r.cmd("QUIT", "221 ")

	// Capture: a BDAT chunk, and a DATA body sent before the 354.
	r = dialRaw(t, srv.Capture)
	r.cmd("EHLO up.test", "250 ")
	r.cmd("MAIL FROM:<sender@far.test>", "250 ")
	r.cmd("RCPT TO:<"+tBob+">", "250 ")
	chunk := "Subject: BODYSECRET-chunk\r\n\r\nhello\r\n"
	r.send("BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk)
	r.expect("250 ")
	r.cmd("MAIL FROM:<sender@far.test>", "250 ")
	r.cmd("RCPT TO:<"+tBob+">", "250 ")
	r.send("DATA\r\nSubject: BODYSECRET-early\r\n\r\nearly body\r\n.\r\n")
	r.expect("354 ")
	r.expect("250 ")
	r.cmd("QUIT", "221 ")

	var lines []map[string]any
	want := map[string]bool{} // wanted transcript lines, found or not
	for _, w := range []string{
		"client|EHLO raw.test", "client|STARTTLS", "server|220 ", "client|AUTH PLAIN", "server|334 ",
		"client|AUTH PLAIN [redacted]", "client|AUTH LOGIN [redacted]", "client|AUTH LOGIN", "client|[redacted]",
		"server|235 2.0.0", "client|MAIL FROM:<" + tUser + ">", "client|DATA", "server|354 ",
		"client|[message: ", "client|.", "client|BDAT " + strconv.Itoa(len(chunk)) + " LAST",
		"client|[chunk: " + strconv.Itoa(len(chunk)) + " bytes]", "client|QUIT", "server|221 ",
		"client|[" + strconv.Itoa(len("MAIL FROM:<injected@example.test>\r\n")) + " bytes before TLS, ignored]",
	} {
		want[w] = false
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		text := logBuf.String()
		lines = lines[:0]
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			lines = append(lines, m)
		}
		// The last QUIT's 221 is logged when the server writes it.
		if strings.Count(text, `"line":"221 `) >= 6 || time.Now().After(deadline) {
			break
		}
	}
	text := logBuf.String()
	for _, l := range lines {
		msg, _ := l["msg"].(string)
		if msg != "client" && msg != "server" {
			continue
		}
		if l["level"] != "DEBUG" || l["cid"] == nil || l["cid"] == "" {
			t.Errorf("transcript line not at debug with a cid: %v", l)
		}
		line, _ := l["line"].(string)
		for w := range want {
			dir, prefix, _ := strings.Cut(w, "|")
			if dir == msg && strings.HasPrefix(strings.ToUpper(line), strings.ToUpper(prefix)) {
				want[w] = true
			}
		}
		if strings.Contains(line, "injected@") {
			t.Errorf("a command sent before TLS, never run, logged as one: %v", l)
		}
	}
	for w, ok := range want {
		if !ok {
			t.Errorf("no transcript line %q", w)
		}
	}
	for _, secret := range secretForms(tUser, tPass) {
		if strings.Contains(text, secret) {
			t.Errorf("the password reached the log as %q", secret)
		}
	}
	for _, body := range []string{"BODYSECRET", "early body", "hello"} {
		if strings.Contains(text, body) {
			t.Errorf("message content %q reached the log", body)
		}
	}
	// Sessions are told apart: several cids, each with its own EHLO.
	cids := map[any]bool{}
	for _, l := range lines {
		if l["msg"] == "client" && strings.HasPrefix(strings.ToUpper(l["line"].(string)), "EHLO") {
			cids[l["cid"]] = true
		}
	}
	if len(cids) < 6 {
		t.Errorf("EHLO lines from %d cids, want a cid per connection (6 or more)", len(cids))
	}
}

// secretForms is the password as it could leak: as is, in hex, and in
// base64 at every byte alignment (alone, inside PLAIN's message, or after
// anything else).
func secretForms(user, pass string) []string {
	forms := []string{pass, hex.EncodeToString([]byte(pass)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
		base64.StdEncoding.EncodeToString([]byte(user + "\x00" + user + "\x00" + pass))}
	for k := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", k) + pass))
		from := 0
		if k > 0 {
			from = 4 // the first group holds prefix bytes
		}
		forms = append(forms, enc[from:len(enc)-4]) // the last may hold padding
	}
	return forms
}

const transcriptPy = `
import smtplib, ssl, sys
host, p587, p465, cafile, user, pw = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
def msg(mid):
    return ("From: %s\r\nTo: %s\r\nSubject: BODYSECRET-py\r\nMessage-ID: <%s>\r\n\r\nhello from python\r\n" % (user, user, mid)).encode()

s = smtplib.SMTP(host, int(p587), timeout=60)
s.starttls(context=ctx)
s.login(user, pw)
s.sendmail(user, [user], msg("tr-plain@x"))
s.quit()

s = smtplib.SMTP(host, int(p587), timeout=60)
s.starttls(context=ctx)
s.ehlo()
s.user, s.password = user, pw
s.auth("LOGIN", s.auth_login)
s.quit()

s = smtplib.SMTP_SSL(host, int(p465), context=ctx, timeout=60)
s.login(user, pw)
s.sendmail(user, [user], msg("tr-465@x"))
s.quit()
`
