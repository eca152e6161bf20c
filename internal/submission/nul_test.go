package submission_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// nulBody is a message of random lines (letters and spaces: nothing to
// dot-stuff) whose body is about size bytes; header is where the body
// starts.
func nulBody(rng *rand.Rand, mid string, size int) (msg []byte, header int) {
	var b bytes.Buffer
	b.WriteString("From: Alice <" + alice + ">\r\nTo: " + outsider + "\r\nSubject: nul " + mid + "\r\nMessage-ID: <" + mid + ">\r\n" +
		"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\n")
	header = b.Len()
	for b.Len()-header < size {
		n := rng.IntN(200)
		for i := range n {
			if i > 0 && rng.IntN(8) == 0 {
				b.WriteByte(' ')
			} else {
				b.WriteByte('a' + byte(rng.IntN(26)))
			}
		}
		b.WriteString("\r\n")
	}
	return b.Bytes(), header
}

// TestNULInBodyRefused: a NUL byte in a message's body, which no 7bit or
// 8bit data may carry (RFC 5322 2.3, RFC 2045 2.8, RFC 6152), was stored
// and relayed as it was, to relays without 8BITMIME too. It is refused
// "554 5.6.0" as a NUL in the header is, over DATA and BDAT, on 587 and
// 465, wherever it lies (random positions, seeded; for BDAT at a chunk's
// last or first byte too), with nothing stored or queued and a refusal
// record; the session goes on, and the same message without it is sent.
func TestNULInBodyRefused(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	srv := start(t, func(c *config.Config) { c.Submission.MaxPerHour = 1000 })
	refused, sent := 0, 0
	for _, port := range []struct {
		name     string
		implicit bool
	}{{"587", false}, {"465", true}} {
		c := signedIn(t, srv, port.implicit)
		for _, verb := range []string{"DATA", "BDAT"} {
			for i := range 4 {
				mid := fmt.Sprintf("nul-%s-%s-%d@x", port.name, verb, i)
				msg, header := nulBody(rng, mid, 1+rng.IntN(64<<10))
				// BDAT chunks of random sizes; the NUL at a random place of
				// the body, or at a chunk's end or start.
				var cuts []int
				for at := header / 2; at < len(msg); at += 1 + rng.IntN(8<<10) {
					cuts = append(cuts, at)
				}
				nul := header + rng.IntN(len(msg)-header)
				where := "at random"
				if verb == "BDAT" && i%2 == 1 {
					for _, cut := range cuts {
						if cut > header {
							nul, where = cut-1+rng.IntN(2), "at a chunk boundary"
							break
						}
					}
				}
				if msg[nul] == '\r' || msg[nul] == '\n' {
					nul-- // a NUL, not a broken line ending
				}
				bad := bytes.Clone(msg)
				bad[nul] = 0
				t.Logf("%s: NUL at byte %d of %d (body from %d), %s", mid, nul, len(bad), header, where)

				got := transfer(c, verb, bad, cuts)
				if !strings.HasPrefix(got, "554 5.6.0 ") || !strings.Contains(got, "NUL") {
					t.Errorf("%s: %q, want 554 5.6.0 saying the body has a NUL", mid, got)
				}
				refused++
				if _, ok := srv.Bodies(t, alice, store.Sent)[mid]; ok {
					t.Errorf("%s: a message with a NUL in its body was stored", mid)
				}
				if n := len(queued(t, srv, alice)); n != sent {
					t.Fatalf("%s: %d queue entries, want %d (the messages without a NUL)", mid, n, sent)
				}
				if got := transfer(c, verb, msg, cuts); !strings.HasPrefix(got, "250 ") {
					t.Errorf("%s without the NUL: %q, want it sent", mid, got)
				}
				sent++
			}
		}
	}
	n := 0
	for _, d := range refusals(t, srv, alice) {
		if strings.HasPrefix(d, "submission: 554 5.6.0 Message body contains a NUL byte") {
			n++
		}
	}
	if n != refused {
		t.Errorf("%d refusal records of a NUL in the body, want %d", n, refused)
	}
}

// transfer sends msg to outsider in one transaction, over DATA or over
// BDAT in chunks cut at cuts, and returns the last answer.
func transfer(c *rawConv, verb string, msg []byte, cuts []int) string {
	c.cmd("MAIL FROM:<"+alice+">", "250 ")
	c.cmd("RCPT TO:<"+outsider+">", "250 ")
	if verb == "DATA" {
		c.cmd("DATA", "354 ")
		c.send(string(msg))
		return c.cmd(".", "")
	}
	from := 0
	for _, cut := range cuts {
		c.send(fmt.Sprintf("BDAT %d\r\n", cut-from) + string(msg[from:cut]))
		c.expect("250 ")
		from = cut
	}
	c.send(fmt.Sprintf("BDAT %d LAST\r\n", len(msg)-from) + string(msg[from:]))
	return c.expect("")
}

// TestWebmailNUL: the webmail's own messages never hold a NUL for
// Submit to refuse: text typed with U+0000 goes quoted-printable ("=00",
// RFC 2045 6.7), and so is sent. A held message that holds one all the
// same (a kept part of a received message, 8bit with a NUL) is not sent,
// not tried again, and its entry says why in words for a person.
func TestWebmailNUL(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	ob := submission.NewOutbox(srv.Store, submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now), nil, clk.Now)

	typed, err := compose.Build(compose.Draft{From: compose.Address{Addr: alice}, To: []compose.Address{{Addr: outsider}},
		Subject: "typed", Text: "before\x00after\r\n"}, clk.Now(), "typed@x")
	if err != nil {
		t.Fatal(err)
	}
	holdRaw(t, srv, acct, string(typed), clk.Now())
	kept := "From: " + alice + "\r\nTo: " + outsider + "\r\nSubject: kept\r\nMessage-ID: <kept@x>\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\nab\x00cd\r\n--b--\r\n"
	holdRaw(t, srv, acct, kept, clk.Now())
	clk.Advance(10 * time.Second)
	if n, err := ob.SendDue(ctx); n != 2 || err != nil {
		t.Fatalf("SendDue: %d %v", n, err)
	}
	if queuedFor(t, srv, "typed@x") != 1 {
		t.Errorf("the typed text with U+0000 was not sent")
	}
	sent := srv.Bodies(t, alice, store.Sent)["typed@x"]
	if bytes.IndexByte(sent, 0) >= 0 || !bytes.Contains(sent, []byte("before=00after")) {
		t.Errorf("typed text sent as:\n%q", sent)
	}
	list, _ := srv.Store.Outbox(ctx, acct.ID)
	if len(list) != 1 || !strings.Contains(list[0].Error, "NUL byte") {
		t.Fatalf("outbox %+v, want the kept message's entry saying it holds a NUL byte", list)
	}
	clk.Advance(time.Hour)
	if n, _ := ob.SendDue(ctx); n != 0 {
		t.Error("a message refused for a NUL was tried again")
	}
	if queuedFor(t, srv, "kept@x") != 0 {
		t.Error("a message with a NUL in its body was queued")
	}
}
