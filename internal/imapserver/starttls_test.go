package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// The plaintext listener (tests only) refuses sign-in until STARTTLS.
func TestStartTLS(t *testing.T) {
	e := newEnv(t)
	raw, err := net.Dial("tcp", e.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := &conn{t: t, c: raw, r: bufio.NewReader(raw)}
	if g := c.line(); !strings.Contains(g, "LOGINDISABLED") || !strings.Contains(g, "STARTTLS") {
		t.Fatalf("greeting %q", g)
	}
	c.want(`LOGIN alice@example.org "`+testPassword+`"`, "NO [PRIVACYREQUIRED]")
	c.ok("STARTTLS")
	tc := tls.Client(raw, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
	lines := c.ok("CAPABILITY")
	has(t, lines, "AUTH=PLAIN")
	hasNot(t, lines, "LOGINDISABLED")
	c.ok(`LOGIN alice@example.org "` + testPassword + `"`)
}
