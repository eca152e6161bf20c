package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// FuzzSession feeds raw bytes to a live session (signed in, INBOX
// selected, over the plaintext test listener after STARTTLS is skipped:
// the bytes go straight to the command reader) and checks that the server
// neither panics nor hangs.
func FuzzSession(f *testing.F) {
	seeds := []string{
		"a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)]<0.10> BINARY[1] BODYSTRUCTURE)\r\n",
		"a1 UID SEARCH RETURN (MIN MAX SAVE) OR TEXT x (NOT SEEN) UID 1:*\r\na2 FETCH $ UID\r\n",
		"a1 STORE 1 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen kw)\r\n",
		"a1 APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
		"a1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (* %) RETURN (CHILDREN STATUS (MESSAGES))\r\n",
		"a1 IDLE\r\nDONE\r\n",
		"a1 SELECT INBOX (QRESYNC (1 1 1:5 (1:3 1:3)))\r\n",
		"a1 UID EXPUNGE 1:*\r\na2 CLOSE\r\n",
		"a1 COPY 1:* Trash\r\na2 MOVE 1 Drafts\r\n",
		"a1 CREATE a/b\r\na2 RENAME a c\r\na3 DELETE c/b\r\n",
		"((((((\r\n", "a1 {5}\r\n", "* OK\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// One server and store for the whole run (fsyncs make a fresh one per
	// input slow); each input gets its own signed-in session, and the
	// mailbox is refilled when inputs have emptied it.
	e := newEnv(f)
	e.deliver("INBOX", msg("fuzz", "body"), 0)
	e.deliver("INBOX", multipartMsg, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The env's helpers report to this input's t while it runs.
		e.t = t
		defer func() { e.t = f }()
		if mb, err := e.st.Mailbox(t.Context(), e.account.ID, "INBOX"); err == nil && mb.Messages < 2 {
			e.deliver("INBOX", multipartMsg, 0)
		}
		panics := e.srv.Panics()
		c := e.login()
		c.ok("SELECT INBOX")
		c.c.SetDeadline(time.Now().Add(time.Minute))
		c.c.Write(append(data, "\r\nzz LOGOUT\r\n"...))
		// End of input: a literal the bytes announce but do not hold ends
		// at EOF instead of waiting.
		c.c.(*tls.Conn).CloseWrite()
		// Read until the server closes: LOGOUT, a fatal error, or the
		// deadline (a hang, which fails).
		_, err := io.Copy(io.Discard, c.r)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("session hung on %q", data)
		}
		c.c.Close()
		if e.srv.Panics() != panics {
			t.Fatalf("session panicked on %q", data)
		}
	})
}
