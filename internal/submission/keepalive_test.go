package submission_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestKeepAliveCommandsDoNotHoldASlot: a client that never starts a
// transaction but sends a NOOP (or RSET) before each read timeout ran
// out held its connection, one of the listener's few, for ever: the
// timeout is per command. Slowloris clients from ten addresses filled a
// listener's 1,000 slots that way. Now a session without a transaction
// for longer than the read timeout is answered "421 4.4.2" and closed,
// on 587 (signed in), on 465 and on capture alike.
func TestKeepAliveCommandsDoNotHoldASlot(t *testing.T) {
	const timeout = 2 * time.Second
	srv := start(t, func(c *config.Config) {
		c.Submission.ReadTimeout = config.Duration{Duration: timeout}
		c.Capture.ReadTimeout = config.Duration{Duration: timeout}
	})
	for _, port := range []string{"587", "465", "capture"} {
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			var c *rawConv
			switch port {
			case "587":
				c = signedIn(t, srv, false)
			case "465":
				c = signedIn(t, srv, true)
			default:
				c = upstream(t, srv)
			}
			defer c.conn.Close()
			start := time.Now()
			for i := 0; ; i++ {
				if time.Since(start) > 6*timeout {
					t.Fatalf("still served after %s of NOOP and RSET without a transaction", time.Since(start).Round(time.Millisecond))
				}
				time.Sleep(timeout / 4)
				verb := "NOOP"
				if i%2 == 1 {
					verb = "RSET"
				}
				c.conn.SetDeadline(time.Now().Add(time.Minute))
				if _, err := fmt.Fprintf(c.conn, "%s\r\n", verb); err != nil {
					break // closed after its 421
				}
				line, err := c.r.ReadString('\n')
				if err != nil {
					t.Fatalf("%s after %s: connection closed without a reply (%v)", verb, time.Since(start).Round(time.Millisecond), err)
				}
				if strings.HasPrefix(line, "421 4.4.2 ") {
					if d := time.Since(start); d < timeout {
						t.Errorf("cut after %s, before the read timeout", d)
					}
					c.expectClosed()
					return
				}
				if !strings.HasPrefix(line, "250 ") {
					t.Fatalf("%s: %q", verb, line)
				}
			}
		})
	}
	// A session that sends mail goes on past the timeout in total.
	t.Run("sending", func(t *testing.T) {
		t.Parallel()
		c := signedIn(t, srv, true)
		defer c.conn.Close()
		start := time.Now()
		for i := 0; time.Since(start) < 3*timeout/2; i++ {
			c.cmd("MAIL FROM:<"+alice+">", "250 ")
			c.cmd("RCPT TO:<"+outsider+">", "250 ")
			c.cmd("DATA", "354 ")
			c.send(msg(alice, outsider, fmt.Sprintf("busy-%d@x", i), "") + ".\r\n")
			c.expect("250 ")
			time.Sleep(timeout / 4)
			c.cmd("NOOP", "250 ")
		}
	})
}

// upstream opens a raw session on the capture port, as the upstream
// filter does, EHLO done.
func upstream(t *testing.T, srv *testserver.Server) *rawConv {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Capture)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawConv{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect("220 ")
	c.cmd("EHLO up.test", "250")
	return c
}
