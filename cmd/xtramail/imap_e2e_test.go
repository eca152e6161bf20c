package main

import (
	"bytes"
	"crypto/tls"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The built binary serves IMAP over TLS: a message captured over SMTP is
// read back byte for byte by the address's owner, and a wrong password is
// refused.
func TestIMAPEndToEnd(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "s3cret-pass\n", "user", "add", "bob@example.test", "--password-stdin")
	srv := startServer(t, data)
	defer srv.stop(t)

	msg := []byte("From: Outside <sender@outside.test>\r\nTo: bob@example.test\r\nSubject: over imap\r\n" +
		"Message-ID: <imap-1@outside.test>\r\n\r\nread me\r\n")
	if got := pySend(t, srv.addr, "sender@outside.test", "bob@example.test", msg); got != "OK []" {
		t.Fatalf("smtplib send: %s", got)
	}
	// The data directory's certificate is self-signed.
	opts := &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}}

	c, err := imapclient.DialTLS(srv.imap, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob@example.test", "wrong").Wait(); err == nil {
		t.Error("wrong password accepted")
	}
	c.Close()

	c, err = imapclient.DialTLS(srv.imap, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.test", "s3cret-pass").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("fetched %d messages", len(msgs))
	}
	for _, b := range msgs[0].BodySection {
		if !bytes.Equal(b.Bytes, msg) {
			t.Errorf("BODY[] %q, want %q", b.Bytes, msg)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}
