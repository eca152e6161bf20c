package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// bystander is a signed-in session with INBOX selected that must keep
// being answered while an attack runs on another connection.
type bystander struct {
	t  *testing.T
	mu sync.Mutex
	c  *conn
}

func newBystander(t *testing.T, e *env) *bystander {
	c := e.login()
	c.ok("SELECT INBOX")
	return &bystander{t: t, c: c}
}

// check runs a NOOP and a FETCH on the bystander; it fails the test when
// they are not answered.
func (b *bystander) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.c.ok("NOOP")
	b.c.ok("FETCH 1 (FLAGS)")
}

// during runs attack while the bystander keeps working, and checks it
// once more after.
func (b *bystander) during(attack func()) {
	b.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		attack()
	}()
	for {
		select {
		case <-done:
			b.check()
			return
		case <-time.After(200 * time.Millisecond):
			b.check()
		}
	}
}

// readUntilClosed reads what the server sends until it closes, for at
// most d.
func readUntilClosed(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	if err != nil && !isClosed(err) {
		t.Fatalf("want the server to close; got %v after %q", err, b)
	}
	return string(b)
}

// TestAttackProbes drives what an attacker sends port 993 (and the
// plaintext port, STARTTLS) and checks the answer, that the session ends
// or goes on as the RFC says, and that a bystander session is answered
// all along (the env fails the test on a recovered panic).
func TestAttackProbes(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("bystander", "body"), 0)
	by := newBystander(t, e)

	t.Run("binary garbage before and after sign-in", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 7))
		for _, signIn := range []bool{false, true} {
			by.during(func() {
				var c *conn
				if signIn {
					c = e.login()
					c.ok("SELECT INBOX")
				} else {
					c = e.dial()
				}
				var b strings.Builder
				for range 300 {
					line := make([]byte, rng.IntN(300))
					for i := range line {
						line[i] = byte(rng.IntN(256))
						if line[i] == '{' || line[i] == '\n' {
							line[i] = 'x' // no literal waits, one line each
						}
					}
					b.Write(line)
					b.WriteString("\r\n")
				}
				c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				io.WriteString(c.c, b.String()+"zz NOOP\r\n")
				// Every garbage line gets BAD, then the NOOP its OK.
				bad := 0
				for {
					l := c.line()
					if strings.HasPrefix(l, "zz ") {
						if !strings.HasPrefix(l, "zz OK") {
							t.Fatalf("NOOP after garbage: %q", l)
						}
						break
					}
					if strings.Contains(l, " BAD ") || strings.HasPrefix(l, "* BAD") {
						bad++
					}
				}
				if bad != 300 {
					t.Errorf("signed in %v: %d BAD answers to 300 garbage lines", signIn, bad)
				}
			})
		}
	})

	t.Run("1 GB line", func(t *testing.T) {
		by.during(func() {
			c := e.login()
			// The line is refused at 64 KiB and the connection closed:
			// the client cannot write its gigabyte.
			chunk := strings.Repeat("x", 1<<20)
			c.c.SetWriteDeadline(time.Now().Add(60 * time.Second))
			io.WriteString(c.c, "a1 NOOP ")
			sent := 0
			for ; sent < 1<<10; sent++ {
				if _, err := io.WriteString(c.c, chunk); err != nil {
					break
				}
			}
			if sent == 1<<10 {
				t.Fatal("the server read a 1 GB line")
			}
			got := readUntilClosed(t, c.c, 30*time.Second)
			if !strings.HasPrefix(got, "a1 BAD [TOOBIG] line too long\r\n* BYE") {
				t.Errorf("after %d MiB: %q", sent, got)
			}
		})
	})

	t.Run("a million parentheses in SEARCH", func(t *testing.T) {
		by.during(func() {
			c := e.login()
			c.ok("SELECT INBOX")
			// Within the line limit: refused by depth, the session goes on.
			n := 30000
			c.want("SEARCH "+strings.Repeat("(", n)+"ALL"+strings.Repeat(")", n), "BAD SEARCH: search keys nested too deeply")
			c.want("SEARCH "+strings.Repeat("NOT ", 15000)+"ALL", "BAD SEARCH: search keys nested too deeply")
			c.ok("NOOP")
			// A million: over the line limit, the connection closes.
			n = 1000000
			c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c.c, "a2 SEARCH "+strings.Repeat("(", n)+"ALL"+strings.Repeat(")", n)+"\r\n")
			got := readUntilClosed(t, c.c, 30*time.Second)
			if !strings.HasPrefix(got, "a2 BAD [TOOBIG] line too long\r\n* BYE") {
				t.Errorf("got %q", got)
			}
		})
	})

	t.Run("100,000 pipelined commands", func(t *testing.T) {
		by.during(func() {
			c := e.login()
			c.ok("SELECT INBOX")
			const n = 100000
			go func() {
				var b strings.Builder
				for i := range n {
					fmt.Fprintf(&b, "p%d FETCH 1 (FLAGS)\r\n", i)
				}
				c.c.SetWriteDeadline(time.Now().Add(5 * time.Minute))
				io.WriteString(c.c, b.String())
			}()
			// Answered in order, each once.
			c.timeout = 5 * time.Minute
			next := 0
			for next < n {
				l := c.line()
				if strings.HasPrefix(l, "* ") {
					continue
				}
				if want := fmt.Sprintf("p%d OK", next); !strings.HasPrefix(l, want) {
					t.Fatalf("got %q, want %s...", l, want)
				}
				next++
			}
		})
	})

	t.Run("COMPRESS twice", func(t *testing.T) {
		c := e.login()
		c.ok("COMPRESS DEFLATE")
		enableDeflate(c)
		c.want("COMPRESS DEFLATE", "NO [COMPRESSIONACTIVE]")
		c.ok("NOOP")
	})

	t.Run("AUTHENTICATE response over the line limit", func(t *testing.T) {
		by.during(func() {
			c := e.dial()
			c.send("a1 AUTHENTICATE PLAIN")
			if l := c.line(); l != "+" && l != "+ " {
				t.Fatalf("challenge %q", l)
			}
			c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c.c, strings.Repeat("A", 1<<20)+"\r\n")
			got := readUntilClosed(t, c.c, 30*time.Second)
			// Regression: it closed after a bare "BAD line too long".
			if !strings.HasPrefix(got, "a1 BAD [TOOBIG] line too long\r\n* BYE") {
				t.Errorf("got %q", got)
			}
		})
	})

	t.Run("LOGIN with a 1 MiB password", func(t *testing.T) {
		by.during(func() {
			c := e.dial()
			// Synchronising: refused before the "+", the session goes on.
			c.want(fmt.Sprintf("LOGIN %s {%d}", testUser, 1<<20), "BAD [TOOBIG] LOGIN: literal of 1048576 bytes is over the limit of 65536")
			c.ok("NOOP")
			// Non-synchronising: the bytes are already coming, so the
			// session ends rather than read them as commands.
			c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c.c, fmt.Sprintf("a9 LOGIN %s {%d+}\r\n", testUser, 1<<20))
			io.WriteString(c.c, strings.Repeat("p", 1<<20)+"\r\n")
			got := readUntilClosed(t, c.c, 30*time.Second)
			if !strings.HasPrefix(got, "a9 BAD [TOOBIG]") || !strings.Contains(got, "* BYE") {
				t.Errorf("got %q", got)
			}
		})
	})

	t.Run("STARTTLS injection", func(t *testing.T) {
		by.during(func() { startTLSInjection(t, e) })
	})

	// Last: it restarts the server, which ends the bystander.
	t.Run("IDLE without DONE", func(t *testing.T) { idleWithoutDone(t, e) })
}

