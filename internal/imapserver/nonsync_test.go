package imapserver_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// injection is literal data that, if the server parsed it as commands,
// would be answered: every complete "inj NOOP" line gets "inj OK".
func injection(n int) string {
	return strings.Repeat("inj NOOP\r\n", n/10+1)[:n]
}

// TestNonSyncLiteralsNeverParsedAsCommands probes non-synchronising
// literals (RFC 7888; RFC 9051 section 4.3 makes LITERAL- part of
// IMAP4rev2) as a conformance checker and an attacker would, over TLS,
// before and after sign-in, in LOGIN, APPEND, MULTIAPPEND and SEARCH
// CHARSET: sizes 0, 4096 and 4097 (the LITERAL- bound, which holds
// before sign-in; after it we announce LITERAL+, so larger ones are
// accepted), at the pre-sign-in cap of 64 KiB and past it, past the
// server's literal limit, and past 2^64. Each
// literal holds "inj NOOP" lines: a refused literal gets one clear tagged
// answer and its bytes are read and dropped (RFC 7888 section 4) or, when
// more than the server will read for nothing, the session ends with BYE.
// Never is a byte of it answered as a command.
func TestNonSyncLiteralsNeverParsedAsCommands(t *testing.T) {
	const maxLiteral = 256 << 10
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{MaxLiteral: maxLiteral})
	msgA := msg("multi", "first of two")
	login := func(n int) string { return fmt.Sprintf("LOGIN %s {%d+}\r\n%s", testUser, n, injection(n)) }
	appendN := func(n int) string { return fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", n, injection(n)) }
	multi := func(n int) string {
		return fmt.Sprintf("APPEND INBOX {%d+}\r\n%s (\\Seen) {%d+}\r\n%s", len(msgA), msgA, n, injection(n))
	}
	charset := func(n int) string { return fmt.Sprintf("SEARCH CHARSET {%d+}\r\n%s ALL", n, injection(n)) }
	text := func(n int) string { return fmt.Sprintf("SEARCH TEXT {%d+}\r\n%s", n, injection(n)) }
	cases := []struct {
		name   string
		authed bool
		cmd    string
		want   string // the tagged answer's start
		bye    bool   // the session ends after it
		stored int    // messages APPEND stored
	}{
		{"LOGIN 0 before sign-in", false, login(0), "NO [AUTHENTICATIONFAILED]", false, 0},
		{"LOGIN 4096 before sign-in", false, login(4096), "NO [AUTHENTICATIONFAILED]", false, 0},
		// Over the LITERAL- bound before sign-in: refused, dropped, the
		// session goes on (RFC 7888 section 4).
		{"LOGIN 4097 before sign-in", false, login(4097), "BAD [TOOBIG]", false, 0},
		{"LOGIN 64 KiB before sign-in", false, login(64 << 10), "BAD [TOOBIG]", false, 0},
		{"LOGIN over 64 KiB before sign-in", false, login(64<<10 + 1), "BAD [TOOBIG]", true, 0},
		{"LOGIN past 2^64", false, "LOGIN " + testUser + " {18446744073709551616+}\r\n" + injection(100), "BAD", true, 0},
		{"APPEND 4097 before sign-in", false, appendN(4097), "BAD command not allowed in this state", false, 0},
		{"APPEND 64 KiB before sign-in", false, appendN(64 << 10), "BAD command not allowed in this state", false, 0},
		{"APPEND over 64 KiB before sign-in", false, appendN(64<<10 + 1), "BAD command not allowed in this state", true, 0},
		{"MULTIAPPEND before sign-in", false, multi(4097), "BAD command not allowed in this state", false, 0},
		{"SEARCH CHARSET before sign-in", false, charset(4097), "BAD command not allowed in this state", false, 0},
		{"APPEND 0", true, appendN(0), "OK [APPENDUID", false, 1}, // an empty message: no header fields, no body (RFC 5322 section 3.5)
		{"APPEND 4096", true, appendN(4096), "OK [APPENDUID", false, 1},
		{"APPEND 4097", true, appendN(4097), "OK [APPENDUID", false, 1},
		{"APPEND at the literal limit", true, appendN(maxLiteral), "OK [APPENDUID", false, 1},
		{"APPEND past the literal limit", true, appendN(maxLiteral + 1), "BAD [TOOBIG]", true, 0},
		{"APPEND past 2^64", true, "APPEND INBOX {18446744073709551616+}\r\n" + injection(100), "BAD", true, 0},
		{"MULTIAPPEND 4097", true, multi(4097), "OK [APPENDUID", false, 2},
		{"MULTIAPPEND second past the limit", true, multi(maxLiteral + 1), "BAD [TOOBIG]", true, 0},
		{"SEARCH CHARSET 0", true, charset(0), "NO [BADCHARSET", false, 0},
		{"SEARCH CHARSET 4097", true, charset(4097), "NO [BADCHARSET", false, 0},
		{"SEARCH CHARSET UTF-8", true, "SEARCH CHARSET {5+}\r\nUTF-8 ALL", "OK", false, 0},
		{"SEARCH TEXT 4097", true, text(4097), "OK", false, 0},
		// Over the 64 KiB bound of a string but within what the server
		// reads for nothing: refused, dropped, the session goes on.
		{"SEARCH TEXT over the string bound", true, text(64<<10 + 1), "BAD [TOOBIG]", false, 0},
		{"SEARCH TEXT past the literal limit", true, text(maxLiteral + 1), "BAD [TOOBIG]", true, 0},
	}
	// What is announced agrees with what is read: before sign-in each
	// literal is bounded at 64 KiB, so LITERAL- (4096 bytes at most);
	// after it any literal to the server's limit, LITERAL+.
	t.Run("announced", func(t *testing.T) {
		c := e.dial()
		lines := c.ok("CAPABILITY")
		has(t, lines, " LITERAL- ")
		hasNot(t, lines, "LITERAL+")
		_, st := c.cmd("LOGIN " + testUser + ` "` + testPassword + `"`)
		if !strings.Contains(st, " LITERAL+ ") || strings.Contains(st, "LITERAL-") {
			t.Errorf("LOGIN's capabilities: %q", st)
		}
		lines = c.ok("CAPABILITY")
		has(t, lines, " LITERAL+ ")
		hasNot(t, lines, "LITERAL-")
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *conn
			if tc.authed {
				c = e.login()
				c.ok("SELECT INBOX")
			} else {
				c = e.dial()
			}
			// Written from another goroutine: a server that stops
			// reading (BYE) must not block the test.
			go func() {
				c.c.SetWriteDeadline(time.Now().Add(2 * time.Minute))
				io.WriteString(c.c, "t1 "+tc.cmd+"\r\n")
			}()
			lines, st := c.until("t1")
			if !strings.HasPrefix(st, tc.want) {
				t.Fatalf("got %q, want %q...", st, tc.want)
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "inj ") {
					t.Fatalf("literal data answered as a command: %q", l)
				}
			}
			var rest string
			if tc.bye {
				c.c.SetReadDeadline(time.Now().Add(time.Minute))
				b, err := io.ReadAll(c.r)
				if err != nil && !isClosed(err) {
					t.Fatalf("want the server to close; got %v after %q", err, b)
				}
				rest = string(b)
				if !strings.HasPrefix(rest, "* BYE") {
					t.Fatalf("after the refused literal: %q, want BYE and close", rest)
				}
			} else {
				c.send("t2 NOOP")
				more, st := c.until("t2")
				if !strings.HasPrefix(st, "OK") {
					t.Fatalf("NOOP after: %q", st)
				}
				rest = strings.Join(more, "\n")
			}
			if strings.Contains(rest, "inj ") {
				t.Fatalf("literal data answered as a command: %q", rest)
			}
			// What was stored: exactly the acknowledged messages.
			d := e.login()
			lines = d.ok("STATUS INBOX (MESSAGES)")
			var n int
			for _, l := range lines {
				fmt.Sscanf(l, "* STATUS INBOX (MESSAGES %d)", &n)
			}
			if n != 0 {
				d.ok("SELECT INBOX")
				d.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
				d.ok("EXPUNGE")
			}
			if n != tc.stored {
				t.Fatalf("INBOX holds %d messages after the command, want %d", n, tc.stored)
			}
		})
	}
}
