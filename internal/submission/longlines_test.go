package submission_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// longLineMessage is a message as a mail program might send it: a
// multipart/alternative whose plain text (UTF-8, 8bit) and HTML each
// have a line of 5,000 octets, beside a base64 PDF, with a Subject line
// of 1,500 octets.
func longLineMessage(from, to, mid string) []byte {
	text := strings.Repeat("Grüße aus Köln, eine lange Zeile. ", 140)[:5000] + "\r\nshort line\r\n"
	html := "<p>" + strings.Repeat("<b>bold</b> and plain ", 228)[:4993] + "</p>\r\n"
	pdf := make([]byte, 3000)
	for i := range pdf {
		pdf[i] = byte(i * 31)
	}
	b64 := base64.StdEncoding.EncodeToString(pdf)
	var att strings.Builder
	for len(b64) > 76 {
		att.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	att.WriteString(b64 + "\r\n")
	return []byte("From: Alice <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + strings.Repeat("long subject ", 115) + "end\r\n" +
		"Message-ID: <" + mid + ">\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n--mixed\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "--alt\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "--alt--\r\n--mixed\r\n" +
		"Content-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + att.String() + "--mixed--\r\n")
}

// TestLongLinesSentConforming (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1): a
// message with 5,000-octet lines, submitted with Python's smtplib over
// STARTTLS, goes through a real Postfix to a go-smtp sink with no line
// over 998 octets: the text parts quoted-printable, the attachment as it
// was, the Subject folded; each part decodes to the bytes sent (Go's
// parser and Python's email package agree), the DKIM signature made
// after the re-encoding verifies after Postfix, and the Sent copy is what
// the user sent, long lines and all.
func TestLongLinesSentConforming(t *testing.T) {
	sk := queuetest.StartSink(t, true)
	pfPort, _ := queuetest.StartPostfix(t, sk.Port)
	srv := testserver.Start(t, testserver.Options{
		Users: map[string]string{alice: alicePw},
		Configure: func(c *config.Config) {
			c.Queue.Mode, c.Queue.RelayHost, c.Queue.RelayPort, c.Queue.RelayTLS = "relay", "127.0.0.1", pfPort, "none"
		},
	})
	verify := signing(t, srv, "rsa")
	orig := longLineMessage(alice, outsider, "long@x")
	if !message.HasLongLine(orig) {
		t.Fatal("the test message has no long line")
	}

	dir := t.TempDir()
	submitFile(t, srv, dir, orig, outsider)

	got := sk.Wait(1, 90*time.Second)
	if len(got) != 1 {
		t.Fatalf("the sink behind Postfix got %d messages", len(got))
	}
	data := got[0].Data
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > message.MaxLine {
			t.Fatalf("line %d of what arrived has %d octets", i+1, len(line))
		}
	}
	oi, ai := message.Parse(orig), message.Parse(data)
	ol, al := oi.Part.Leaves(), ai.Part.Leaves()
	if len(ol) != 3 || len(al) != 3 {
		t.Fatalf("parts: sent %d, arrived %d:\n%s", len(ol), len(al), data)
	}
	var sums []string
	for i := range ol {
		want, _ := message.Decode(orig, ol[i])
		have, err := message.Decode(data, al[i])
		if err != nil || !bytes.Equal(have, want) {
			t.Errorf("part %d arrived decoding to %d bytes (%v), sent %d", i+1, len(have), err, len(want))
		}
		sum := sha256.Sum256(want)
		sums = append(sums, ol[i].Type+"/"+ol[i].Subtype+" "+hex.EncodeToString(sum[:]))
	}
	if al[0].Encoding != "QUOTED-PRINTABLE" || al[1].Encoding != "QUOTED-PRINTABLE" {
		t.Errorf("text parts arrived as %s and %s, want quoted-printable", al[0].Encoding, al[1].Encoding)
	}
	if !bytes.Equal(al[2].Body(data), ol[2].Body(orig)) {
		t.Error("the attachment, whose lines were short, was changed")
	}
	if ai.Subject != oi.Subject {
		t.Errorf("Subject arrived as %q", ai.Subject)
	}
	if err := verify(data); err != nil {
		t.Fatalf("DKIM after Postfix: %v", err)
	}

	// An independent parser, as the recipient's would be.
	arrived := filepath.Join(dir, "arrived.eml")
	if err := os.WriteFile(arrived, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", "-c", pyPartSums, arrived).CombinedOutput()
	if err != nil {
		t.Fatalf("python email: %v\n%s", err, out)
	}
	if want := strings.Join(sums, "\n") + "\n"; string(out) != want {
		t.Errorf("Python's email package reads the parts as\n%s\nwant\n%s", out, want)
	}

	if sent := srv.Bodies(t, alice, store.Sent)["long@x"]; !bytes.Equal(sent, orig) {
		t.Errorf("the Sent copy is not what was sent (%d bytes, sent %d)", len(sent), len(orig))
	}
}

// TestUnfoldableHeaderRefused: a header line over 998 octets without
// white space to fold it at is refused at submission, 554 5.6.0 naming
// the field; nothing is kept or queued.
func TestUnfoldableHeaderRefused(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	body := msg(alice, outsider, "unfold@x", "X-Token: "+strings.Repeat("z", 1500)+"\r\n")
	if err := c.Mail(alice, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(outsider, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	err = w.Close()
	if code(err) != "554 5.6.0" || !strings.Contains(err.Error(), "X-Token") {
		t.Fatalf("answer %v, want 554 5.6.0 naming X-Token", err)
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["unfold@x"]; ok {
		t.Error("the refused message is in Sent")
	}
	if q := queued(t, srv, alice); len(q) != 0 {
		t.Errorf("the refused message is queued: %+v", q)
	}
	// The session goes on.
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "after@x", "")); got != "ok" {
		t.Fatalf("next message: %s", got)
	}
}

// signing gives the server's domain a DKIM key of the algorithm and
// returns a check that a message's one signature verifies with it
// (go-msgauth), the public key found where the TXT record is published.
func signing(t *testing.T, srv *testserver.Server, alg string) func(msg []byte) error {
	t.Helper()
	key, err := xdkim.GenerateKey(alg, "s1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.SetDKIMKey(context.Background(), srv.Domain, key); err != nil {
		t.Fatal(err)
	}
	record, err := xdkim.Record(key)
	if err != nil {
		t.Fatal(err)
	}
	return func(msg []byte) error {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			if name != xdkim.RecordName(key, srv.Domain) {
				return nil, errors.New("unexpected lookup " + name)
			}
			return []string{record}, nil
		}})
		switch {
		case err != nil:
			return err
		case len(vs) != 1:
			return fmt.Errorf("%d signatures", len(vs))
		}
		return vs[0].Err
	}
}

