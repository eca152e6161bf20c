package queue

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// TestNotificationUTF8Recipient (class: a recipient or ORCPT address
// beyond ASCII went raw into the US-ASCII fields of message/delivery-
// status): random SMTPUTF8 recipients, their local parts with "+", "="
// and characters beyond ASCII, with an ORCPT of type utf-8 given, are
// refused by a relay that offers SMTPUTF8; the failure notice names each
// as "utf-8; " and its utf-8-addr-xtext (RFC 6533 3): only QCHARs and
// \x{HEXPOINT} escapes, which decode back to the address; its delivery
// status is US-ASCII; an ASCII recipient keeps "rfc822; address" and its
// rfc822 ORCPT as given. The addresses are logged with their seed.
func TestNotificationUTF8Recipient(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 4))
	chars := []string{"a", "b", "z", "0", "9", "+", "=", "-", "_", "!", "#", "~", "é", "ü", "ß", "日", "本", "😀", "\u0800"}
	var rcpts []string
	dsn := map[string]store.DSN{}
	for i := range 4 {
		var local strings.Builder
		local.WriteString(chars[12+rnd.IntN(len(chars)-12)]) // one beyond ASCII at least
		for range 1 + rnd.IntN(20) {
			local.WriteString(chars[rnd.IntN(len(chars))])
		}
		addr, err := store.SendAddress(fmt.Sprintf("%s%d@example.net", local.String(), i))
		if err != nil {
			t.Fatal(err)
		}
		rcpts = append(rcpts, addr)
		dsn[addr] = store.DSN{ORcpt: "utf-8;" + addr}
	}
	rcpts = append(rcpts, "plain+tag@example.net")
	dsn["plain+tag@example.net"] = store.DSN{ORcpt: "rfc822;Plain+Tag@example.net"}
	t.Logf("recipients %q", rcpts)

	st, acc := newStore(t)
	sk := startSinkWith(t, nil, false, func(srv *smtp.Server) { srv.EnableSMTPUTF8 = true })
	sk.set(func() {
		sk.rcptHook = func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
	})
	c := clocktest.New(t0)
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Now: c.Now, Rand: func() float64 { return 0.5 }}, st, nil, nil)
	enqueueDSN(t, st, acc, t0, "u1", dsn, rcpts...)
	runOnce(t, w)
	in := storetest.Inbox(t, st, acc)
	if len(in) != 1 {
		t.Fatalf("%d notices, want 1", len(in))
	}
	n := in[0]
	status := bytes.Split(n, []byte("\r\n--=_"))[2]
	if i := bytes.IndexFunc(status, func(r rune) bool { return r < 0x20 && r != '\r' && r != '\n' || r >= 0x7f }); i >= 0 {
		t.Errorf("the delivery status has %q at %d:\n%s", status[i:min(i+4, len(status))], i, status)
	}
	// The recipient blocks, as net/textproto reads header blocks.
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(status[bytes.Index(status, []byte("\r\n\r\n"))+4:])))
	var blocks []textproto.MIMEHeader
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			blocks = append(blocks, h)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read delivery status: %v\n%s", err, status)
		}
	}
	blocks = blocks[1:] // the per-message fields
	if len(blocks) != len(rcpts) {
		t.Fatalf("%d recipient blocks, want %d:\n%s", len(blocks), len(rcpts), status)
	}
	want := map[string]string{} // Final-Recipient by Original-Recipient
	for _, r := range rcpts {
		want[dsn[r].ORcpt] = r
	}
	for _, b := range blocks {
		final, err := decodeStatusAddress(b.Get("Final-Recipient"))
		if err != nil {
			t.Errorf("Final-Recipient: %v", err)
			continue
		}
		orig, err := decodeStatusAddress(b.Get("Original-Recipient"))
		if err != nil {
			t.Errorf("Original-Recipient: %v", err)
			continue
		}
		if r, ok := want[orig]; !ok || r != strings.TrimPrefix(strings.TrimPrefix(final, "utf-8;"), "rfc822;") {
			t.Errorf("Final-Recipient %q (%q), Original-Recipient %q (%q): no such recipient", final, b.Get("Final-Recipient"), orig, b.Get("Original-Recipient"))
		}
		delete(want, orig)
	}
	if !bytes.Contains(status, []byte("Original-Recipient: rfc822; Plain+Tag@example.net\r\nFinal-Recipient: rfc822; plain+tag@example.net\r\n")) {
		t.Errorf("the ASCII recipient's fields changed:\n%s", status)
	}
	if got := checkReport(t, n); strings.Count(got, " failed 5.1.1\n") != len(rcpts) {
		t.Errorf("Python reads the recipients as %q", got)
	}
}

// hexPoint is RFC 6533 3's HEXPOINT: 2 digits at least, upper case, no
// leading zeros beyond those.
var hexPoint = regexp.MustCompile(`^(?:[01][1-9A-F]|10|[2-9A-F][0-9A-F]|[1-9A-F][0-9A-F]{2,3}|10[0-9A-F]{4}|[1-9A-F][0-9A-F]{4})$`)

// decodeStatusAddress reads a field "type; address" of a delivery status:
// a utf-8 address must be utf-8-addr-xtext (RFC 6533 3), decoded here;
// it returns "type;address".
func decodeStatusAddress(v string) (string, error) {
	typ, addr, ok := strings.Cut(v, ";")
	if !ok {
		return "", fmt.Errorf("%q: no type", v)
	}
	typ, addr = strings.ToLower(strings.TrimSpace(typ)), strings.TrimSpace(addr)
	if typ != "utf-8" {
		return typ + ";" + addr, nil
	}
	var b strings.Builder
	for i := 0; i < len(addr); i++ {
		switch ch := addr[i]; {
		case ch == '\\':
			rest, ok := strings.CutPrefix(addr[i:], `\x{`)
			end := strings.IndexByte(rest, '}')
			if !ok || end < 0 || !hexPoint.MatchString(rest[:end]) {
				return "", fmt.Errorf("%q: a bad escape at %d", v, i)
			}
			r, _ := strconv.ParseUint(rest[:end], 16, 32)
			b.WriteRune(rune(r))
			i += len(`\x{`) + end
		case ch < '!' || ch > '~' || ch == '+' || ch == '=':
			return "", fmt.Errorf("%q: %q at %d is not a QCHAR", v, ch, i)
		default:
			b.WriteByte(ch)
		}
	}
	return "utf-8;" + b.String(), nil
}

// TestXtextHexPoint: utf-8-addr-xtext escapes a code point in upper-case
// hexadecimal of two digits at least (RFC 6533 3, HEXPOINT).
func TestXtextHexPoint(t *testing.T) {
	for in, want := range map[string]string{"a\x01b": `a\x{01}b`, "a b": `a\x{20}b`, "+=\\": `\x{2B}\x{3D}\x{5C}`, "é": `\x{E9}`, "😀": `\x{1F600}`} {
		if got := xtext(in, true); got != want {
			t.Errorf("xtext(%q) = %q, want %q", in, got, want)
		}
	}
}
