package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// TestNotificationOriginalHeaderBounded (class: a notification copied
// the original's header as stored, and a captured or submitted message
// may have header lines over 998 octets, RFC 5322 2.1.1): a message whose
// header has random long fields, some of words longer than a line may
// be, one without any white space, one of bytes that are not UTF-8, one
// folded with a long continuation line, is refused; the failure notice, the header returned (RET=HDRS)
// or the whole message (RET=FULL), has no line over 998 octets and none
// over 78 unless it holds a single word; net/mail reads the notice and
// the returned header, whose fields unfold to the original's characters;
// a whole message with a body line over 998 octets is returned as its
// header; the notice's In-Reply-To and References name a Message-ID
// that fits a line, folded, and are left out for one that does not.
// Delivered, the success report submission makes, bounds the
// header it is given the same way. The random fields are logged with
// their seed.
func TestNotificationOriginalHeaderBounded(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 3))
	word := func(n int) string {
		var w strings.Builder
		for range n {
			if rnd.IntN(30) == 0 {
				w.WriteString("é")
			} else {
				w.WriteByte(byte('a' + rnd.IntN(26)))
			}
		}
		return w.String()
	}
	type field struct{ name, value string }
	var fields []field
	// Within maxOriginalHeaders, all of it returned.
	total := 0
	for i := range 6 {
		var v strings.Builder
		for j := range 1 + rnd.IntN(30) {
			if j > 0 && total+v.Len() > 40<<10 {
				break
			}
			if j > 0 {
				v.WriteString([]string{" ", "  ", "\t"}[rnd.IntN(3)])
			}
			v.WriteString(word(1 + rnd.IntN([]int{10, 120, 3000}[rnd.IntN(3)])))
		}
		fields = append(fields, field{fmt.Sprintf("X-Long-%d", i), v.String()})
		total += v.Len()
	}
	fields = append(fields, field{"X-No-Space", word(999 + rnd.IntN(5000))})
	// Bytes that are not UTF-8, as a captured message may have: cut
	// where they reach the bound.
	raw := make([]byte, 999+rnd.IntN(2000))
	for i := range raw {
		raw[i] = byte(0x80 + rnd.IntN(0x40))
	}
	fields = append(fields, field{"X-Eight-Bit", string(raw)})
	fields = append(fields, field{"X-Folded", "start\r\n\t" + word(1+rnd.IntN(80)) + " " + word(999+rnd.IntN(3000)) + " end"})
	// A Message-ID as long as a line may be, or longer: the notice's
	// In-Reply-To and References name it when they can.
	id := strings.Repeat("i", 1+rnd.IntN(1200)) + "@example.org"
	t.Logf("Message-ID of %d octets", len(id)+2)
	var header strings.Builder
	header.WriteString("From: Alice <alice@example.org>\r\nTo: nobody@example.net\r\nSubject: long header\r\n" +
		"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\nMessage-ID: <" + id + ">\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n")
	for _, f := range fields {
		header.WriteString(f.name + ": " + f.value + "\r\n")
		t.Logf("%s: %q", f.name, f.value)
	}
	// unfolded is a field's characters, white space aside: what a cut
	// word or a fold may change.
	unfolded := func(s string) string { return strings.Join(strings.Fields(s), "") }

	// check reads a notice as net/mail does, checks its lines and the
	// returned header's fields, and returns the returned part's type.
	check := func(t *testing.T, n []byte) (string, []byte) {
		t.Helper()
		for i, l := range bytes.Split(n, []byte("\r\n")) {
			if len(l) > 998 || len(l) > 78 && len(bytes.Fields(l)) > 1 {
				t.Errorf("line %d has %d octets: %q", i+1, len(l), l)
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(n))
		if err != nil {
			t.Fatalf("net/mail reads the notice: %v\n%s", err, n)
		}
		for _, f := range []string{"In-Reply-To", "References"} {
			if got := msg.Header.Get(f); got != "<"+id+">" && (got != "" || len(" <"+id+">") <= 998) {
				t.Errorf("%s: %q, want <%s>", f, got, id)
			}
		}
		typ, part := returnedPart(t, msg)
		if !bytes.Contains(part, []byte("\r\n\r\n")) {
			part = append(part, "\r\n"...) // the header alone, without the blank line
		}
		orig, err := mail.ReadMessage(bytes.NewReader(part))
		if err != nil {
			t.Fatalf("net/mail reads the returned header: %v\n%s", err, part)
		}
		for _, f := range fields {
			if got := orig.Header.Get(f.name); unfolded(got) != unfolded(f.value) {
				t.Errorf("%s returned as %q, want %q", f.name, got, f.value)
			}
		}
		body, _ := io.ReadAll(orig.Body)
		return typ, body
	}

	longLine := strings.Repeat("x", 1200)
	for _, tc := range []struct {
		name, ret, body string
		want            string // the returned part's type
	}{
		{"header", "HDRS", "Hello.\r\n", "text/rfc822-headers"},
		{"whole message", "FULL", "Hello.\r\n", "message/rfc822"},
		{"whole message with a long body line", "FULL", "Hello.\r\n" + longLine + "\r\n", "text/rfc822-headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := refusedNotice(t, header.String()+"\r\n"+tc.body, tc.ret)
			typ, body := check(t, n)
			if typ != tc.want {
				t.Errorf("returned as %s, want %s", typ, tc.want)
			}
			if typ == "message/rfc822" && string(body) != tc.body {
				t.Errorf("returned body %q, want %q", body, tc.body)
			}
			if got := checkReport(t, n); got != "rfc822; nobody@example.net failed 5.1.1\n" {
				t.Errorf("Python reads the recipients as %q", got)
			}
		})
	}
	t.Run("Delivered", func(t *testing.T) {
		e := store.QueueEntry{MailFrom: "alice@example.org", MessageID: id, Subject: "long header", Queued: t0}
		n, err := Delivered("queue.example.org", e, []string{"bob@example.org"}, nil, []byte(header.String()), t0)
		if err != nil {
			t.Fatal(err)
		}
		if typ, _ := check(t, n); typ != "text/rfc822-headers" {
			t.Errorf("returned as %s", typ)
		}
	})
}

