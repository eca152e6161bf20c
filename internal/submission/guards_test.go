package submission_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// TestCaptureNeverRelays (issue 13 part 3): a journaled copy from a
// protected sender to an outside address, handed to the capture port, is
// stored in the sender's Sent folder and never queued: capture delivers
// nowhere, whoever the recipients.
func TestCaptureNeverRelays(t *testing.T) {
	sk := startSink(t, "8BITMIME")
	srv := start(t, func(c *config.Config) { sk.relayTo(c) })
	c, err := smtp.Dial(srv.Capture)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := send(c, alice, []string{outsider, "other@far.test"}, msg(alice, outsider, "journal@x", "")); got != "ok" {
		t.Fatalf("capture: %s", got)
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["journal@x"]; !ok {
		t.Fatal("the journaled copy is not in the sender's Sent folder")
	}
	if es := queued(t, srv, alice); len(es) != 0 {
		t.Fatalf("capture queued %d entries: %+v", len(es), es)
	}
	// What submission queues does reach the sink: the sink works, and
	// it never saw the captured copy.
	s := dial(t, srv)
	if err := s.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if got := send(s, alice, []string{outsider}, msg(alice, outsider, "submitted@x", "")); got != "ok" {
		t.Fatalf("submission: %s", got)
	}
	waitFor(t, "the submitted message at the relay", func() bool { return sk.count(outsider) == 1 })
	for _, tr := range sk.transactions() {
		if strings.Contains(string(tr.data), "journal@x") {
			t.Error("the relay got the captured copy")
		}
	}
}

// TestDataTimeoutCloses (issue 13 part 1): a client that stalls inside
// DATA on the submission port is cut off after the read timeout: the
// connection is closed (go-smtp would answer 421 and keep reading,
// upstream issue 196), and nothing is stored.
func TestDataTimeoutCloses(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Submission.ReadTimeout = config.Duration{Duration: 2 * time.Second} })
	// The session runs under the same short timeout, which a loaded
	// machine can overrun before DATA (a store look-up answered 4xx, a
	// command read cut off): what is tested is the stall inside DATA, so
	// a session refused for now is opened again.
	var conn *tls.Conn
	var r *bufio.Reader
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var ok bool
		if conn, r, ok = openToData(t, srv.Submissions, srv.ClientTLS()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no session reached DATA in 2 minutes")
		}
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s", msg(alice, outsider, "stalled@x", "")) // no final dot: stall
	start := time.Now()
	for {
		if _, err := r.ReadString('\n'); err != nil {
			break // closed
		}
	}
	if waited := time.Since(start); waited > 90*time.Second {
		t.Errorf("closed after %s", waited)
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["stalled@x"]; ok {
		t.Error("a message cut off mid-DATA was stored")
	}
}

// openToData signs alice in on the submissions port at addr and starts a
// message to outsider, up to the 354 that invites its body. ok is false
// (the connection closed) after a temporary failure on the way, a 4xx
// reply or a connection cut off, which the caller may try again.
func openToData(t *testing.T, addr string, cfg *tls.Config) (conn *tls.Conn, r *bufio.Reader, ok bool) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn = tls.Client(raw, cfg)
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	r = bufio.NewReader(conn)
	// expect reads one reply; false on a temporary failure.
	expect := func(prefix string) bool {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Logf("waiting for %s: %v, trying again", prefix, err)
				return false
			}
			if len(line) >= 4 && line[3] == '-' {
				continue
			}
			switch {
			case strings.HasPrefix(line, prefix):
				return true
			case strings.HasPrefix(line, "4"):
				t.Logf("got %q, want %s, trying again", line, prefix)
				return false
			}
			t.Fatalf("got %q, want %s", line, prefix)
		}
	}
	ok = expect("220") &&
		write(conn, "EHLO client.test\r\n") && expect("250") &&
		write(conn, fmt.Sprintf("AUTH PLAIN %s\r\n", base64Std("\x00"+alice+"\x00"+alicePw))) && expect("235") &&
		write(conn, fmt.Sprintf("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", alice, outsider)) &&
		expect("250") && expect("250") && expect("354")
	if !ok {
		conn.Close()
	}
	return conn, r, ok
}

// write writes s to w; false when the connection is gone.
func write(w net.Conn, s string) bool {
	_, err := fmt.Fprint(w, s)
	return err == nil
}

// TestSubmissionSharesIMAPThrottle (issue 13 part 2): wrong passwords on
// the submission port count against the same per-address throttle as
// IMAP: after them, SMTP answers 454 4.7.0 and an IMAP sign-in from a new
// client, even with the right password, is refused for now.
func TestSubmissionSharesIMAPThrottle(t *testing.T) {
	srv := start(t, nil)
	// 9 failures: the throttle's delay is then 16 s (1 s doubled per
	// failure past 5), long enough for the IMAP attempt below whatever
	// the machine's load. A 454 meanwhile is waited out.
	throttled, failures := false, 0
	deadline := time.Now().Add(3 * time.Minute)
	for failures < 9 {
		if time.Now().After(deadline) {
			t.Fatalf("%d failures in 3 minutes", failures)
		}
		c := dial(t, srv)
		got := code(c.Auth(sasl.NewPlainClient("", alice, fmt.Sprintf("wrong-%d", failures))))
		c.Close()
		switch got {
		case "535 5.7.8":
			failures++
		case "454 4.7.0":
			throttled = true
			time.Sleep(500 * time.Millisecond)
		default:
			t.Fatalf("wrong password %d: %s", failures, got)
		}
	}
	if !throttled {
		t.Fatal("9 wrong passwords over SMTP and no 454 4.7.0")
	}
	_, port, _ := net.SplitHostPort(srv.IMAP)
	script := `
import imaplib, ssl, sys
m = imaplib.IMAP4_SSL("localhost", int(sys.argv[1]), ssl_context=ssl.create_default_context(cafile=sys.argv[2]))
try:
    m.login(sys.argv[3], sys.argv[4])
    print("LOGGED IN")
except imaplib.IMAP4.error as e:
    print("REFUSED", e)
`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", "-c", script, port, filepath.Join(srv.Data, tlsutil.SelfSignedCertFile), alice, alicePw).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "REFUSED") || !strings.Contains(string(out), "UNAVAILABLE") {
		t.Errorf("IMAP sign-in after SMTP guessing: %s, want NO [UNAVAILABLE]", out)
	}
}