// submitFile writes msg to a file in dir and submits it as alice to
// rcpts with Python's smtplib (pySubmitFile).
func submitFile(t *testing.T, srv *testserver.Server, dir string, msg []byte, rcpts ...string) {
	t.Helper()
	msgFile := filepath.Join(dir, "submit.eml")
	if err := os.WriteFile(msgFile, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(srv.Submission)
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	args := append([]string{"-c", pySubmitFile, "localhost", port, cafile, alice, alicePw, msgFile}, rcpts...)
	if out, err := exec.Command("python3", args...).CombinedOutput(); err != nil {
		t.Fatalf("python submit: %v\n%s", err, out)
	}
}

// pySubmitFile submits a file with smtplib: STARTTLS, AUTH, BODY=8BITMIME.
const pySubmitFile = `
import smtplib, ssl, sys
host, port, cafile, user, pw, path = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
s = smtplib.SMTP(host, int(port), timeout=60)
s.starttls(context=ctx)
s.login(user, pw)
s.sendmail(user, sys.argv[7:], open(path, "rb").read(), mail_options=["BODY=8BITMIME"])
s.quit()
`

// pyPartSums prints each leaf part's type and the SHA-256 of its decoded
// payload, as Python's email package reads the message; it fails on a
// defect.
const pyPartSums = `
import email, email.policy, hashlib, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
for p in m.walk():
    if p.defects:
        sys.exit("defects in %s: %s" % (p.get_content_type(), p.defects))
    if p.is_multipart():
        continue
    print(p.get_content_type(), hashlib.sha256(p.get_payload(decode=True)).hexdigest())
`

// TestLongLinesWithBcc: a message with a Bcc field and long lines, small
// (held in memory) and large (spooled to a file), is queued and given to
// a protected colleague without the Bcc field and with short lines,
// decoding to what was sent; the Sent copy keeps both as they were.
func TestLongLinesWithBcc(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	a, err := srv.Store.Account(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	for i, lines := range []int{2, 150} { // about 6 KiB and 300 KiB
		mid := fmt.Sprintf("bcclong%d@x", i)
		text := strings.Repeat(strings.Repeat("Zeile mit Überlänge ", 100)+"\r\n", lines)
		body := msg(alice, outsider, mid, "Bcc: secret@far.test\r\nX-Note: "+strings.Repeat("note ", 300)+"\r\n")
		body = strings.Replace(body, "Hi there.\r\n", text, 1)
		if got := send(c, alice, []string{outsider, bob, "secret@far.test"}, body); got != "ok" {
			t.Fatalf("send %s: %s", mid, got)
		}
		if sent := srv.Bodies(t, alice, store.Sent)[mid]; string(sent) != body {
			t.Errorf("%s: the Sent copy is not what was sent", mid)
		}
		var es []store.QueueEntry
		for _, e := range queued(t, srv, alice) {
			if e.MessageID == mid {
				es = append(es, e)
			}
		}
		if len(es) != 3 {
			t.Fatalf("%s: %d queue entries, want 3", mid, len(es))
		}
		rc, err := srv.Store.OpenBody(context.Background(), a.ID, es[0].BodyID)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(rc)
		rc.Close()
		colleague := srv.Bodies(t, bob, store.Inbox)[mid]
		for who, b := range map[string][]byte{"queued": out, "colleague's": colleague} {
			if message.HasLongLine(b) || bytes.Contains(bytes.ToLower(b), []byte("bcc:")) {
				t.Errorf("%s: the %s copy has a long line or the Bcc field", mid, who)
			}
			info := message.Parse(b)
			got, _ := message.Decode(b, &info.Part)
			if string(got) != text {
				t.Errorf("%s: the %s copy decodes to %d bytes, want %d", mid, who, len(got), len(text))
			}
			if !bytes.Contains(info.Part.Header(b), []byte("X-Note: note")) {
				t.Errorf("%s: the %s copy lost X-Note", mid, who)
			}
		}
	}
}
