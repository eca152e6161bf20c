package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// TestSignInLogKeysOnce: every log line of a signed-in session carried
// "account" twice, once added by LOGIN and once by the command loop on
// the move to the authenticated state (probe 38i). Each way of signing
// in is run, on both listeners, and every JSON line the server wrote is
// read with a decoder that rejects a key repeated in an object.
func TestSignInLogKeysOnce(t *testing.T) {
	e := newEnv(t)
	e.stop()
	logs := &lockedBuffer{}
	e.log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.start(imapserver.Config{})
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	signIns := map[string]func(c *conn){
		"LOGIN":                      func(c *conn) { c.ok(`LOGIN ` + testUser + ` "` + testPassword + `"`) },
		"AUTHENTICATE PLAIN SASL-IR": func(c *conn) { c.ok("AUTHENTICATE PLAIN " + ir) },
		"AUTHENTICATE PLAIN continuation": func(c *conn) {
			c.send("a1 AUTHENTICATE PLAIN")
			if l := c.line(); !strings.HasPrefix(l, "+") {
				t.Fatalf("want continuation, got %q", l)
			}
			c.send(ir)
			if _, st := c.until("a1"); !strings.HasPrefix(st, "OK") {
				t.Fatalf("AUTHENTICATE: %q", st)
			}
		},
	}
	sessions := 0
	for name, signIn := range signIns {
		for _, listener := range []string{"implicit TLS", "STARTTLS"} {
			var c *conn
			if listener == "implicit TLS" {
				c = e.dial()
			} else {
				c = e.dialStartTLS()
			}
			signIn(c)
			c.ok("NOOP")
			c.ok("SELECT INBOX")
			c.want("FETCH 99 FLAGS", "BAD")
			c.ok("LOGOUT")
			c.c.Close()
			sessions++
			t.Logf("%s on %s", name, listener)
		}
	}
	e.stop() // every session has ended and logged its close

	var signedIn, closedSignedIn int
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if err := noDuplicateKeys(l); err != nil {
			t.Errorf("%v in log line %s", err, l)
			continue
		}
		var rec struct {
			Msg, Account string
		}
		json.Unmarshal([]byte(l), &rec)
		switch {
		case rec.Msg == "IMAP sign-in" && rec.Account == testUser:
			signedIn++
		case rec.Msg == "IMAP connection closed" && rec.Account == testUser:
			closedSignedIn++
		}
	}
	if signedIn != sessions || closedSignedIn != sessions {
		t.Errorf("%d sessions: %d sign-in lines and %d close lines name the account; want one each", sessions, signedIn, closedSignedIn)
	}
}

// noDuplicateKeys returns an error when an object in the JSON text line
// has a key twice (encoding/json keeps the last one, silently).
func noDuplicateKeys(line string) error {
	d := json.NewDecoder(strings.NewReader(line))
	var walk func() error
	walk = func() error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("key %q twice", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token() // '}'
			return err
		case json.Delim('['):
			for d.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token() // ']'
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("text after the object")
	}
	return nil
}

// dialStartTLS connects to the plaintext listener and starts TLS.
func (e *env) dialStartTLS() *conn {
	e.t.Helper()
	raw, err := net.Dial("tcp", e.plain)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { raw.Close() })
	c := &conn{t: e.t, c: raw, r: bufio.NewReader(raw)}
	if g := c.line(); !strings.HasPrefix(g, "* OK") {
		e.t.Fatalf("greeting %q", g)
	}
	c.ok("STARTTLS")
	tc := tls.Client(raw, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err != nil {
		e.t.Fatal(err)
	}
	tc.SetDeadline(time.Time{})
	c.c, c.r = tc, bufio.NewReader(tc)
	return c
}
