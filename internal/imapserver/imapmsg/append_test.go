package imapmsg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/message"
)

// TestBinaryAppendKeepsBodies: a literal8 upload keeps every part body as
// given (bare LF included), stores NUL-holding identity bodies as base64
// with the field rewritten, and BINARY of every part returns the upload.
func TestBinaryAppendKeepsBodies(t *testing.T) {
	bin := []byte("\x00\x01line\nnext\r\n\x00\xff\xfe end")
	text := "text with\nbare LF\n"
	lfOnly := []byte("bin\nno nul\n\x7f")
	raw := []byte("From: a@example.net\nSubject: bin\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n" +
		"preamble\n--XX\nContent-Type: text/plain\n\n" + text + "\n--XX\n" +
		"Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\nContent-Disposition: attachment\n\n" + string(bin) + "\n--XX\n" +
		"Content-Type: application/x-raw\ncontent-transfer-encoding: BINARY\n\n" + string(lfOnly) + "\n--XX--\nepilogue\n")
	got := BinaryAppend(raw)
	if bytes.IndexByte(got, 0) >= 0 {
		t.Fatalf("stored form holds NUL: %q", got)
	}
	info := message.Parse(got)
	if len(info.Part.Parts) != 3 {
		t.Fatalf("parts of the stored form: %+v\n%q", info.Part, got)
	}
	for i, want := range [][]byte{[]byte(text), bin, lfOnly} {
		b, err := Binary(got, info, []uint32{uint32(i + 1)})
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("BINARY[%d] = %q, %v; want %q", i+1, b, err, want)
		}
	}
	if enc := info.Part.Parts[1].Encoding; enc != "BASE64" {
		t.Errorf("NUL part stored with encoding %q", enc)
	}
	if enc := info.Part.Parts[2].Encoding; enc != "BINARY" {
		t.Errorf("part without NUL re-encoded as %q", enc)
	}
	hdr := string(info.Part.Parts[1].Header(got))
	if strings.Count(strings.ToLower(hdr), "content-transfer-encoding") != 1 || !strings.Contains(hdr, "Content-Disposition: attachment\r\n") {
		t.Errorf("rewritten part header %q", hdr)
	}
	// Headers, boundaries, preamble and epilogue are CRLF.
	for _, s := range []string{"Subject: bin\r\n", "\r\npreamble\r\n--XX\r\n", "\r\n--XX--\r\nepilogue\r\n"} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("stored form lacks %q: %q", s, got)
		}
	}

	// A single-part message with NUL: the whole body.
	one := []byte("Subject: x\r\nContent-Transfer-Encoding: binary\r\n\r\n" + string(bin))
	got = BinaryAppend(one)
	info = message.Parse(got)
	if b, _ := Binary(got, info, []uint32{1}); !bytes.Equal(b, bin) || bytes.IndexByte(got, 0) >= 0 {
		t.Errorf("single part: stored %q, BINARY[1] %q", got, b)
	}
	// A message that needs nothing comes back as it is.
	plain := []byte("Subject: x\r\n\r\nhello\r\n")
	if got := BinaryAppend(plain); &got[0] != &plain[0] {
		t.Errorf("plain message copied: %q", got)
	}
}
