package compose

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
)

// TestDecodedSizeCountsBase64Padding: a base64 file's size, as Files
// lists it, is what encoding/base64 decodes its body to, for every
// padding (files of 0 to 10 bytes and a random larger one), whether the
// message was written by Build (the drafts' own encoder) or by hand with
// the file's last line running into the boundary's CRLF (RFC 2046
// 5.1.1) or followed by blank lines. It guards the estimate that counted
// the "=" padding as data (1 or 2 bytes high).
func TestDecodedSizeCountsBase64Padding(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 14))
	sizes := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 57, 58, 1000 + r.IntN(100_000)}
	for _, n := range sizes {
		file := make([]byte, n)
		for i := range file {
			file[i] = byte(r.IntN(256))
		}
		built, err := Build(Draft{From: Address{Addr: "bob@example.test"}, Subject: "file", Text: "see file",
			Attachments: []Attachment{{Filename: "f.bin", ContentType: "application/octet-stream", Data: file}}}, date, "<f@example.test>")
		if err != nil {
			t.Fatal(err)
		}
		msgs := map[string][]byte{"built": built}
		for name, after := range map[string]string{"no final line break": "", "blank lines after": "\r\n\r\n"} {
			var enc strings.Builder
			s := base64.StdEncoding.EncodeToString(file)
			for len(s) > 76 {
				enc.WriteString(s[:76] + "\r\n")
				s = s[76:]
			}
			enc.WriteString(s)
			msgs[name] = fmt.Appendf(nil, "From: bob@example.test\r\nSubject: file\r\nMIME-Version: 1.0\r\n"+
				"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"+
				"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f.bin\r\n"+
				"Content-Transfer-Encoding: base64\r\n\r\n%s%s\r\n--b--\r\n", enc.String(), after)
		}
		for name, raw := range msgs {
			info := message.Parse(raw)
			files := Files(info, bytes.NewReader(raw))
			if len(files) != 1 {
				t.Fatalf("%d bytes, %s: %d files listed", n, name, len(files))
			}
			p := files[0].Part
			decoded, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw[p.BodyStart:p.End])))
			if err != nil || !bytes.Equal(decoded, file) {
				t.Fatalf("%d bytes, %s: the test's body does not decode to the file (%v)", n, name, err)
			}
			if got := files[0].Size; got != int64(len(decoded)) {
				t.Errorf("%d bytes, %s: Files lists %d bytes, base64 decodes %d", n, name, got, len(decoded))
			}
		}
	}
}
