package capture

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/smtpserver"
)

// FuzzSession feeds raw bytes to a live capture session. The server must
// answer or hang up, never crash or hang, and the next connection must
// still work.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"HELO x\r\nMAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<bob@example.test>\r\nBDAT 3 LAST\r\nabcQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.test> SMTPUTF8\r\nRCPT TO:<bob@example.test> NOTIFY=NEVER\r\nDATA\r\n\n.\n\r\n.\r\n",
		"EHLO x\r\nSTARTTLS\r\n\x16\x03\x01garbage",
		"\x00\x01\x02\r\n\r\n\r\nRSET\r\nVRFY bob\r\nEXPN x\r\nHELP\r\nNOOP\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.test> SIZE=abc\r\nRCPT TO:<" + strings.Repeat("a", 2000) + "@example.test>\r\n",
		"EHLO x\r\nAUTH PLAIN AGJvYgBwYXNz\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, Config{Config: smtpserver.Config{MaxMessageBytes: 64 << 10, ReadTimeout: 2 * time.Second}})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("server neither answered nor hung up: %v", err)
		}
		// The server is still alive.
		c2, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetReadDeadline(time.Now().Add(time.Minute))
		if line, err := bufio.NewReader(c2).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("greeting after fuzz input: %q %v", line, err)
		}
	})
}
