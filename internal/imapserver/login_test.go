package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

func TestCapability(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	lines := c.ok("CAPABILITY")
	has(t, lines, "IMAP4rev2", "AUTH=PLAIN", "SASL-IR", "IDLE", "CONDSTORE", "QRESYNC", "APPENDLIMIT=52428800", "COMPRESS=DEFLATE")
	hasNot(t, lines, "LOGINDISABLED")
	hasNot(t, lines, "STARTTLS")
}

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
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
	lines := c.ok("CAPABILITY")
	has(t, lines, "AUTH=PLAIN")
	hasNot(t, lines, "LOGINDISABLED")
	c.ok(`LOGIN alice@example.org "` + testPassword + `"`)
}

func TestLogoutAndShutdown(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	lines := c.ok("LOGOUT")
	has(t, lines, "* BYE")

	c2 := e.login()
	c2.ok("SELECT INBOX")
	c3 := e.login()
	c3.ok("SELECT INBOX")
	c3.send("i IDLE")
	c3.line()
	// A client that never finishes its TLS handshake.
	half, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
		close(done)
	}()
	if l := c2.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("want BYE at shutdown, got %q", l)
	}
	if l := c3.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("want BYE in IDLE at shutdown, got %q", l)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}

func TestAutologout(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{UnauthTimeout: 200 * time.Millisecond})
	c := e.dial()
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("want BYE, got %q", l)
	}
}

func TestConnectionLimit(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{MaxConnsPerIP: 1})
	e.dial()
	raw, err := net.Dial("tcp", e.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, _ := bufio.NewReader(raw).ReadString('\n')
	if !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("second connection from one IP: got %q", l)
	}
}
