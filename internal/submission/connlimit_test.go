package submission_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
)

// TestConnectionLimitAnswersInsideTLS: past the per-IP limit, a client
// of port 587 reads "421 4.7.0" as its greeting, and so does a client of
// port 465, inside TLS (RFC 8314 3.3: the session is TLS from the first
// byte). The refusal used to be written in plain text on 465 as well,
// which a TLS client takes for a broken handshake, not for a reply it
// can act on. A client from another address is still served.
func TestConnectionLimitAnswersInsideTLS(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Submission.MaxConnsPerIP = 2 })
	for _, port := range []struct {
		name string
		dial func(d *net.Dialer) (string, error)
	}{
		{"587", func(d *net.Dialer) (string, error) {
			c, err := d.Dial("tcp", srv.Submission)
			if err != nil {
				return "", err
			}
			t.Cleanup(func() { c.Close() })
			c.SetDeadline(time.Now().Add(time.Minute))
			return bufio.NewReader(c).ReadString('\n')
		}},
		{"465", func(d *net.Dialer) (string, error) {
			c, err := tls.DialWithDialer(d, "tcp", srv.Submissions, srv.ClientTLS())
			if err != nil {
				return "", err
			}
			t.Cleanup(func() { c.Close() })
			c.SetDeadline(time.Now().Add(time.Minute))
			return bufio.NewReader(c).ReadString('\n')
		}},
	} {
		t.Run(port.name, func(t *testing.T) {
			from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			for i := range 2 {
				if got, err := port.dial(from); err != nil || !strings.HasPrefix(got, "220 ") {
					t.Fatalf("connection %d: %q %v", i+1, got, err)
				}
			}
			got, err := port.dial(from)
			if err != nil || !strings.HasPrefix(got, "421 4.7.0 ") {
				t.Errorf("over the per-IP limit: %q %v, want 421 4.7.0", got, err)
			}
			other := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
			if got, err := port.dial(other); err != nil || !strings.HasPrefix(got, "220 ") {
				t.Errorf("another address: %q %v", got, err)
			}
		})
	}
	// go-smtp's client reads the refusal as an SMTP error too.
	hello := func() error {
		c, err := smtp.DialTLS(srv.Submissions, srv.ClientTLS())
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		return c.Hello("client.test")
	}
	for range 2 {
		if err := hello(); err != nil {
			t.Fatalf("465: %v", err)
		}
	}
	if err := hello(); code(err) != "421 4.7.0" {
		t.Errorf("go-smtp client over the limit on 465: %v, want 421 4.7.0", err)
	}
}
