package submission_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// rawConv is an SMTP conversation by hand over a real TLS connection,
// to send what go-smtp's client would not (BDAT, endless lines).
type rawConv struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (c *rawConv) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expect reads one reply (all its lines) and checks that it starts with
// prefix.
func (c *rawConv) expect(prefix string) string {
	c.t.Helper()
	var all string
	for {
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("want %q: %v (so far %q)", prefix, err, all)
		}
		all += line
		if len(line) < 4 || line[3] != '-' {
			break
		}
	}
	if !strings.HasPrefix(all, prefix) {
		c.t.Fatalf("got %q, want %q", all, prefix)
	}
	return all
}

func (c *rawConv) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// expectTooLong checks the answer to an endless command line: "500
// 5.4.0", then the server hangs up. Under TLS the plaintext decrypted
// before the limit was crossed reaches go-smtp as a line of its own, which
// may get one answer first (see smtpserver.LineGuard.Read).
func (c *rawConv) expectTooLong() {
	c.t.Helper()
	for i := 0; i < 2; i++ {
		c.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("want 500 5.4.0: %v", err)
		}
		if strings.HasPrefix(line, "500 5.4.0 ") {
			c.expectClosed()
			return
		}
	}
	c.t.Fatalf("no 500 5.4.0 for an endless command line")
}

// expectClosed checks that the server hung up.
func (c *rawConv) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if line, err := c.r.ReadString('\n'); err == nil {
		c.t.Fatalf("connection still open, read %q", line)
	}
}

// signedIn opens a session signed in as alice: on 587 with STARTTLS
// (implicit false), on 465 with TLS from the first byte.
func signedIn(t *testing.T, srv *testserver.Server, implicit bool) *rawConv {
	t.Helper()
	var c *rawConv
	if implicit {
		conn, err := tls.Dial("tcp", srv.Submissions, srv.ClientTLS())
		if err != nil {
			t.Fatalf("dial 465: %v", err)
		}
		c = &rawConv{t: t, conn: conn, r: bufio.NewReader(conn)}
		c.expect("220 ")
		c.cmd("EHLO client.test", "250")
	} else {
		conn, err := net.Dial("tcp", srv.Submission)
		if err != nil {
			t.Fatalf("dial 587: %v", err)
		}
		c = &rawConv{t: t, conn: conn, r: bufio.NewReader(conn)}
		c.expect("220 ")
		c.cmd("EHLO client.test", "250")
		c.cmd("STARTTLS", "220 ")
		tc := tls.Client(conn, srv.ClientTLS())
		c.conn.SetDeadline(time.Now().Add(2 * time.Minute))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("STARTTLS handshake: %v", err)
		}
		c.conn, c.r = tc, bufio.NewReader(tc)
		if ehlo := c.cmd("EHLO client.test", "250"); !strings.Contains(ehlo, "CHUNKING") {
			t.Fatalf("no CHUNKING after STARTTLS:\n%s", ehlo)
		}
	}
	t.Cleanup(func() { c.conn.Close() })
	c.cmd("AUTH PLAIN "+base64Std("\x00"+alice+"\x00"+alicePw), "235 ")
	return c
}

