package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// Two sessions on one mailbox see each other's changes at the moments RFC
// 9051 section 7.5.1 allows: flag updates and EXISTS after any command,
// EXPUNGE never during FETCH, STORE or SEARCH by sequence number.
func TestTwoSessions(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")

	a.ok(`STORE 1 +FLAGS (\Answered)`)
	lines := b.ok("FETCH 4 (UID)")
	has(t, lines, `* 1 FETCH (FLAGS (\Answered))`)

	a.ok(`STORE 2 +FLAGS (\Deleted)`)
	a.ok("EXPUNGE")
	// b keeps its numbers during FETCH, STORE and SEARCH by sequence.
	lines = b.ok("FETCH 1:* (UID)")
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, "* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)")
	hasNot(t, lines, "* 2 FETCH (UID") // gone, not yet announced: left out
	lines = b.ok(`STORE 3 +FLAGS (\Flagged)`)
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, `* 3 FETCH (FLAGS (\Flagged))`)
	lines = b.ok("SEARCH ALL")
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, "* SEARCH 1 3 4")
	// Each of their OKs says an expunge waits, so that the client
	// knows why message 2 gave nothing (RFC 5530 EXPUNGEISSUED).
	if st := b.tagLine(); st != "OK [EXPUNGEISSUED] SEARCH completed" {
		t.Errorf("SEARCH with an expunge waiting: %q", st)
	}
	b.ok("COPY 2 INBOX")
	if st := b.tagLine(); st != "OK [EXPUNGEISSUED] COPY completed" {
		t.Errorf("COPY of the message expunged meanwhile: %q", st)
	}
	// NOOP reports it, and the numbers shift.
	lines = b.ok("NOOP")
	has(t, lines, "* 2 EXPUNGE")
	has(t, b.ok("FETCH 2 (UID)"), "* 2 FETCH (UID 3)")
	if st := b.tagLine(); st != "OK FETCH completed" {
		t.Errorf("FETCH with nothing waiting: %q", st)
	}
	// UID commands may report it at once.
	// a sees b's flag change with its next command.
	has(t, a.ok(`STORE 1 +FLAGS (\Deleted)`), `* 2 FETCH (FLAGS (\Flagged))`)
	a.ok("EXPUNGE")
	lines = b.ok("UID FETCH 1:* (FLAGS)")
	has(t, lines, "* 1 EXPUNGE")

	// New mail: EXISTS for both, \Recent for one only.
	e.deliverNew("INBOX", msg("new", "x"), 0)
	la := a.ok("NOOP")
	lb := b.ok("NOOP")
	has(t, la, "* 3 EXISTS")
	has(t, lb, "* 3 EXISTS")
	ra := strings.Join(la, "\n") + strings.Join(a.ok("FETCH 3 FLAGS"), "\n")
	rb := strings.Join(lb, "\n") + strings.Join(b.ok("FETCH 3 FLAGS"), "\n")
	if strings.Contains(ra, `\Recent`) == strings.Contains(rb, `\Recent`) {
		t.Errorf("\\Recent must go to exactly one session:\n%s\n---\n%s", ra, rb)
	}
}

// A restart (store closed and reopened, new server) keeps UIDVALIDITY and
// UIDs.
func TestRestartKeepsUIDs(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok(`STORE 2 +FLAGS (\Deleted)`)
	c.ok("EXPUNGE")
	before := c.ok("UID FETCH 1:* (UID)")
	c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)")
	statusBefore := c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)")
	e.stop()
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.st = openStore(t, e.dir)
	e.start(imapserver.Config{})
	c = e.login()
	if got := c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)"); strings.Join(got, "") != strings.Join(statusBefore, "") {
		t.Errorf("after restart %q, before %q", got, statusBefore)
	}
	c.ok("SELECT INBOX")
	if got := c.ok("UID FETCH 1:* (UID)"); strings.Join(got, "|") != strings.Join(before, "|") {
		t.Errorf("UIDs after restart %q, before %q", got, before)
	}
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
	// Shutdown gives up draining at its context's deadline (5 s); the
	// wait here is generous, for a loaded machine, since what is checked
	// is that it returns at all.
	select {
	case <-done:
	case <-time.After(60 * time.Second):
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
	raw.SetReadDeadline(time.Now().Add(time.Minute))
	l, _ := bufio.NewReader(raw).ReadString('\n')
	if !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("second connection from one IP: got %q", l)
	}
}

// TestLoadToolSessionAgainstStore runs the load tool's session (select, fetch flags,
// store, append, store \Deleted, uid expunge) twice over one mailbox with
// unseen mail, so that the shared flag snapshot serves the reads, and
// checks every answer against the store.
func TestLoadToolSessionAgainstStore(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("l%d", i), "x"), 0)
	}
	for round := range 2 {
		c := e.login()
		has(t, c.ok("SELECT INBOX"), "* 3 EXISTS", "* OK [UNSEEN 1]")
		lines := c.ok("FETCH 1:* (UID FLAGS)")
		if len(lines) != 3 {
			t.Fatalf("round %d FETCH: %q", round, lines)
		}
		has(t, c.ok(`STORE 3 +FLAGS (\Seen)`), `* 3 FETCH (FLAGS (\Seen))`)
		has(t, c.ok("FETCH 3 FLAGS"), `* 3 FETCH (FLAGS (\Seen))`)
		m := msg("appended", "x")
		c.send(fmt.Sprintf("ap APPEND INBOX {%d+}\r\n%s", len(m), m))
		lines, st := c.until("ap")
		if !strings.HasPrefix(st, "OK [APPENDUID") {
			t.Fatal(st)
		}
		has(t, lines, "* 4 EXISTS")
		uid := strings.TrimSuffix(strings.Fields(st)[3], "]")
		has(t, c.ok("UID STORE "+uid+` +FLAGS (\Deleted)`), `* 4 FETCH (FLAGS (\Deleted \Recent) UID `+uid+`)`)
		has(t, c.ok("UID EXPUNGE "+uid), "* 4 EXPUNGE")
		has(t, c.ok("FETCH 1:* (FLAGS)"), `* 3 FETCH (FLAGS (\Seen))`)
		c.ok("LOGOUT")
		mb, err := e.st.Mailbox(context.Background(), e.account.ID, "INBOX")
		if err != nil || mb.Messages != 3 {
			t.Fatalf("round %d: mailbox %+v %v", round, mb, err)
		}
		if _, err := e.st.FlagsByUID(context.Background(), e.account.ID, mb.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}
