package message

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/message/messagetest"
)

// benchMultipart builds a typical newsletter: many Received lines, a
// quoted-printable text part and an HTML part, about 10 KiB.
func benchMultipart() []byte {
	var b strings.Builder
	for i := range 8 {
		b.WriteString("Received: from relay" + itoa(i) + ".example.net (relay.example.net [192.0.2.1])\r\n\tby mx.example.org with ESMTPS id abc" + itoa(i) + "\r\n\tfor <user@example.org>; Tue, 4 Nov 2025 10:00:00 +0000\r\n")
	}
	b.WriteString("Date: Tue, 4 Nov 2025 10:59:01 +0100\r\nFrom: \"News Letter\" <news@example.com>\r\nTo: user@example.org\r\n" +
		"Subject: =?utf-8?Q?Weekly_news_=E2=80=94_issue_42?=\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"=_bench_boundary\"\r\n\r\n--=_bench_boundary\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for range 50 {
		b.WriteString("This week in the project: caf=C3=A9 news, releases and a long line th=\r\nat wraps.\r\n")
	}
	b.WriteString("--=_bench_boundary\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{margin:0}</style></head><body>\r\n")
	for range 50 {
		b.WriteString("<p>This week in the <b>project</b>: caf&eacute; news &amp; releases.</p>\r\n")
	}
	b.WriteString("</body></html>\r\n--=_bench_boundary--\r\n")
	return []byte(b.String())
}

// benchAttachment builds a short text with a 5 MiB (encoded) attachment.
func benchAttachment() []byte {
	data := make([]byte, 5<<20*3/4)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nTo: b@example.org\r\nSubject: file\r\nContent-Type: multipart/mixed; boundary=att\r\n\r\n" +
		"--att\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--att\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=data.bin\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--att--\r\n")
	return []byte(b.String())
}

// benchSubmit builds a message like xtramail-bench submit's: a short
// header and about 10 KiB of plain text lines of a few words.
func benchSubmit() []byte {
	return append([]byte("Message-ID: <0123456789abcdef@bench.test>\r\nSubject: load test r1-42@remote.test\r\n"+
		"From: Bench <bench1@bench.test>\r\nTo: remote@remote.test\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"), messagetest.Words(10<<10, "\r\n")...)
}

// benchPlain builds a 5 MiB single text/plain message.
func benchPlain() []byte {
	line := "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
	return []byte("From: a@example.org\r\nSubject: long\r\n\r\n" + strings.Repeat(line, 5<<20/len(line)))
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct {
		name string
		raw  []byte
	}{
		{"multipart-10KiB", benchMultipart()},
		{"submit-10KiB", benchSubmit()},
		{"attachment-5MiB", benchAttachment()},
		{"plain-5MiB", benchPlain()},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.raw)))
			b.ReportAllocs()
			for b.Loop() {
				Parse(bm.raw)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := benchAttachment()
	info := Parse(raw)
	p := &info.Part.Parts[1]
	b.SetBytes(p.Size())
	for b.Loop() {
		Decode(raw, p)
	}
}

// BenchmarkHostileInputs reports ns/byte for each hostile input at two
// sizes: linear parsing keeps ns/byte level from 1 MiB to 4 MiB.
func BenchmarkHostileInputs(b *testing.B) {
	for _, scale := range []int{1, 4} {
		for name, raw := range hostileInputs(scale) {
			data := []byte(raw)
			b.Run(fmt.Sprintf("%s/%dMiB", name, scale), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					Parse(data)
				}
			})
		}
	}
}