// longLine returns n bytes of printable text without a line break.
func longLine(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// TestLongLinesSubmitted guards issue 12 part 1 on the submission
// listener: go-smtp's 2000-byte MaxLineLength applied inside DATA and
// BDAT, so a user could not send a message with a line of 1999 bytes or
// more (HTML mail, base64 without line breaks). Such a message is accepted
// on 587 and 465, over DATA and BDAT, and its Sent copy is byte for byte
// what was sent.
func TestLongLinesSubmitted(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Submission.MaxPerHour = 1000 })
	for _, port := range []struct {
		name     string
		implicit bool
	}{{"587", false}, {"465", true}} {
		for _, n := range []int{998, 1999, 2000, 100_000, 10 << 20} {
			for _, bdat := range []bool{false, true} {
				verb := "DATA"
				if bdat {
					verb = "BDAT"
				}
				mid := fmt.Sprintf("long-%s-%s-%d@x", port.name, verb, n)
				body := "From: Alice <" + alice + ">\r\nTo: " + outsider + "\r\nSubject: long line\r\nMessage-ID: <" + mid + ">\r\n" +
					"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\n" + longLine(n) + "\r\nend\r\n"
				t.Run(fmt.Sprintf("%s/%s/%d", port.name, verb, n), func(t *testing.T) {
					c := signedIn(t, srv, port.implicit)
					c.cmd("MAIL FROM:<"+alice+">", "250 ")
					c.cmd("RCPT TO:<"+outsider+">", "250 ")
					if bdat {
						// Chunks of 1 MiB split the long line across chunks.
						rest := body
						for len(rest) > 1<<20 {
							c.send(fmt.Sprintf("BDAT %d\r\n", 1<<20) + rest[:1<<20])
							c.expect("250 ")
							rest = rest[1<<20:]
						}
						c.send(fmt.Sprintf("BDAT %d LAST\r\n", len(rest)) + rest)
						c.expect("250 2.0.0 ")
					} else {
						c.cmd("DATA", "354 ")
						c.send(body)
						c.cmd(".", "250 2.0.0 ")
					}
					c.cmd("QUIT", "221 ")
					got, ok := srv.Bodies(t, alice, store.Sent)[mid]
					if !ok {
						t.Fatalf("no Sent copy of %s", mid)
					}
					if string(got) != body {
						t.Fatalf("Sent copy of %d bytes differs from the %d bytes sent", len(got), len(body))
					}
				})
			}
		}
	}
}

// TestSubmissionCommandLineLimit: command lines keep a bound while message
// lines have none. An endless command line, before a message or between
// two BDAT chunks, gets "500 5.4.0" and the connection is closed, on 587
// (under STARTTLS) and 465; a long but bounded one is answered normally.
func TestSubmissionCommandLineLimit(t *testing.T) {
	srv := start(t, nil)
	endless := "NOOP " + longLine(smtpserver.MaxCommandBytes+1000)
	for _, port := range []struct {
		name     string
		implicit bool
	}{{"587", false}, {"465", true}} {
		t.Run(port.name+"/before a message", func(t *testing.T) {
			c := signedIn(t, srv, port.implicit)
			c.send(endless)
			c.expectTooLong()
		})
		t.Run(port.name+"/between BDAT chunks", func(t *testing.T) {
			c := signedIn(t, srv, port.implicit)
			c.cmd("MAIL FROM:<"+alice+">", "250 ")
			c.cmd("RCPT TO:<"+outsider+">", "250 ")
			c.send("BDAT 12\r\nSubject: x\r\n")
			c.expect("250 ")
			c.send(endless)
			c.expectTooLong()
			if len(queued(t, srv, alice)) != 0 {
				t.Errorf("an aborted transfer was queued")
			}
		})
		t.Run(port.name+"/long but bounded command line", func(t *testing.T) {
			c := signedIn(t, srv, port.implicit)
			c.cmd("NOOP "+longLine(3000), "250 ")
			c.cmd("NOOP", "250 ")
		})
	}
	t.Run("587/before STARTTLS", func(t *testing.T) {
		conn, err := net.Dial("tcp", srv.Submission)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := &rawConv{t: t, conn: conn, r: bufio.NewReader(conn)}
		c.expect("220 ")
		c.send(endless)
		c.expect("500 5.4.0 ")
		c.expectClosed()
	})
}