// idleWithoutDone: a client that starts IDLE and never sends DONE is
// logged out by the autologout timer (RFC 9051 section 5.4). It restarts
// e's server with a short timer.
func idleWithoutDone(t *testing.T, e *env) {
	e.stop()
	e.start(imapserver.Config{AuthTimeout: 2 * time.Second})
	c := e.login()
	c.ok("SELECT INBOX")
	c.send("i1 IDLE")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	got := readUntilClosed(t, c.c, 60*time.Second)
	if !strings.Contains(got, "* BYE") {
		t.Errorf("IDLE without DONE ended with %q", got)
	}
}

// startTLSInjection: commands pipelined after STARTTLS in clear
// (injected by a man in the middle) are dropped, never run inside the TLS
// session (RFC 9051 section 6.2.1; CVE-2011-0411's class).
func startTLSInjection(t *testing.T, e *env) {
	raw, err := net.Dial("tcp", e.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	r := bufio.NewReader(raw)
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	if g, _ := r.ReadString('\n'); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	io.WriteString(raw, "a1 STARTTLS\r\nx1 CAPABILITY\r\nx2 LOGIN "+testUser+` "`+testPassword+`"`+"\r\n")
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "a1 OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		// The injected bytes broke the handshake: dropped as well.
		return
	}
	c := &conn{t: t, c: tc, r: bufio.NewReader(tc)}
	c.send("a2 NOOP")
	if l := c.line(); l != "a2 OK NOOP completed" {
		t.Fatalf("first answer inside TLS: %q (an injected command ran)", l)
	}
	// Not signed in by the injected LOGIN.
	c.want("SELECT INBOX", "BAD command not allowed in this state: sign in first")
}
