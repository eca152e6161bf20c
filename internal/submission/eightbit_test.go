package submission_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestEightBitConvertedForSevenBitRelay (RFC 6152): a message with 8-bit
// text and an 8-bit attachment, submitted over real SMTP, reaches a relay
// that does not announce 8BITMIME as 7-bit bytes whose parts decode back
// to the original, with a DKIM signature made after the conversion that
// verifies; a message with a raw UTF-8 Subject, which cannot be
// converted, is not sent and bounces with a DSN saying why.
func TestEightBitConvertedForSevenBitRelay(t *testing.T) {
	sk := startSink(t, "PIPELINING", "SIZE 100000000")
	srv := testserver.Start(t, testserver.Options{
		Users:     map[string]string{alice: alicePw},
		Configure: func(c *config.Config) { sk.relayTo(c) },
	})
	verify := signing(t, srv, "ed25519")
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}

	var attach []byte
	for i := range 3000 {
		attach = append(attach, byte(0x80+i%127))
	}
	body := "From: Alice <" + alice + ">\r\nTo: " + outsider + "\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <eight@x>\r\n" +
		"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Grüße aus Köln, ça va?  \r\n" + strings.Repeat("Überlänge ", 30) + "\r\n.leading dot\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + string(attach) + "\r\n--b--\r\n"
	if got := send(c, alice, []string{outsider}, body); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	waitFor(t, "the relay to take the message", func() bool { return len(sk.transactions()) == 1 })
	tr := sk.transactions()[0]
	if strings.Contains(strings.ToUpper(tr.mail), "BODY=8BITMIME") {
		t.Errorf("MAIL %q asks for 8BITMIME from a server without it", tr.mail)
	}
	for i, b := range tr.data {
		if b >= 0x80 {
			t.Fatalf("byte %d sent to the 7-bit relay is 0x%x", i, b)
		}
	}
	orig := srv.Bodies(t, alice, store.Sent)["eight@x"]
	oi, ci := message.Parse(orig), message.Parse(tr.data)
	ol, cl := oi.Part.Leaves(), ci.Part.Leaves()
	if len(ol) != 2 || len(cl) != 2 {
		t.Fatalf("parts: sent %d, relayed %d:\n%s", len(ol), len(cl), tr.data)
	}
	for i := range ol {
		want, _ := message.Decode(orig, ol[i])
		got, err := message.Decode(tr.data, cl[i])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("part %d relayed decodes to %q, want %q", i+1, got, want)
		}
	}
	if cl[0].Encoding != "QUOTED-PRINTABLE" || cl[1].Encoding != "BASE64" {
		t.Errorf("encodings %s, %s; want quoted-printable text and base64 attachment", cl[0].Encoding, cl[1].Encoding)
	}
	if err := verify(tr.data); err != nil {
		t.Fatalf("DKIM of the converted message: %v", err)
	}

	// A raw UTF-8 Subject cannot be made 7-bit: bounced, not sent.
	bad := "From: " + alice + "\r\nTo: " + outsider + "\r\nSubject: Grüße\r\nMessage-ID: <raw8@x>\r\n\r\nhi\r\n"
	if got := send(c, alice, []string{outsider}, bad); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	var dsn []byte
	waitFor(t, "the bounce in the sender's INBOX", func() bool {
		for _, b := range srv.Bodies(t, alice, store.Inbox) {
			if bytes.Contains(b, []byte("raw8@x")) {
				dsn = b
				return true
			}
		}
		return false
	})
	for _, want := range []string{"multipart/report", "5.6.3", "8BITMIME"} {
		if !bytes.Contains(dsn, []byte(want)) {
			t.Errorf("bounce lacks %q:\n%s", want, dsn)
		}
	}
	if n := len(sk.transactions()); n != 1 {
		t.Errorf("the relay got %d messages, want 1 (the unconvertible one is not sent)", n)
	}
}
