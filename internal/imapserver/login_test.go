package imapserver_test

import (
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.want(`LOGIN alice@example.org "wrong password"`, "NO [AUTHENTICATIONFAILED]")
	c.want(`LOGIN nobody@example.org "x"`, "NO [AUTHENTICATIONFAILED]")
	c.want(`SELECT INBOX`, "BAD")
	c.ok(`LOGIN ALICE@example.org "` + testPassword + `"`)
	c.want(`LOGIN alice@example.org "x"`, "BAD")
	c.ok("SELECT INBOX")

	// Events are written in the background; Shutdown drains them.
	e.stop()
	events, err := e.st.SearchLog(context.Background(), store.LogQuery{Address: testUser})
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed int
	for _, ev := range events {
		switch ev.Status {
		case msglog.Login:
			ok++
			if ev.RemoteIP != "127.0.0.1" {
				t.Errorf("login event IP %q", ev.RemoteIP)
			}
		case msglog.LoginFailed:
			failed++
		}
	}
	if ok != 1 || failed != 1 {
		t.Errorf("message log: %d logins, %d failures; want 1 and 1 (%+v)", ok, failed, events)
	}
}

func TestLoginDisabledAccount(t *testing.T) {
	e := newEnv(t)
	if err := e.st.SetEnabled(context.Background(), testUser, false); err != nil {
		t.Fatal(err)
	}
	c := e.dial()
	c.want(`LOGIN alice@example.org "`+testPassword+`"`, "NO [AUTHENTICATIONFAILED]")
}

func TestAuthenticatePlain(t *testing.T) {
	e := newEnv(t)
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	t.Run("SASL-IR", func(t *testing.T) {
		c := e.dial()
		c.ok("AUTHENTICATE PLAIN " + ir)
		c.ok("SELECT INBOX")
	})
	t.Run("continuation", func(t *testing.T) {
		c := e.dial()
		c.send("a1 AUTHENTICATE PLAIN")
		if l := c.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("want continuation, got %q", l)
		}
		c.send(ir)
		_, st := c.until("a1")
		if !strings.HasPrefix(st, "OK") {
			t.Fatal(st)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := e.dial()
		c.send("a1 AUTHENTICATE PLAIN")
		c.line()
		c.send("*")
		_, st := c.until("a1")
		if !strings.HasPrefix(st, "BAD") {
			t.Fatal(st)
		}
	})
	t.Run("wrong", func(t *testing.T) {
		c := e.dial()
		bad := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00nope"))
		c.want("AUTHENTICATE PLAIN "+bad, "NO [AUTHENTICATIONFAILED]")
		c.want("AUTHENTICATE CRAM-MD5", "NO")
	})
}

// TestSignInEventsLoggedInBackground: sign-in events are written by the background
// writer, not before the OK, and Shutdown drains them.
func TestSignInEventsLoggedInBackground(t *testing.T) {
	e := newEnv(t)
	const n = 30
	for range n {
		c := e.login()
		c.ok("LOGOUT")
	}
	e.stop()
	events, err := e.st.SearchLog(context.Background(), store.LogQuery{Address: testUser, Status: msglog.Login, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d login events after Shutdown, want %d", len(events), n)
	}
}

// TestAuthenticatePlainMalformed: a PLAIN message that is empty ("=",
// RFC 4959 section 3) or not authzid NUL authcid NUL passwd was answered
// BAD, uncounted (probe 38i). It is a failed sign-in: NO
// [AUTHENTICATIONFAILED], counted toward the client's throttle as a
// wrong password is, so that the next sign-in from that IP, with the
// right password, is refused once the IP's bucket is full.
func TestAuthenticatePlainMalformed(t *testing.T) {
	e := newEnv(t)
	e.stop()
	const burst = 4
	policy := auth.ThrottlePolicy{Burst: burst, Window: time.Hour, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxKeys: 100}
	a := auth.NewAuthenticator(lookup(e.st), auth.Options{IPThrottle: auth.NewThrottle(policy)})
	srv := imapserver.New(imapserver.Config{TLS: e.tlsCfg}, e.st, a, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	e.srv, e.addr = srv, ln.Addr().String()
	t.Cleanup(e.stop)

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	malformed := []string{
		"=",                             // empty (RFC 4959)
		b64(testUser),                   // no NULs
		b64("\x00" + testUser),          // no password part
		b64("\x00\x00" + testPassword),  // empty authcid
		b64("a\x00b\x00c\x00d"),         // four parts
		b64("\x00" + testUser + "\x00"), // not malformed: an empty password
	}
	c := e.dial()
	for i, m := range malformed[:burst] {
		c.want("AUTHENTICATE PLAIN "+m, "NO [AUTHENTICATIONFAILED]")
		t.Logf("%d: %q refused", i, m)
	}
	// The continuation form: an empty response line is an empty message.
	c.send("a1 AUTHENTICATE PLAIN")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want continuation, got %q", l)
	}
	c.send("")
	if _, st := c.until("a1"); !strings.HasPrefix(st, "NO [") {
		t.Fatalf("empty response after '+': %q", st)
	}
	// The IP's bucket is full of those: the right password is refused
	// unchecked, as after as many wrong ones.
	c.want(`LOGIN `+testUser+` "`+testPassword+`"`, "NO [UNAVAILABLE]")
	for _, m := range malformed[burst:] {
		c.want("AUTHENTICATE PLAIN "+m, "NO [")
	}
}
