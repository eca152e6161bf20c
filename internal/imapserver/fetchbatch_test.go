package imapserver_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/store"
)

// bodyCounter counts the per-body reads a store serves (Body and OpenBody
// look one body up each) and the bytes read through MessageBodies' Open.
type bodyCounter struct {
	store.Store
	bodies, opens, read atomic.Int64
}

func (b *bodyCounter) MessageBodies(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.MessageBody, error) {
	ms, err := b.Store.MessageBodies(ctx, accountID, mailboxID, ranges)
	for i := range ms {
		open := ms[i].Open
		ms[i].Open = func(ctx context.Context) (io.ReadCloser, error) {
			rc, err := open(ctx)
			if err != nil {
				return nil, err
			}
			return countingReader{rc, &b.read}, nil
		}
	}
	return ms, err
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// counted restarts e's server on a bodyCounter of its store.
func (e *env) counted() *bodyCounter {
	counter := &bodyCounter{Store: e.st}
	e.stop()
	e.st = counter
	e.start(imapserver.Config{})
	return counter
}

func (b *bodyCounter) Body(ctx context.Context, accountID, bodyID int64) (store.Body, error) {
	b.bodies.Add(1)
	return b.Store.Body(ctx, accountID, bodyID)
}

func (b *bodyCounter) OpenBody(ctx context.Context, accountID, bodyID int64) (io.ReadCloser, error) {
	b.opens.Add(1)
	return b.Store.OpenBody(ctx, accountID, bodyID)
}

// TestFetchReadsBodiesWithRows guards FETCH's reads: ENVELOPE,
// BODYSTRUCTURE, header sections, whole bodies and SEARCH's content keys
// get every message's body with the rows, in one store read
// (store.MessageBodies), never with a Body or OpenBody look-up per message:
// those were 60-85% of a FETCH of the newest 50 envelopes (issue 11 part
// 6). The answers stay those of the bytes stored.
func TestFetchReadsBodiesWithRows(t *testing.T) {
	e := newEnv(t)
	const n = 30
	raws := make([]string, n)
	for i := range n {
		raws[i] = fmt.Sprintf("From: s%d@example.net\r\nTo: alice@example.org\r\nSubject: message %d\r\n"+
			"Message-ID: <%d@batch>\r\n\r\nbody of message %d\r\n", i, i, i, i)
		if i%5 == 0 {
			raws[i] = strings.Replace(multipartMsg, "hello world", fmt.Sprintf("hello %d", i), 1)
		}
		e.deliver("INBOX", raws[i], 0)
	}
	counter := e.counted()
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok("FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE FLAGS)")
	if got := countPrefix(lines, "* "); got != n {
		t.Fatalf("%d FETCH lines, want %d", got, n)
	}
	has(t, lines, `"message 7"`, `"MIXED"`)
	lines = c.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[HEADER])")
	has(t, lines, "Subject: message 29\r\n\r\n", "Message-ID: <29@batch>\r\n\r\n")
	lines = c.ok("UID FETCH 1:* (BODY.PEEK[] RFC822.HEADER)")
	for i := range n {
		has(t, lines, fmt.Sprintf("BODY[] {%d}\r\n%s", len(raws[i]), raws[i]))
	}
	lines = c.ok("UID SEARCH FROM s17@example.net")
	has(t, lines, "* SEARCH 18")
	lines = c.ok("UID SEARCH BODY \"hello 25\"")
	has(t, lines, "* SEARCH 26")
	if b, o := counter.bodies.Load(), counter.opens.Load(); b != 0 || o != 0 {
		t.Fatalf("FETCH and SEARCH looked bodies up one by one: %d Body and %d OpenBody calls", b, o)
	}
}

// TestFetchHeaderReadsHeaderOnly checks that the header sections of a
// large message (what clients list a mailbox with) read its header and
// not its 3.6 MB body, and answer byte for byte; a FETCH mixing header and
// text sections still gets the whole message.
func TestFetchHeaderReadsHeaderOnly(t *testing.T) {
	e := newEnv(t)
	header := "From: big@example.net\r\nSubject: large\r\nX-Long: " + strings.Repeat("h", 900) + "\r\n\r\n"
	body := strings.Repeat("0123456789abcdef\r\n", 200_000)
	e.deliver("INBOX", header+body, 0)
	counter := e.counted()
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok("FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS.NOT (X-Long)] RFC822.HEADER)")
	has(t, lines, fmt.Sprintf("BODY[HEADER] {%d}\r\n%s", len(header), header),
		"BODY[HEADER.FIELDS.NOT (X-Long)] {41}\r\nFrom: big@example.net\r\nSubject: large\r\n\r\n",
		fmt.Sprintf("RFC822.HEADER {%d}\r\n%s", len(header), header))
	if n := counter.read.Load(); n > int64(len(header))+4096 {
		t.Fatalf("header sections read %d bytes of a %d-byte message", n, len(header)+len(body))
	}
	lines = c.ok("FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT]<3600000.20>)")
	has(t, lines, fmt.Sprintf("BODY[HEADER] {%d}\r\n%s", len(header), header),
		"BODY[TEXT]<3600000> {0}")
	lines = c.ok("FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT]<35990.20>)")
	has(t, lines, "BODY[TEXT]<35990> {20}\r\n"+body[35990:36010])
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
