package queue

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// TestLongLinesFound: longLines finds a line over 998 octets before its
// CRLF however the bytes are cut into writes, and not a line of exactly
// 998.
func TestLongLinesFound(t *testing.T) {
	for _, tc := range []struct {
		what string
		in   string
		long bool
	}{
		{"998 and CRLF", "a\r\n" + strings.Repeat("x", 998) + "\r\nb\r\n", false},
		{"999 and CRLF", "a\r\n" + strings.Repeat("x", 999) + "\r\nb\r\n", true},
		{"998 and LF", strings.Repeat("x", 998) + "\n", false},
		{"999 and LF", strings.Repeat("x", 999) + "\n", true},
		{"998 at the end", "a\r\n" + strings.Repeat("x", 998), false},
		{"999 at the end", "a\r\n" + strings.Repeat("x", 999), true},
		{"5000", strings.Repeat("y", 5000) + "\r\n", true},
		{"short lines", strings.Repeat("short line\r\n", 500), false},
	} {
		for _, size := range []int{1, 2, 7, 998, 999, 1000, 1 << 20} {
			var l longLines
			for in := tc.in; len(in) > 0; {
				n := min(size, len(in))
				l.Write([]byte(in[:n]))
				in = in[n:]
			}
			if l.found != tc.long {
				t.Errorf("%s in writes of %d: found %v", tc.what, size, l.found)
			}
		}
	}
}

// TestStoredLongLineShortenedThroughPostfix: an entry whose stored body
// has a line of 5,000 octets (queued before submission shortened such
// lines, or a captured message redelivered) goes out with no line over
// 998 octets, through a real Postfix to a go-smtp sink, though both
// announce 8BITMIME: the part re-encoded quoted-printable, decoding to
// the text stored, the DKIM signature made over what was sent verifying
// after Postfix, whose own limit (2,048) would otherwise cut the line and
// break it. What is stored is not changed.
func TestStoredLongLineShortenedThroughPostfix(t *testing.T) {
	st, acc, sk, w, record := postfixRelay(t)
	text := strings.Repeat("Grüße aus Köln, eine lange Zeile. ", 150)[:5000] + "\r\nshort line\r\n"
	raw := []byte("From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\nSubject: long\r\n" +
		"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\nMessage-ID: <long1@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text)
	d := store.NewDelivery(raw, t0)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{"bob@remote.test"}, d.Info, d.Size, t0)
	if _, err := st.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	entry := queued(t, st)[0]
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("took %d entries", n)
	}
	if q := queued(t, st); len(q) != 0 {
		t.Fatalf("still queued: %+v", q)
	}
	var got []sunk
	for deadline := time.Now().Add(90 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = sk.received()
	}
	if len(got) != 1 {
		t.Fatalf("the sink behind Postfix got %d messages", len(got))
	}
	data := got[0].data
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > message.MaxLine {
			t.Fatalf("line %d of what arrived has %d octets", i+1, len(line))
		}
	}
	info := message.Parse(data)
	if info.Part.Encoding != "QUOTED-PRINTABLE" {
		t.Errorf("arrived as %q, want quoted-printable", info.Part.Encoding)
	}
	if dec, err := message.Decode(data, &info.Part); err != nil || string(dec) != text {
		t.Errorf("arrived decoding to %d bytes (%v), stored %d", len(dec), err, len(text))
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) {
		return []string{record}, nil
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("dkim after postfix: %v %+v", err, vs)
	}
	rc, err := st.OpenBody(context.Background(), acc.ID, entry.BodyID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(stored, raw) {
		t.Error("the stored body was changed")
	}
}

// TestHopsReadsLines checks that the loop check's read of a body counts
// its Received fields and finds what its lines are, which spares send a
// read of its own: a line over 998 octets in the header, in the body,
// across the reader's buffer, or none; and that it leaves the body to
// signing, which reads it all, when the sender's domain has a key.
func TestHopsReadsLines(t *testing.T) {
	key, err := xdkim.GenerateKey("ed25519", "s", t0)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 999)
	ok := strings.Repeat("y", 998)
	received := strings.Repeat("Received: by a; Sat, 05 Dec 2026 08:00:00 +0000\r\n", 3)
	for _, tc := range []struct {
		name string
		body string
		hops int
		want lineLength
	}{
		{"short", received + "Subject: s\r\n\r\n" + ok + "\r\nend\r\n", 3, linesShort},
		{"long in the body", received + "Subject: s\r\n\r\nhello\r\n" + long + "\r\n", 3, linesLong},
		{"long at the end, no CRLF", "Subject: s\r\n\r\n" + long, 0, linesLong},
		{"998 at the end, no CRLF", "Subject: s\r\n\r\n" + ok, 0, linesShort},
		{"long in the header", "X-Long: " + long + "\r\n" + received + "\r\nhi\r\n", 3, linesLong},
		{"long past the buffer", received + "\r\n" + strings.Repeat("z", 5000) + strings.Repeat(ok+"\r\n", 20) + "\r\n", 3, linesLong},
		{"many short past the buffer", received + "\r\n" + strings.Repeat(ok+"\r\n", 20), 3, linesShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(Config{}, &memStore{body: []byte(tc.body)}, nil, nil)
			m := &outMsg{entries: []store.QueueEntry{{ID: 1, MailFrom: "alice@example.org"}}}
			n, err := w.hops(context.Background(), m)
			if err != nil || n != tc.hops || m.lines != tc.want {
				t.Errorf("hops %d, %v, lines %d; want %d hops, lines %d", n, err, m.lines, tc.hops, tc.want)
			}
			// The body goes on past a header this short: unread.
			w = New(Config{}, &memStore{body: []byte(tc.body + strings.Repeat(ok+"\r\n", 10)), key: key}, nil, nil)
			m = &outMsg{entries: []store.QueueEntry{{ID: 1, MailFrom: "alice@example.org"}}}
			if n, err := w.hops(context.Background(), m); err != nil || n != tc.hops || m.lines != linesUnknown {
				t.Errorf("with a DKIM key: hops %d, %v, lines %d; want %d hops, lines unknown", n, err, m.lines, tc.hops)
			}
		})
	}
}
