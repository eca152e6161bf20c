package imapmsg

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	gomessage "github.com/emersion/go-message"

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
// taking small pieces equals the stored form built from the upload's own
// pieces (expectedBinaryAppend, which never parses), and go-message reads
// every body of it back as uploaded.
func TestWriteBinaryAppendLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for round := range 6 {
		u := upload{boundary: "ZZ", header: "From: a@example.net\nSubject: big\r\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=ZZ\n\n"}
		// A preamble past the writer's 64 KiB buffer, whose CRLF at
		// offset 64 KiB-1 straddles a flush, and bare CRs and LFs.
		pre := make([]byte, 70000+rng.IntN(200000))
		for i := range pre {
			pre[i] = "ab\r\n"[rng.IntN(4)]
		}
		copy(pre[65535-len(u.header):], "\r\n")
		u.preamble = string(pre)
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
			u.parts = append(u.parts, uploadPart{header: "Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n", body: body})
		}
		raw := u.raw()
		want := u.expected()
		var got bytes.Buffer
		changed, err := WriteBinaryAppend(smallWrites{&got}, raw, message.Parse(raw))
		if err != nil || !changed {
			t.Fatalf("round %d: changed %v err %v", round, changed, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			i := 0
			for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
				i++
			}
			t.Fatalf("round %d: %d bytes written, want %d; first difference at %d: %q, want %q", round, got.Len(), len(want), i,
				got.Bytes()[i:min(i+40, got.Len())], want[i:min(i+40, len(want))])
		}
		checkDecodedParts(t, got.Bytes(), u)
		info := message.Parse(got.Bytes())
		for i, p := range u.parts {
			if bb, err := Binary(got.Bytes(), info, []uint32{uint32(i + 1)}); err != nil || !bytes.Equal(bb, p.body) {
				t.Fatalf("round %d: BINARY[%d] differs (%v)", round, i+1, err)
			}
		}
	}
}

// TestBinaryAppendGolden pins the stored form of small literal8 uploads,
// byte for byte, against outputs written out by hand.
func TestBinaryAppendGolden(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"bare LF header, NUL body",
			"Subject: x\nContent-Transfer-Encoding: binary\n\na\x00b\nc",
			"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nYQBiCmM="},
		{"text body keeps its bare LF",
			"Subject: x\n\nline\nnext\n",
			"Subject: x\r\n\r\nline\nnext\n"},
		{"multipart, one NUL part, folded CTE field dropped",
			"Content-Type: multipart/mixed; boundary=B\n\npre\n--B\nContent-Type: text/plain\n\nhi\n\n--B\n" +
				"Content-Transfer-Encoding:\n binary\nX-Keep: 1\n\n\x00\x01\n--B--\nepi\n",
			"Content-Type: multipart/mixed; boundary=B\r\n\r\npre\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\n\r\n--B\r\n" +
				"X-Keep: 1\r\nContent-Transfer-Encoding: base64\r\n\r\nAAE=\r\n--B--\r\nepi\r\n"},
		{"quoted-printable body with NUL is left alone",
			"Content-Transfer-Encoding: quoted-printable\r\n\r\na\x00=3D\r\n",
			"Content-Transfer-Encoding: quoted-printable\r\n\r\na\x00=3D\r\n"},
		{"base64 line length 76",
			"Content-Transfer-Encoding: 8bit\r\n\r\n" + strings.Repeat("\x00", 60),
			"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("A", 76) + "\r\n" + strings.Repeat("A", 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BinaryAppend([]byte(tc.raw)); string(got) != tc.want {
				t.Errorf("stored form\n%q\nwant\n%q", got, tc.want)
			}
		})
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

// upload is a multipart literal8 upload known by its pieces, so that the
// stored form can be built without parsing it.
type upload struct {
	header, preamble, boundary string
	parts                      []uploadPart
}

type uploadPart struct {
	header string // fields, each ending in a line break
	body   []byte
}

func (u upload) raw() []byte {
	var b bytes.Buffer
	b.WriteString(u.header + u.preamble)
	for _, p := range u.parts {
		b.WriteString("\n--" + u.boundary + "\n" + p.header + "\n")
		b.Write(p.body)
	}
	b.WriteString("\n--" + u.boundary + "--\n")
	return b.Bytes()
}

// expected is the stored form by the rule of BinaryAppend's doc, from the
// pieces: everything but the bodies with CRLF line endings; a body with NUL
// base64 in lines of 76 under a header whose CTE field says so; every
// other body as uploaded.
func (u upload) expected() []byte {
	// text is what lies between two bodies, CRLF-ended as a whole: a
	// preamble ending in CR makes CRLF with the boundary's LF.
	var b bytes.Buffer
	text := u.header + u.preamble
	for _, p := range u.parts {
		text += "\n--" + u.boundary + "\n"
		if bytes.IndexByte(p.body, 0) < 0 {
			b.WriteString(crlf(text + p.header + "\n"))
			b.Write(p.body)
			text = ""
			continue
		}
		var kept []string
		for _, f := range strings.SplitAfter(p.header, "\n") {
			if f != "" && !strings.HasPrefix(strings.ToLower(f), "content-transfer-encoding:") {
				kept = append(kept, f)
			}
		}
		b.WriteString(crlf(text+strings.Join(kept, "")) + "Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(p.body)
		for i := 0; i < len(enc); i += 76 {
			if i > 0 {
				b.WriteString("\r\n")
			}
			b.WriteString(enc[i:min(i+76, len(enc))])
		}
		text = ""
	}
	b.WriteString(crlf(text + "\n--" + u.boundary + "--\n"))
	return b.Bytes()
}

// crlf gives every bare LF of s a CR.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// checkDecodedParts reads the stored form with go-message, an
// independent MIME reader, and compares each decoded body with the
// upload's.
func checkDecodedParts(t *testing.T, stored []byte, u upload) {
	t.Helper()
	ent, err := gomessage.Read(bytes.NewReader(stored))
	if err != nil {
		t.Fatalf("go-message reads the stored form: %v", err)
	}
	mr := ent.MultipartReader()
	if mr == nil {
		t.Fatal("go-message: stored form is not multipart")
	}
	for i, want := range u.parts {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("go-message: part %d: %v", i+1, err)
		}
		got, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("go-message: part %d body: %v", i+1, err)
		}
		if !bytes.Equal(got, want.body) {
			t.Fatalf("go-message: part %d decodes to %d bytes, want the %d uploaded", i+1, len(got), len(want.body))
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("go-message: after the last part: %v", err)
	}
}
