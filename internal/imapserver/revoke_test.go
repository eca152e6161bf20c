package imapserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/imapserver"
)

// accountChanges are what "xtramail user disable", "user passwd" and
// "user remove" do to the store; the CLI is another process, so the
// server is not told (issue 11 part 4).
func accountChanges(t *testing.T, e *env) []struct {
	name   string
	change func()
	undo   func()
} {
	ctx := context.Background()
	return []struct {
		name   string
		change func()
		undo   func()
	}{
		{"disable", func() {
			if err := e.st.SetEnabled(ctx, testUser, false); err != nil {
				t.Fatal(err)
			}
		}, func() { e.st.SetEnabled(ctx, testUser, true) }},
		{"password change", func() {
			h, _ := auth.HashParams("a new password", cheapParams)
			if err := e.st.SetPassword(ctx, testUser, h); err != nil {
				t.Fatal(err)
			}
		}, func() {
			h, _ := auth.HashParams(testPassword, cheapParams)
			e.st.SetPassword(ctx, testUser, h)
		}},
		{"remove", func() {
			if err := e.st.DeleteAccount(ctx, testUser); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
}

// A session's next command after its account was disabled, removed or
// given a new password gets "* BYE" and the connection ends, without
// running the command.
func TestAccountChangeEndsSessionAtNextCommand(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{AccountCheckInterval: time.Hour}) // no sweep
	for _, ch := range accountChanges(t, e) {
		t.Run(ch.name, func(t *testing.T) {
			c := e.login()
			c.ok("SELECT INBOX")
			ch.change()
			c.send("a1 NOOP")
			if l := c.line(); !strings.HasPrefix(l, "* BYE") {
				t.Fatalf("command after %s: %q, want * BYE", ch.name, l)
			}
			assertClosed(t, c)
			if ch.undo != nil {
				ch.undo()
			}
		})
	}
}

// Sessions that wait for a command, and sessions in IDLE, are ended by
// the periodic check without sending anything.
func TestAccountChangeEndsIdleSessions(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{AccountCheckInterval: 100 * time.Millisecond})
	for _, ch := range accountChanges(t, e) {
		t.Run(ch.name, func(t *testing.T) {
			waiting := e.login()
			idling := e.login()
			idling.ok("SELECT INBOX")
			idling.send("i1 IDLE")
			if l := idling.line(); !strings.HasPrefix(l, "+") {
				t.Fatalf("IDLE: %q", l)
			}
			// Unchanged, nothing ends: both still answer.
			waiting.ok("NOOP")
			ch.change()
			for _, c := range []*conn{waiting, idling} {
				if l := c.line(); !strings.HasPrefix(l, "* BYE") {
					t.Fatalf("after %s: %q, want * BYE", ch.name, l)
				}
				assertClosed(t, c)
			}
			if ch.undo != nil {
				ch.undo()
				e.login().ok("NOOP") // the account works again
			}
		})
	}
}

// assertClosed fails unless the server closes the connection.
func assertClosed(t *testing.T, c *conn) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(time.Minute))
	if l, err := c.r.ReadString('\n'); err == nil {
		t.Fatalf("connection still open, server sent %q", l)
	}
}

// TestAccountChangeByAnotherProcess guards the account check's two
// paths: a change through the server's own store ends a session running
// commands at its next one (the change feed says so; no read per
// command), and a change by another process (a second store on the same
// data directory, as the CLI is), which the feed does not carry, ends it
// at its first command once Config.AccountRecheck has passed since its
// last read, while the sweep is off.
func TestAccountChangeByAnotherProcess(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{AccountCheckInterval: time.Hour, AccountRecheck: 300 * time.Millisecond})
	cli := openStore(t, e.dir)
	defer cli.Close()
	ctx := context.Background()
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok("NOOP")
	if err := cli.SetEnabled(ctx, testUser, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.send("a NOOP")
		l := c.line()
		if strings.HasPrefix(l, "* BYE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still answering %q 20 s after another process disabled the account", l)
		}
		for !strings.HasPrefix(l, "a ") {
			l = c.line()
		}
		time.Sleep(50 * time.Millisecond)
	}
	assertClosed(t, c)
	if err := cli.SetEnabled(ctx, testUser, true); err != nil {
		t.Fatal(err)
	}
}
