package testserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/testserver"
)

const pythonSend = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port), local_hostname="upstream.test") as s:
    s.starttls()
    s.ehlo()
    s.sendmail(sys.argv[2], sys.argv[3].split(","), sys.stdin.buffer.read())
print("OK")
`

// pySend sends one message with Python's smtplib over STARTTLS.
func pySend(t *testing.T, addr, from, rcpts string, msg []byte) {
	t.Helper()
	cmd := exec.Command("python3", "-c", pythonSend, addr, from, rcpts)
	cmd.Stdin = bytes.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
}

// TestEndToEnd is the whole path on a testserver: a copy captured over
// SMTP (Python's smtplib, STARTTLS) is read back byte for byte over IMAP
// with a verified certificate, a wrong password is refused, and the
// metrics endpoint counts the message.
func TestEndToEnd(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"bob@example.test": "s3cret-pass"}})
	msg := []byte("From: Outside <sender@outside.test>\r\nTo: bob@example.test\r\nSubject: over imap\r\n" +
		"Message-ID: <imap-1@outside.test>\r\n\r\nread me\r\n")
	pySend(t, srv.Capture, "sender@outside.test", "bob@example.test", msg)
	if got := srv.Bodies(t, "bob@example.test", "INBOX"); len(got) != 1 || !bytes.Equal(got["imap-1@outside.test"], msg) {
		t.Fatalf("stored INBOX %q", got)
	}

	opts := &imapclient.Options{TLSConfig: srv.ClientTLS()}
	c, err := imapclient.DialTLS(srv.IMAP, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob@example.test", "wrong").Wait(); err == nil {
		t.Error("wrong password accepted")
	}
	c.Close()

	c, err = imapclient.DialTLS(srv.IMAP, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.test", "s3cret-pass").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || len(msgs[0].BodySection) != 1 {
		t.Fatalf("fetched %+v", msgs)
	}
	for _, b := range msgs[0].BodySection {
		if !bytes.Equal(b.Bytes, msg) {
			t.Errorf("BODY[] %q, want %q", b.Bytes, msg)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + srv.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nxtramail_store_messages 1\n") {
		t.Errorf("metrics do not count the message:\n%.2000s", body)
	}
}

// line reads lines until one starts with prefix and returns it.
func line(t *testing.T, br *bufio.Reader, prefix string) string {
	t.Helper()
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for %q: %v (last %q)", prefix, err, l)
		}
		if strings.HasPrefix(l, prefix) {
			return strings.TrimRight(l, "\r\n")
		}
	}
}

// TestShutdownDrainsEverySession guards issue 12 part 4 in-process: on
// Shutdown an idle SMTP session gets 421 4.3.2, IMAP sessions (one in
// IDLE) get BYE, an SMTP transaction in flight completes with 250, nothing
// accepts new connections, and Shutdown reports a completed drain.
func TestShutdownDrainsEverySession(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"bob@example.test": "s3cret-pass"}})

	dial := func(addr string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(60 * time.Second))
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	idleSMTP, idleBR := dial(srv.Capture)
	line(t, idleBR, "220 ")
	io.WriteString(idleSMTP, "EHLO upstream.test\r\n")
	line(t, idleBR, "250 ")

	busy, busyBR := dial(srv.Capture)
	line(t, busyBR, "220 ")
	io.WriteString(busy, "EHLO upstream.test\r\nMAIL FROM:<a@outside.test>\r\n")
	line(t, busyBR, "250 ")
	line(t, busyBR, "250 ")
	io.WriteString(busy, "RCPT TO:<bob@example.test>\r\nDATA\r\n")
	line(t, busyBR, "250 ")
	line(t, busyBR, "354 ")
	io.WriteString(busy, "Subject: in flight\r\nMessage-ID: <flight@outside.test>\r\n\r\nfirst half\r\n")

	imapSession := func(idle bool) *bufio.Reader {
		raw, err := tls.Dial("tcp", srv.IMAP, srv.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(60 * time.Second))
		t.Cleanup(func() { raw.Close() })
		br := bufio.NewReader(raw)
		line(t, br, "* OK")
		io.WriteString(raw, "a LOGIN bob@example.test s3cret-pass\r\nb SELECT INBOX\r\n")
		line(t, br, "a OK")
		line(t, br, "b OK")
		if idle {
			io.WriteString(raw, "c IDLE\r\n")
			line(t, br, "+ ")
		}
		return br
	}
	selected := imapSession(false)
	idling := imapSession(true)

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()

	if got := line(t, idleBR, "421 "); got != smtpserver.ShutdownReply {
		t.Errorf("idle SMTP session: %q", got)
	}
	for name, br := range map[string]*bufio.Reader{"selected": selected, "idle": idling} {
		if got := line(t, br, "* BYE"); got == "" {
			t.Errorf("IMAP session %s: no BYE", name)
		}
	}
	// The drain waits for the transaction in flight, and it completes.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) before the transaction in flight ended", err)
	default:
	}
	io.WriteString(busy, "second half\r\n.\r\n")
	if got := line(t, busyBR, "2"); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("transaction in flight: %q", got)
	}
	line(t, busyBR, "421 4.3.2 ")
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v, want a completed drain", err)
	}
	for _, a := range []string{srv.Capture, srv.IMAP} {
		if c, err := net.Dial("tcp", a); err == nil {
			c.Close()
			t.Errorf("%s still accepts after shutdown", a)
		}
	}
}

// TestWebSignIn: the web listener is up with the service, its
// certificate is trusted by HTTPClient, and a user signs in over HTTP/2.
func TestWebSignIn(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"bob@example.test": "bob-password"}})
	if !strings.HasPrefix(srv.Web, "https://127.0.0.1:") {
		t.Fatalf("Web = %q", srv.Web)
	}
	c := srv.HTTPClient()
	resp, err := c.PostForm(srv.Web+"/login", url.Values{"address": {"bob@example.test"}, "password": {"bob-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.ProtoMajor != 2 {
		t.Fatalf("sign in: %s %s", resp.Proto, resp.Status)
	}
	resp, err = c.Get(srv.Web + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "bob@example.test") {
		t.Fatalf("signed-in page: %s\n%s", resp.Status, body)
	}
}

// TestWebSignInLink: a one-time sign-in link that an administrator made
// signs its user in to the webmail once: opening the link spends nothing
// (a mail scanner may fetch it), its button does, and a second use is
// refused.
func TestWebSignInLink(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"bob@example.test": "bob-password"}})
	adm := admin.New(srv.Store, admin.Options{})
	token, _, err := adm.CreateSignInLink(context.Background(), admin.CLI(), "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := c.Get(srv.Web + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	c := srv.HTTPClient()
	for range 2 { // a scanner's fetch, then the user's
		if code, page := get(c, "/login/link?token="+url.QueryEscape(token)); code != http.StatusOK || !strings.Contains(page, `action="/login/link"`) {
			t.Fatalf("link page: %d\n%s", code, page)
		}
	}
	resp, err := c.PostForm(srv.Web+"/login/link", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in by link: %s", resp.Status)
	}
	if code, page := get(c, "/"); code != http.StatusOK || !strings.Contains(page, "bob@example.test") {
		t.Fatalf("signed-in page: %d\n%s", code, page)
	}
	other := srv.HTTPClient()
	resp, err = other.PostForm(srv.Web+"/login/link", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second use of the link: %s, want 401", resp.Status)
	}
	if code, _ := get(other, "/"); code != http.StatusSeeOther {
		t.Fatalf("second user's page: %d, want a redirect to sign in", code)
	}
}
