package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/service"
	"github.com/xtramail/xtramail/internal/store"
)

// binary is the xtramail command built once for the end-to-end tests,
// which run it as a real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xtramail-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "xtramail")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build xtramail: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is an xtramail serve process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	imap   string // IMAP over TLS
	data   string
	stderr *bytes.Buffer
	exited chan struct{}
}

func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	return startServerConfig(t, data, "", extra...)
}

// startServerConfig is startServer with more of the configuration file
// (TOML sections after [capture]'s).
func startServerConfig(t *testing.T, data, config string, extra ...string) *server {
	t.Helper()
	s := &server{data: data, addr: freePort(t), imap: freePort(t), stderr: new(bytes.Buffer), exited: make(chan struct{})}
	// Outside dev mode the capture listener needs its upstreams listed.
	cfgFile := filepath.Join(t.TempDir(), "xtramail.toml")
	if err := os.WriteFile(cfgFile, []byte("[capture]\nallow = [\"127.0.0.0/8\", \"::1\"]\n"+config), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(binary, "serve", "--config", cfgFile, "--data", data, "--capture-listen", s.addr,
		"--imap-listen", s.imap, "--metrics-listen", "off", "--web-listen", "off", "--hostname", "localhost")
	s.cmd.Args = append(s.cmd.Args, extra...)
	s.cmd.Stderr = &lockedWriter{w: s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.exited:
			t.Fatalf("server exited at start: %s", s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen on %s: %s", s.addr, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.exited })
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	terminate(t, s.cmd.Process, s.exited, s.stderr)
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("server exit code %d: %s", code, s.stderr)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// cliProc runs the built binary as an administrator would.
func cliProc(t *testing.T, data, stdin string, args ...string) string {
	t.Helper()
	cmd, hung := boundedCommand(binary, append(args, "--data", data)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if hung() {
		t.Fatalf("xtramail %s still running after %v; its goroutines:\n%s", strings.Join(args, " "), commandLimit, out)
	}
	if err != nil {
		t.Fatalf("xtramail %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// openStore opens the data directory's store beside the running server.
func openStore(t *testing.T, data string) store.Store {
	t.Helper()
	cfg := config.Default()
	cfg.Data = data
	st, err := service.OpenStore(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// mailboxBodies returns the raw messages of an address's mailbox by Message-ID.
func mailboxBodies(t *testing.T, st store.Store, addr, mailbox string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	a, err := st.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, a.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, a.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, m := range msgs {
		rc, err := st.OpenBody(ctx, a.ID, m.BodyID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[m.MessageID] = b
	}
	return out
}

func searchLog(t *testing.T, data string, args ...string) []store.LogEvent {
	t.Helper()
	out := cliProc(t, data, "", append([]string{"log", "search", "--json"}, args...)...)
	var evs []store.LogEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e store.LogEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log search output %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// waitLog runs searchLog until ok accepts its result or 30 s have passed,
// and returns the last result: for records written in the background.
func waitLog(t *testing.T, data string, ok func([]store.LogEvent) bool, args ...string) []store.LogEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := searchLog(t, data, args...)
		if ok(evs) || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasEvent(evs []store.LogEvent, status store.LogStatus, rcpt string) bool {
	for _, e := range evs {
		if e.Status == status && e.Rcpt == rcpt {
			return true
		}
	}
	return false
}

const pythonSend = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
mail_from, rcpts = sys.argv[2], sys.argv[3].split(",")
msg = sys.stdin.buffer.read()
with smtplib.SMTP(host, int(port), local_hostname="upstream.test") as s:
    s.ehlo()
    assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("smtputf8") and s.has_extn("chunking"), s.esmtp_features
    assert s.has_extn("size") and s.has_extn("starttls") and s.has_extn("enhancedstatuscodes"), s.esmtp_features
    try:
        refused = s.sendmail(mail_from, rcpts, msg)
        print("OK", sorted(refused.items()))
    except smtplib.SMTPRecipientsRefused as e:
        print("REFUSED", sorted((k, v[0], v[1].decode()) for k, v in e.recipients.items()))
`

func pySend(t *testing.T, addr, from, rcpts string, msg []byte) string {
	t.Helper()
	cmd := exec.Command("python3", "-c", pythonSend, addr, from, rcpts)
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestCaptureEndToEnd(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "s3cret-pass\n", "user", "add", "bob@example.test", "--password-stdin")
	cliProc(t, data, "", "user", "add", "alice@example.test")
	cliProc(t, data, "", "user", "add", "off@example.test")
	cliProc(t, data, "", "user", "disable", "off@example.test")
	srv := startServer(t, data)

	// Python's smtplib: dot-stuffing, 8-bit, a bare LF (normalised to CRLF).
	msg1 := []byte("From: Outside <sender@outside.test>\r\nTo: bob@example.test\r\nSubject: =?utf-8?q?caf=C3=A9?= plans\r\n" +
		"Message-ID: <py-1@outside.test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\nCafé at noon.\r\n.leading dot line\r\n..two dots\r\nbare\nlf\r\n")
	if got := pySend(t, srv.addr, "sender@outside.test", "bob@example.test", msg1); got != "OK []" {
		t.Fatalf("smtplib send: %s", got)
	}
	want1 := bytes.ReplaceAll(msg1, []byte("bare\nlf"), []byte("bare\r\nlf"))

	// swaks from Debian, as an upstream MTA would send.
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Fatal("swaks is not installed: run the README's test command, which installs it")
	}
	msg2 := "From: Carol <carol@outside.test>\r\nTo: bob@example.test, alice@example.test\r\nSubject: from swaks\r\nMessage-ID: <swaks-2@outside.test>\r\n\r\nhello from swaks\r\n"
	sw := exec.Command("swaks", "--server", srv.addr, "--from", "carol@outside.test", "--to", "bob@example.test,alice@example.test",
		"--data", "-", "--helo", "upstream.test", "--pipeline")
	sw.Stdin = strings.NewReader(msg2)
	if out, err := sw.CombinedOutput(); err != nil || !strings.Contains(string(out), "<-  250 2.0.0 stored") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}

	// Unknown and disabled recipients get 550 5.1.1; a mixed transaction
	// keeps the protected recipient's copy.
	got := pySend(t, srv.addr, "sender@outside.test", "nobody@example.test", msg1)
	if !strings.HasPrefix(got, "REFUSED [('nobody@example.test', 550, '5.1.1 ") {
		t.Fatalf("unknown recipient: %s", got)
	}
	got = pySend(t, srv.addr, "sender@outside.test", "off@example.test,stranger@else.test", msg1)
	if !strings.Contains(got, "('off@example.test', 550, '5.1.1 Mailbox not protected here (continuity disabled") {
		t.Fatalf("disabled recipient: %s", got)
	}

	// A journaled copy of alice's outbound mail lands in her Sent folder.
	msg3 := []byte("From: alice@example.test\r\nTo: partner@else.test\r\nSubject: outbound\r\nMessage-ID: <out-3@example.test>\r\n\r\nsent by alice\r\n")
	if got := pySend(t, srv.addr, "alice@example.test", "partner@else.test", msg3); got != "OK []" {
		t.Fatalf("journaled outbound: %s", got)
	}

	st := openStore(t, data)
	bob := mailboxBodies(t, st, "bob@example.test", store.Inbox)
	if !bytes.Equal(bob["py-1@outside.test"], want1) {
		t.Errorf("bob's smtplib copy:\n got %q\nwant %q", bob["py-1@outside.test"], want1)
	}
	// swaks ends the data with one more CRLF before the final dot.
	msg2 += "\r\n"
	if string(bob["swaks-2@outside.test"]) != msg2 {
		t.Errorf("bob's swaks copy:\n got %q\nwant %q", bob["swaks-2@outside.test"], msg2)
	}
	if len(bob) != 2 {
		t.Errorf("bob has %d messages, want 2", len(bob))
	}
	if alice := mailboxBodies(t, st, "alice@example.test", store.Inbox); string(alice["swaks-2@outside.test"]) != msg2 || len(alice) != 1 {
		t.Errorf("alice's inbox: %q", alice)
	}
	if sent := mailboxBodies(t, st, "alice@example.test", store.Sent); !bytes.Equal(sent["out-3@example.test"], msg3) || len(sent) != 1 {
		t.Errorf("alice's Sent: %q", sent)
	}
	if off := mailboxBodies(t, st, "off@example.test", store.Inbox); len(off) != 0 {
		t.Errorf("disabled address got %d messages", len(off))
	}

	// The message log, through the CLI.
	evs := searchLog(t, data, "--message-id", "py-1@outside.test")
	if !hasEvent(evs, msglog.Stored, "bob@example.test") {
		t.Errorf("no stored event for py-1: %+v", evs)
	}
	for _, e := range evs {
		if e.Subject != "café plans" || e.MailFrom != "sender@outside.test" || e.RemoteIP != "127.0.0.1" || e.Size != int64(len(want1)) {
			t.Errorf("event fields %+v", e)
		}
	}
	// Refusals are written by the background message log writer: wait
	// for the record.
	refusedOK := func(evs []store.LogEvent) bool { return len(evs) == 1 && strings.Contains(evs[0].Detail, "550 5.1.1") }
	if evs := waitLog(t, data, refusedOK, "--address", "nobody@example.test", "--status", "refused"); !refusedOK(evs) {
		t.Errorf("refused events %+v", evs)
	}
	if evs := searchLog(t, data, "--address", "alice@example.test", "--since", "1h"); !hasEvent(evs, msglog.Stored, "alice@example.test") {
		t.Errorf("alice's events %+v", evs)
	}
	// The table view shows the upstream's IP (issue 12 part 6).
	if out := cliProc(t, data, "", "log", "search", "--message-id", "py-1@outside.test"); !regexp.MustCompile(`(?m)^.*stored .*bob@example.test\s+127\.0\.0\.1\s`).MatchString(out) {
		t.Errorf("log search table without the remote IP:\n%s", out)
	}
	// One JSON key style, snake_case, in every --json output.
	for _, args := range [][]string{
		{"domain", "list", "--json"},
		{"user", "list", "--json"},
		{"log", "search", "--json"},
		{"message", "list", "bob@example.test", "--json"},
	} {
		what := strings.Join(args, " ")
		vs := decodeJSON(t, what, cliProc(t, data, "", args...))
		if len(vs) == 0 {
			t.Errorf("%s printed nothing", what)
		}
		checkSnake(t, what, vs)
	}

	// Restart keeps everything, and UIDs continue.
	srv.stop(t)
	srv = startServer(t, data)
	msg4 := []byte("Subject: after restart\r\nMessage-ID: <after-4@outside.test>\r\n\r\nstill here\r\n")
	if got := pySend(t, srv.addr, "sender@outside.test", "bob@example.test", msg4); got != "OK []" {
		t.Fatalf("send after restart: %s", got)
	}
	st2 := openStore(t, data)
	bob = mailboxBodies(t, st2, "bob@example.test", store.Inbox)
	if len(bob) != 3 || !bytes.Equal(bob["py-1@outside.test"], want1) || !bytes.Equal(bob["after-4@outside.test"], msg4) {
		t.Fatalf("after restart bob has %d messages", len(bob))
	}
	a, _ := st2.Account(context.Background(), "bob@example.test")
	mb, _ := st2.Mailbox(context.Background(), a.ID, store.Inbox)
	if mb.UIDNext != 4 || mb.Messages != 3 {
		t.Fatalf("bob's inbox after restart %+v", mb)
	}
	srv.stop(t)
}

// TestKill9LosesNothingAcknowledged kills the server with SIGKILL in the
// middle of a load run and checks that every message answered 250 is
// stored after a restart.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "", "user", "add", "bob@example.test")
	srv := startServer(t, data)

	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 160) // 10 KiB
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(srv.addr)
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("k9-%d-%d@load.test", w, i)
				msg := append([]byte("Subject: load\r\nMessage-ID: <"+id+">\r\n\r\n"), body...)
				if err := c.SendMail("load@outside.test", []string{"bob@example.test"}, bytes.NewReader(msg)); err != nil {
					return // the server died mid-transaction: not acknowledged
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	// Let the load run, then kill without warning.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no message acknowledged before the kill: %s", srv.stderr)
	}

	srv = startServer(t, data)
	st := openStore(t, data)
	stored := mailboxBodies(t, st, "bob@example.test", store.Inbox)
	var lost []string
	for _, id := range acked {
		b, ok := stored[id]
		if !ok || !bytes.HasSuffix(b, body) {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged messages lost after kill -9, e.g. %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
	t.Logf("%d messages acknowledged before kill -9, all stored; %d stored in total", len(acked), len(stored))
	// The restarted server still accepts mail.
	if got := pySend(t, srv.addr, "x@outside.test", "bob@example.test", []byte("Subject: after\r\n\r\nx\r\n")); got != "OK []" {
		t.Fatalf("send after kill -9 restart: %s", got)
	}
	srv.stop(t)
}