// TestNotificationOriginalHeaderCutAtALine: the header a notice returns
// is bounded (maxOriginalHeaders), and was cut at the bound wherever it
// fell, within a field and within a UTF-8 character, which made the
// notice invalid UTF-8 (found by a probe). Whatever the lengths of the
// lines around the bound, the header returned is whole lines of the
// original, and the notice valid UTF-8.
func TestNotificationOriginalHeaderCutAtALine(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 5))
	for range 4 {
		var header strings.Builder
		header.WriteString("From: Alice <alice@example.org>\r\nTo: nobody@example.net\r\nSubject: cut\r\n" +
			"Message-ID: <cut@example.org>\r\n")
		var lines []string
		for i := 0; header.Len() < maxOriginalHeaders+8<<10; i++ {
			l := fmt.Sprintf("X-U-%d: %s", i, strings.Repeat("é", 1+rnd.IntN(400)))
			lines = append(lines, l)
			header.WriteString(l + "\r\n")
		}
		n := refusedNotice(t, header.String()+"\r\nHello.\r\n", "")
		if !utf8.Valid(n) {
			t.Fatalf("the notice is not valid UTF-8")
		}
		// The last X-U field returned, unfolded, is one of the
		// original's lines whole.
		msg, err := mail.ReadMessage(bytes.NewReader(n))
		if err != nil {
			t.Fatal(err)
		}
		_, part := returnedPart(t, msg)
		orig, err := mail.ReadMessage(bytes.NewReader(append(part, "\r\n"...)))
		if err != nil {
			t.Fatalf("net/mail reads the returned header: %v", err)
		}
		cut := 0
		for i, l := range lines {
			name, value, _ := strings.Cut(l, ": ")
			got := orig.Header.Get(name)
			if got == "" {
				cut = i
				break
			}
			if strings.Join(strings.Fields(got), "") != value {
				t.Fatalf("%s returned as %q, want the original's %d octets", name, got, len(value))
			}
		}
		if cut == 0 {
			t.Fatalf("every field returned, or none: the bound was not met")
		}
	}
}

// refusedNotice queues raw for nobody@example.net, whom the relay
// refuses, with RET ret, and returns the failure notice the sender gets.
func refusedNotice(t *testing.T, raw, ret string) []byte {
	t.Helper()
	_, w, st, acc, _ := dsnRelay(t, false)
	d := store.NewDelivery([]byte(raw), t0)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{"nobody@example.net"}, d.Info, d.Size, t0)
	d.Outbound[0].DSN = store.DSN{Ret: ret}
	if _, err := st.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w)
	in := storetest.Inbox(t, st, acc)
	if len(in) != 1 {
		t.Fatalf("%d notices, want 1", len(in))
	}
	return in[0]
}

// returnedPart is the last part of a notice read by net/mail, the
// original or its header, and its type.
func returnedPart(t *testing.T, msg *mail.Message) (typ string, part []byte) {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return typ, part
		}
		if err != nil {
			t.Fatalf("notice parts: %v", err)
		}
		typ = p.Header.Get("Content-Type")
		if part, err = io.ReadAll(p); err != nil {
			t.Fatal(err)
		}
	}
}
