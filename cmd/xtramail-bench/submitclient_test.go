package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/tlsutil"
)

// recordingServer is a go-smtp submission server (STARTTLS, AUTH PLAIN)
// that keeps what each transaction carried.
type recordingServer struct {
	mu    sync.Mutex
	auths []string
	txs   []recordedTx
}

type recordedTx struct {
	from, rcpt string
	body       smtp.BodyType
	data       []byte
}

type recordingSession struct {
	s  *recordingServer
	tx recordedTx
}

func (r *recordingSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (r *recordingSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if pass != "secret" {
			return fmt.Errorf("bad password")
		}
		r.s.mu.Lock()
		r.s.auths = append(r.s.auths, user)
		r.s.mu.Unlock()
		return nil
	}), nil
}
func (r *recordingSession) Mail(from string, o *smtp.MailOptions) error {
	r.tx = recordedTx{from: from, body: o.Body}
	return nil
}
func (r *recordingSession) Rcpt(to string, _ *smtp.RcptOptions) error { r.tx.rcpt = to; return nil }
func (r *recordingSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	r.tx.data = b
	r.s.mu.Lock()
	r.s.txs = append(r.s.txs, r.tx)
	r.s.mu.Unlock()
	return err
}
func (r *recordingSession) Reset()        {}
func (r *recordingSession) Logout() error { return nil }

// TestSubmitClientSendsWhatGoSMTPWould guards the load tool's own client
// (it replaced go-smtp's to cost the shared machine less): over STARTTLS
// and AUTH PLAIN, each message arrives byte for byte, dot-stuffing undone,
// with BODY=8BITMIME as go-smtp's client sends it, and one sign-in per
// connection.
func TestSubmitClientSendsWhatGoSMTPWould(t *testing.T) {
	serverTLS, _, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &recordingSession{s: rec}, nil }))
	srv.Domain, srv.TLSConfig = "localhost", serverTLS
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	if _, err := dialSubmission(ln.Addr().String(), "u@bench.test", "wrong"); err == nil {
		t.Fatal("a wrong password signed in")
	}
	c, err := dialSubmission(ln.Addr().String(), "u@bench.test", "secret")
	if err != nil {
		t.Fatal(err)
	}
	body := submitMessage("u@bench.test", 2048)
	// Lines that start with a period, at the start, inside and at the
	// end: each must arrive as it was.
	tricky := []byte("From: u@bench.test\r\n\r\n.first\r\nmiddle\r\n..two\r\n.\r\nx.\r\n.last\r\n")
	msgs := []struct {
		header string
		body   []byte
	}{
		{"Message-ID: <a@bench.local>\r\nSubject: one\r\n", body},
		{".Header-ish: dot\r\n", tricky},
		{"Message-ID: <c@bench.local>\r\n", body},
	}
	for i, m := range msgs {
		if err := c.send("u@bench.test", fmt.Sprintf("r%d@remote.test", i), m.header, m.body); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.auths) != 1 {
		t.Errorf("sign-ins %v, want one", rec.auths)
	}
	if len(rec.txs) != len(msgs) {
		t.Fatalf("%d transactions, want %d", len(rec.txs), len(msgs))
	}
	for i, m := range msgs {
		got := rec.txs[i]
		want := append([]byte(m.header), m.body...)
		if !bytes.Equal(got.data, want) {
			t.Errorf("message %d arrived as\n%q\nwant\n%q", i, got.data, want)
		}
		if got.from != "u@bench.test" || got.rcpt != fmt.Sprintf("r%d@remote.test", i) {
			t.Errorf("message %d: envelope %s -> %s", i, got.from, got.rcpt)
		}
		if got.body != smtp.Body8BitMIME {
			t.Errorf("message %d: BODY=%q, want 8BITMIME as go-smtp's client sends", i, got.body)
		}
	}
}

// TestCountingSinkCountsByMessageID guards the sink's figures: each
// Message-ID counts once, a second arrival is a duplicate, a DKIM
// signature is seen only in the header, and a body larger than the
// sink's buffer is read to its end.
func TestCountingSinkCountsByMessageID(t *testing.T) {
	sk, err := startCountingSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sk.close()
	c, err := smtp.Dial(sk.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := strings.Repeat("DKIM-Signature: not a header here\r\n", 2000) // 70 KiB
	send := func(msg string) {
		t.Helper()
		if err := c.SendMail("a@bench.test", []string{"b@remote.test"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send("Message-ID: <1@x>\r\nSubject: s\r\n\r\n" + big)
	send("DKIM-Signature: v=1; a=ed25519-sha256\r\nMessage-ID: <2@x>\r\n\r\nbody\r\n")
	send("Subject: s\r\nMessage-ID: <1@x>\r\n\r\nagain\r\n")
	send("Subject: s\r\nDKIM-Signature: v=1;\r\n\tb=abc\r\nMessage-ID: <3@x>\r\n\r\n")
	if n := sk.count(); n != 3 {
		t.Errorf("counted %d, want 3", n)
	}
	if d := sk.dups.Load(); d != 1 {
		t.Errorf("duplicates %d, want 1", d)
	}
	if s := sk.signed.Load(); s != 2 {
		t.Errorf("signed %d, want 2", s)
	}
}
