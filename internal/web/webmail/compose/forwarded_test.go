package compose

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestForwardedAttachmentMatchesInMemory: a message attached as a stream
// (ScanShape, ForwardedAttachment) is written as one held in memory is
// (writeForwarded): message/rfc822 7bit or 8bit with a final line break,
// or a base64 .eml file when a line is over 998 bytes or it has a NUL
// (which submission refuses in what is sent), whatever the reads' sizes.
func TestForwardedAttachmentMatchesInMemory(t *testing.T) {
	for name, raw := range map[string]string{
		"ascii":           "Subject: a\r\n\r\nhello\r\n",
		"no final break":  "Subject: a\r\n\r\nhello",
		"8bit":            "Subject: a\r\n\r\nh\xc3\xa9llo\r\n",
		"998 bytes":       "Subject: a\r\n\r\n" + strings.Repeat("x", 998) + "\r\n",
		"999 bytes":       "Subject: a\r\n\r\n" + strings.Repeat("x", 999) + "\r\n",
		"999 bytes LF":    "Subject: a\n\n" + strings.Repeat("x", 999) + "\n",
		"long, no break":  "Subject: a\r\n\r\n" + strings.Repeat("y", 2000),
		"bare CR in line": "Subject: a\r\n\r\n" + strings.Repeat("z\r", 600) + "\r\n",
		"NUL":             "Subject: a\r\n\r\nbefore\x00after\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			shape, err := ScanShape(iotest.OneByteReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if want := longestLine([]byte(raw)) > 998; (shape.LongestLine > 998) != want {
				t.Errorf("longest line %d: over 998 is %v, want %v", shape.LongestLine, !want, want)
			}
			if want := strings.Contains(raw, "\x00"); shape.NUL != want {
				t.Errorf("NUL %v, want %v", shape.NUL, want)
			}
			d := Draft{From: Address{Addr: "bob@example.test"}, Subject: "Fwd: a"}
			date := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
			d.Attachments = []Attachment{ForwardedAttachment("a", int64(len(raw)), shape, strings.NewReader(raw))}
			streamed, err := Build(d, date, "x@example.test")
			if err != nil {
				t.Fatal(err)
			}
			d.Attachments = []Attachment{{Filename: "a.eml", ContentType: "message/rfc822", Data: []byte(raw)}}
			held, err := Build(d, date, "x@example.test")
			if err != nil {
				t.Fatal(err)
			}
			// The boundaries are random: compare with them cut out.
			if a, b := unbound(streamed), unbound(held); !bytes.Equal(a, b) {
				t.Errorf("streamed:\n%s\nheld:\n%s", a, b)
			}
		})
	}
}

// unbound replaces a built message's boundary with a fixed one.
func unbound(msg []byte) []byte {
	i := bytes.Index(msg, []byte("boundary="))
	if i < 0 {
		return msg
	}
	j := i + len("boundary=")
	k := j
	for k < len(msg) && msg[k] != '\r' && msg[k] != ';' {
		k++
	}
	return bytes.ReplaceAll(msg, bytes.Trim(msg[j:k], `"`), []byte("BOUNDARY"))
}
