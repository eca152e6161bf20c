package queuetest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
)

// NoticeText returns the part of a delivery notification (RFC 3464) that
// a person reads, its first, text/plain part, with its lines joined and
// its runs of white space made one space.
func NoticeText(t testing.TB, n []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(n))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := multipart.NewReader(msg.Body, params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if typ := p.Header.Get("Content-Type"); !strings.HasPrefix(typ, "text/plain") {
		t.Fatalf("first part is %s:\n%s", typ, n)
	}
	b, err := io.ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
