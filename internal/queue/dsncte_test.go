package queue

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// TestNotificationTransferEncoding (class: the parts a notification
// wrote declared no Content-Transfer-Encoding, so 7bit, whatever their
// octets: a returned 8-bit message, a returned header of UTF-8 (RFC
// 6532), found by a probe): random messages, their recipients ASCII or
// UTF-8, their Subject ASCII, UTF-8 or encoded, a header field of Latin-1
// octets or a NUL now and then, their body 7-bit, 8-bit UTF-8, Latin-1,
// a multipart of 8-bit text, or binary (a line over 998 octets, a NUL, a
// bare LF), each returned with RET=FULL, HDRS and none, are refused by a relay
// that offers SMTPUTF8. Each failure notice, read strictly
// (strictEntity), has at every level octets its encoding allows, an
// identity encoding on each multipart and message; the returned message
// is whole when it can be 8bit, its header otherwise (with a sentence
// saying why); a returned header of UTF-8 says charset=utf-8; Python's
// email package reads it without a defect. Delivered, the success report
// submission makes, is read the same way. The messages are logged with
// their seed.
func TestNotificationTransferEncoding(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 6))
	words := []string{"hello", "Grüße", "aus", "Köln", "日本語", "😀", "naïve", "plain", "text", "ß"}
	text := func(asciiOnly bool) string {
		var b strings.Builder
		for range 1 + rnd.IntN(6) {
			for j := range 1 + rnd.IntN(10) {
				if j > 0 {
					b.WriteByte(' ')
				}
				w := words[rnd.IntN(len(words))]
				if asciiOnly && !ascii(w) {
					w = "ascii"
				}
				b.WriteString(w)
			}
			b.WriteString("\r\n")
		}
		return b.String()
	}
	type body struct {
		name, header, text string
		whole              bool // can be returned whole (8bit at most)
	}
	bodies := []func() body{
		func() body {
			return body{"7bit", "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n", text(true), true}
		},
		func() body {
			return body{"8bit UTF-8", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n", "Grüße aus Köln\r\n" + text(false), true}
		},
		func() body {
			return body{"8bit Latin-1", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n", "Gr\xfc\xdfe aus K\xf6ln\r\n", true}
		},
		func() body {
			return body{"multipart", "Content-Type: multipart/mixed; boundary=\"in\"\r\nContent-Transfer-Encoding: 8bit\r\n",
				"--in\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text(false) +
					"--in\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--in--\r\n", true}
		},
		func() body {
			return body{"long line", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary\r\n",
				"short\r\n" + strings.Repeat("Grüße ", 200+rnd.IntN(200)) + "\r\n", false}
		},
		func() body {
			return body{"NUL", "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n", "a\x00b\r\n", false}
		},
		func() body {
			return body{"bare LF", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary\r\n", "one\ntwo\r\n", false}
		},
	}

	st, acc := newStore(t)
	sk := startSinkWith(t, nil, false, func(srv *smtp.Server) { srv.EnableSMTPUTF8 = true })
	sk.set(func() {
		sk.rcptHook = func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
	})
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Now: clocktest.New(t0).Now, Rand: func() float64 { return 0.5 }}, st, nil, nil)

	// Every body with every RET (7 and 3 are coprime).
	for i := range len(bodies) * 3 {
		var rcpts []string
		for j := range 1 + rnd.IntN(2) {
			if rnd.IntN(2) == 0 {
				rcpts = append(rcpts, fmt.Sprintf("nobody%d.%d@example.net", i, j))
			} else {
				rcpts = append(rcpts, fmt.Sprintf("jörg%d.%d@remote.example", i, j))
			}
		}
		subject := []string{fmt.Sprintf("plain %d", i), fmt.Sprintf("Grüße %d 日本", i), fmt.Sprintf("=?utf-8?q?Gr=C3=BC=C3=9Fe_%d?=", i)}[rnd.IntN(3)]
		header := "From: Alice <alice@example.org>\r\nTo: " + strings.Join(rcpts, ", ") + "\r\nSubject: " + subject +
			"\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n" + fmt.Sprintf("Message-ID: <cte%d@example.org>\r\n", i) + "MIME-Version: 1.0\r\n"
		// A captured message may have a header of Latin-1, or a NUL.
		extra := rnd.IntN(8)
		if i == 0 {
			extra = 1 // one at least, whatever the seed
		}
		switch extra {
		case 0:
			header += "X-Latin: caf\xe9\r\n"
		case 1:
			header += "X-Nul: a\x00b\rc\r\n"
		}
		b := bodies[i%len(bodies)]()
		ret := []string{"FULL", "HDRS", ""}[i%3]
		raw := header + b.header + "\r\n" + b.text
		t.Logf("case %d: RET=%q, body %s, recipients %q:\n%q", i, ret, b.name, rcpts, raw)

		d := store.NewDelivery([]byte(raw), t0)
		d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
		d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, rcpts, d.Info, d.Size, t0)
		for k := range d.Outbound {
			d.Outbound[k].DSN = store.DSN{Ret: ret}
		}
		if _, err := st.Deliver(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		before := len(storetest.Inbox(t, st, acc))
		runOnce(t, w)
		in := storetest.Inbox(t, st, acc)
		if len(in) != before+1 {
			t.Fatalf("case %d: %d notices, want 1", i, len(in)-before)
		}
		n := in[len(in)-1]
		t.Run(fmt.Sprintf("case %d", i), func(t *testing.T) {
			if strictEntity(t, "notice", n) == "binary" {
				t.Errorf("the notice is binary: relays without BINARYMIME refuse it")
			}
			if t.Failed() {
				t.Fatalf("the notice:\n%q", n)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(n))
			if err != nil {
				t.Fatalf("net/mail reads the notice: %v", err)
			}
			typ, part := returnedPart(t, msg)
			whole := ret == "FULL" && b.whole
			switch {
			case whole && typ != "message/rfc822":
				t.Errorf("returned as %s, want the whole message", typ)
			case whole && !bytes.HasSuffix(part, []byte("\r\n\r\n"+b.text)):
				t.Errorf("the returned message's body changed:\n%q", part)
			case !whole && !strings.HasPrefix(typ, "text/rfc822-headers"):
				t.Errorf("returned as %s, want the header", typ)
			case ret == "FULL" && !b.whole && !bytes.Contains(n, []byte("only its header is returned below")):
				t.Errorf("the notice does not say why only the header is returned")
			}
			if !whole && bytes.ContainsFunc(part, func(r rune) bool { return r >= 0x80 }) && utf8.Valid(part) &&
				typ != "text/rfc822-headers; charset=utf-8" {
				t.Errorf("a header of UTF-8 returned as %s", typ)
			}
			want := ""
			for _, r := range rcpts {
				want += statusAddress("rfc822", r) + " failed 5.1.1\n"
			}
			if got := checkReport(t, n); got != want {
				t.Errorf("Python reads the recipients as %q, want %q", got, want)
			}
		})
	}

	t.Run("Delivered", func(t *testing.T) {
		for i := range 4 {
			subject := strings.Join(strings.Fields(text(rnd.IntN(2) == 0)), " ")
			header := "From: Alice <alice@example.org>\r\nTo: jörg@example.org\r\nSubject: " + subject +
				"\r\nMessage-ID: <cont@example.org>\r\n"
			t.Logf("report %d: %q", i, header)
			e := store.QueueEntry{MailFrom: "alice@example.org", MessageID: "cont@example.org", Subject: "Grüße", Queued: t0}
			n, err := Delivered("queue.example.org", e, []string{"jörg@example.org"}, nil, []byte(header), t0)
			if err != nil {
				t.Fatal(err)
			}
			strictEntity(t, fmt.Sprintf("success report %d", i), n)
			if got, want := checkReport(t, n), "utf-8; j\\x{F6}rg@example.org delivered 2.0.0\n"; got != want {
				t.Errorf("Python reads the recipients as %q, want %q", got, want)
			}
		}
	})
}

