package imapmsg

import (
	"bytes"
	"math/rand/v2"
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

// TestWriteBinaryAppendLarge guards the streamed literal8 rewrite (issue
// 12 part 2): on uploads larger than its buffer and than a base64 chunk,
// with bare LFs at random places in the headers and between parts, and
// NUL-holding bodies of random sizes, what it writes through a writer
// taking small pieces is what the whole-buffer rule gives, and BINARY
// gives back every body.
func TestWriteBinaryAppendLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for round := range 6 {
		var bodies [][]byte
		var b bytes.Buffer
		b.WriteString("From: a@example.net\nSubject: big\r\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=ZZ\n\n")
		// A preamble past the writer's 64 KiB buffer, whose CRLF at
		// offset 64 KiB-1 straddles a flush, and bare CRs and LFs.
		pre := make([]byte, 70000+rng.IntN(200000))
		for i := range pre {
			pre[i] = "ab\r\n"[rng.IntN(4)]
		}
		copy(pre[65535-b.Len():], "\r\n")
		b.Write(pre)
		for p := range 1 + rng.IntN(4) {
			body := make([]byte, rng.IntN(300<<10))
			for i := range body {
				body[i] = "ab\n\r\x00c"[rng.IntN(6)]
			}
			if p%2 == 0 {
				body = bytes.ReplaceAll(body, []byte{0}, []byte("z"))
			}
			// A line break before the boundary is the boundary's.
			body = append(body, 'c')
			bodies = append(bodies, body)
			b.WriteString("\n--ZZ\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n")
			b.Write(body)
		}
		b.WriteString("\n--ZZ--\n")
		raw := b.Bytes()
		want := referenceBinaryAppend(raw)
		var got bytes.Buffer
		changed, err := WriteBinaryAppend(smallWrites{&got}, raw, message.Parse(raw))
		if err != nil || !changed || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("round %d: changed %v err %v, %d bytes written, want %d (equal %v)", round, changed, err, got.Len(), len(want), bytes.Equal(got.Bytes(), want))
		}
		info := message.Parse(want)
		for i, body := range bodies {
			if bb, err := Binary(want, info, []uint32{uint32(i + 1)}); err != nil || !bytes.Equal(bb, body) {
				t.Fatalf("round %d: BINARY[%d] differs (%v)", round, i+1, err)
			}
		}
	}
}

// smallWrites hands on each write in pieces of at most 1000 bytes.
type smallWrites struct{ w *bytes.Buffer }

func (s smallWrites) Write(p []byte) (int, error) {
	for q := p; len(q) > 0; q = q[min(len(q), 1000):] {
		s.w.Write(q[:min(len(q), 1000)])
	}
	return len(p), nil
}

// referenceBinaryAppend is the rule of BinaryAppend written over whole
// buffers, as it was before it was streamed.
func referenceBinaryAppend(raw []byte) []byte {
	info := message.Parse(raw)
	var out []byte
	pos := 0
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		switch {
		case p.Type == "multipart" && len(p.Parts) > 0:
			for i := range p.Parts {
				walk(&p.Parts[i])
			}
			return
		case p.Message != nil:
			walk(&p.Message.Part)
			return
		}
		hs, bs, end := int(p.HeaderStart), int(p.BodyStart), int(p.End)
		if hs < pos || bs < hs || end < bs || end > len(raw) {
			return
		}
		body := raw[bs:end]
		if bytes.IndexByte(body, 0) >= 0 && identityEncoding(p.Encoding) {
			out = appendCRLF(out, raw[pos:hs])
			out = appendBase64Header(out, raw[hs:bs])
			out = appendBase64Lines(out, body)
		} else {
			out = appendCRLF(out, raw[pos:bs])
			out = append(out, body...)
		}
		pos = end
	}
	walk(&info.Part)
	return appendCRLF(out, raw[pos:])
}
