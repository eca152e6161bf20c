package imapserver_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repeatReader yields each segment's text count times, in order: a
// large message sent without the test holding it in memory, which would
// weigh on the heap it measures.
type repeatReader struct {
	segs []segment
	off  int // in segs[0].text
}

type segment struct {
	text  string
	count int
}

func (r *repeatReader) size() int64 {
	var n int64
	for _, s := range r.segs {
		n += int64(len(s.text)) * int64(s.count)
	}
	return n
}

func (r *repeatReader) Read(p []byte) (int, error) {
	w := 0
	for w < len(p) && len(r.segs) > 0 {
		s := &r.segs[0]
		if s.count == 0 {
			r.segs = r.segs[1:]
			continue
		}
		c := copy(p[w:], s.text[r.off:])
		w += c
		if r.off += c; r.off == len(s.text) {
			r.off = 0
			s.count--
		}
	}
	if w == 0 {
		return 0, io.EOF
	}
	return w, nil
}

// TestAppendMemoryBound guards DESIGN's bounded resources: APPENDing a
// 45 MB message costs the server a few MiB of heap whatever its parts.
// The message is spooled, parsed from the mapped spool and streamed to
// the blob store; a text part within the search index's budget (8 MiB
// per message) was decoded whole, copied into a string and collapsed
// into another for a 200-character preview, which cost about 24 MiB
// for the message with a 6 MiB base64 text part.
//
// The peak is the largest HeapInuse sampled during the APPEND, over the
// one after a forced GC before it: garbage counts, as it does in the
// service's resident size until a GC runs.
func TestAppendMemoryBound(t *testing.T) {
	const size = 45_000_000
	const bound = 8 << 20
	text := strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit ", 18) + "\r\n"
	// 57 bytes encode to one line of 76 base64 characters: repeated, a
	// well-formed base64 body.
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s[:57])) + "\r\n" }
	attachment := b64("\x00\x01binary attachment bytes\xff\xfe, the same 57 again and again!!")
	textLine := b64("lorem ipsum dolor sit amet, consectetur adipiscing elit!!")
	head := "From: a@example.net\r\nSubject: big\r\nMessage-ID: <big@example.net>\r\nMIME-Version: 1.0\r\n"
	mixed := head + "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
	attach := "--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.bin\r\n\r\n"
	fill := func(used int, line string) int { return (size - used) / len(line) }
	tests := []struct {
		name string
		segs []segment
	}{
		{"text part", []segment{
			{head + "Content-Type: text/plain\r\n\r\n", 1},
			{text, fill(len(head)+30, text)},
		}},
		{"base64 attachment", []segment{
			{mixed + "Content-Type: text/plain\r\n\r\nsee attached\r\n" + attach, 1},
			{attachment, fill(len(mixed)+200, attachment)},
			{"--B--\r\n", 1},
		}},
		{"indexed base64 text and attachment", []segment{
			{mixed + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n", 1},
			{textLine, (8<<20 - 4096) / len(textLine)},
			{attach, 1},
			{attachment, fill(8<<20+1000, attachment)},
			{"--B--\r\n", 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			se := newSpoolEnv(t, 1<<30)
			c := se.login()
			c.timeout = 5 * time.Minute
			c.ok("SELECT INBOX")
			r := &repeatReader{segs: tc.segs}
			n := r.size()

			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			total := ms.TotalAlloc
			var err error
			var st string
			rise, base := heapRise(func() {
				c.n++
				tag := fmt.Sprintf("a%d", c.n)
				c.send(fmt.Sprintf("%s APPEND INBOX {%d}", tag, n))
				if l := c.line(); !strings.HasPrefix(l, "+") {
					t.Fatal(l)
				}
				c.c.SetWriteDeadline(time.Now().Add(5 * time.Minute))
				_, err = io.CopyBuffer(c.c, r, make([]byte, 32<<10))
				if err == nil {
					c.send("")
				}
				_, st = c.until(tag)
			})
			runtime.ReadMemStats(&ms)
			if err != nil || !strings.HasPrefix(st, "OK") {
				t.Fatalf("APPEND of %d bytes: %v %s", n, err, st)
			}
			t.Logf("%d bytes: heap peak %.1f MiB above %.1f MiB, %.1f MiB allocated", n, float64(rise)/(1<<20), float64(base)/(1<<20), float64(ms.TotalAlloc-total)/(1<<20))
			if rise > bound {
				t.Errorf("APPEND of %d bytes took the heap %.1f MiB above its %.1f MiB before, want under %d MiB", n, float64(rise)/(1<<20), float64(base)/(1<<20), bound>>20)
			}
			se.settled(t)
		})
	}
}