// strictEntity checks a MIME entity, raw, and what it holds as RFC 2045
// has them: the octets of its body are within its Content-Transfer-
// Encoding (2.7-2.9, 6.1: 7bit when it has none), 7bit and 8bit lines
// within 998 octets and ending in CRLF, neither with a NUL, 7bit with
// no octet over 127; binary only for a body that needs it; a multipart's and a message's encoding is 7bit,
// 8bit or binary (6.4, RFC 2046 5.2.1); so for each part of a multipart
// and the message in a message/rfc822 or message/global. It returns the
// entity's encoding.
func strictEntity(t *testing.T, where string, raw []byte) (cte string) {
	t.Helper()
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		head, body = bytes.TrimSuffix(raw, []byte("\r\n")), nil
	}
	for _, l := range bytes.Split(head, []byte("\r\n")) {
		if len(l) > 998 {
			t.Errorf("%s: a header line of %d octets", where, len(l))
		}
	}
	// Unfolded (RFC 5322 2.2.3), a field a line.
	fields := map[string]string{}
	unfolded := strings.NewReplacer("\r\n ", " ", "\r\n\t", "\t").Replace(string(head))
	for _, l := range strings.Split(unfolded, "\r\n") {
		name, value, _ := strings.Cut(l, ":")
		fields[strings.ToLower(name)] = strings.TrimSpace(value)
	}
	typ, params, err := mime.ParseMediaType(fields["content-type"])
	if fields["content-type"] == "" {
		typ, err = "text/plain", nil
	}
	if err != nil {
		t.Errorf("%s: Content-Type %q: %v", where, fields["content-type"], err)
		return ""
	}
	cte = strings.ToLower(fields["content-transfer-encoding"])
	if cte == "" {
		cte = "7bit"
	}
	composite := strings.HasPrefix(typ, "multipart/") || typ == "message/rfc822" || typ == "message/global"
	if composite && cte != "7bit" && cte != "8bit" && cte != "binary" {
		t.Errorf("%s: %s with Content-Transfer-Encoding %s", where, typ, cte)
	}
	binary := false // octets only binary allows
	for k, l := range bytes.Split(body, []byte("\r\n")) {
		if len(l) > 998 {
			binary = true
			if cte != "binary" {
				t.Errorf("%s: %s line %d of the %s body has %d octets", where, cte, k+1, typ, len(l))
			}
		}
		if i := bytes.IndexFunc(l, func(r rune) bool { return r == 0 || r == '\r' || r == '\n' }); i >= 0 {
			binary = true
			if cte != "binary" {
				t.Errorf("%s: %s line %d of the %s body has %q", where, cte, k+1, typ, l[i])
			}
		}
		if i := bytes.IndexFunc(l, func(r rune) bool { return r >= 0x80 }); i >= 0 && cte == "7bit" {
			t.Errorf("%s: 7bit line %d of the %s body has an octet over 127: %q", where, k+1, typ, l[max(0, i-20):min(len(l), i+20)])
		}
	}
	if cte == "binary" && !binary {
		// Allowed, but needlessly refused by relays without
		// BINARYMIME.
		t.Errorf("%s: a %s body declared binary needs no more than 8bit", where, typ)
	}
	switch {
	case strings.HasPrefix(typ, "multipart/"):
		delim := []byte("\r\n--" + params["boundary"])
		parts := bytes.Split(append([]byte("\r\n"), body...), delim)
		if len(parts) < 3 || !bytes.HasPrefix(parts[len(parts)-1], []byte("--")) {
			t.Errorf("%s: a %s of %d pieces without its close delimiter", where, typ, len(parts))
			return cte
		}
		for k, p := range parts[1 : len(parts)-1] {
			p, ok := bytes.CutPrefix(p, []byte("\r\n"))
			if !ok {
				t.Errorf("%s: part %d's delimiter line has %q after it", where, k+1, p[:min(len(p), 20)])
				continue
			}
			strictEntity(t, fmt.Sprintf("%s part %d", where, k+1), p)
		}
	case composite:
		strictEntity(t, where+" message", body)
	}
	return cte
}