// TestChunkedTransferReset: RSET or EHLO after a BDAT chunk without LAST
// aborts that transaction and the session goes on (RFC 3030 4); the
// listener hung up, taking go-smtp's "message transmission aborted" for a
// broken connection. Nothing of the abandoned message is kept, and the
// next transaction on the session is.
//
// The next transaction uses DATA: go-smtp v0.25 races on a BDAT after a
// reset BDAT (the abandoned chunk's goroutine reads Conn.dataResult after
// its Data returns while the new BDAT replaces it), which the race
// detector reports whatever the timing.
func TestChunkedTransferReset(t *testing.T) {
	srv := start(t, nil)
	for _, implicit := range []bool{false, true} {
		for _, reset := range []string{"RSET", "EHLO client.test"} {
			c := signedIn(t, srv, implicit)
			mid := fmt.Sprintf("abandoned-%v-%d@x", implicit, len(reset))
			c.cmd("MAIL FROM:<"+alice+">", "250 ")
			c.cmd("RCPT TO:<"+outsider+">", "250 ")
			part := msg(alice, outsider, mid, "")[:40]
			c.send(fmt.Sprintf("BDAT %d\r\n%s", len(part), part))
			c.expect("250 ")
			c.cmd(reset, "250")
			if reset != "RSET" {
				c.cmd("AUTH PLAIN "+base64Std("\x00"+alice+"\x00"+alicePw), "503 ") // still signed in
			}

			kept := fmt.Sprintf("kept-%v-%d@x", implicit, len(reset))
			c.cmd("MAIL FROM:<"+alice+">", "250 ")
			c.cmd("RCPT TO:<"+outsider+">", "250 ")
			c.cmd("DATA", "354 ")
			c.send(msg(alice, outsider, kept, "") + ".\r\n")
			c.expect("250 ")
			c.cmd("QUIT", "221 ")
			sent := srv.Bodies(t, alice, store.Sent)
			if _, ok := sent[mid]; ok {
				t.Errorf("the message abandoned by %s was stored", reset)
			}
			if _, ok := sent[kept]; !ok {
				t.Errorf("the message after %s was not stored", reset)
			}
		}
	}
}

// TestBDATCutShortNotKept: a client that announces a last BDAT chunk,
// sends part of it and closes the connection gets nothing kept: go-smtp
// takes a chunk cut short by the end of the stream for a whole one
// (smtpserver.ErrCutShort), and the message was stored, queued and
// relayed though the client never got an answer and would send it again.
// On 587 and 465, the client's TCP connection ending without a TLS
// close_notify, as when its process dies (see smtpserver.LineGuard's
// peerGone for a close_notify).
func TestBDATCutShortNotKept(t *testing.T) {
	srv := start(t, nil)
	for _, implicit := range []bool{false, true} {
		c := signedIn(t, srv, implicit)
		c.cmd("MAIL FROM:<"+alice+">", "250")
		c.cmd("RCPT TO:<"+outsider+">", "250")
		head := "From: " + alice + "\r\nTo: " + outsider + "\r\nSubject: cut short\r\nMessage-ID: <cut" + fmt.Sprint(implicit) + "@x>\r\n\r\nthe first line of a long message\r\n"
		c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", 100000, head))
		time.Sleep(50 * time.Millisecond) // the part arrives, then the end
		c.conn.(*tls.Conn).NetConn().Close()
	}
	// A whole message sent after them, on a new session (TLS and a
	// sign-in: far longer than the cut ones' Data takes to end), is kept.
	c := signedIn(t, srv, true)
	c.cmd("MAIL FROM:<"+alice+">", "250")
	c.cmd("RCPT TO:<"+outsider+">", "250")
	whole := "From: " + alice + "\r\nTo: " + outsider + "\r\nSubject: whole\r\nMessage-ID: <whole@x>\r\n\r\nall of it\r\n"
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(whole), whole))
	c.expect("250 ")
	sent := srv.Bodies(t, alice, store.Sent)
	if _, ok := sent["whole@x"]; !ok {
		t.Fatal("the whole message sent after was not kept")
	}
	for _, mid := range []string{"cutfalse@x", "cuttrue@x"} {
		if _, ok := sent[mid]; ok {
			t.Errorf("%s: a message whose last chunk was cut short was kept", mid)
		}
	}
	if n := len(queued(t, srv, alice)); n != 1 {
		t.Errorf("%d queue entries, want 1 (the whole message's)", n)
	}
}
