// Package messagetest makes message text for the tests and benchmarks of
// the packages that receive and read mail.
package messagetest

import "bytes"

// Words returns about size bytes of plain text, lines of ten words each
// ended by eol: the body of the messages xtramail-bench sends, for
// benchmarks of the paths those messages take.
func Words(size int, eol string) []byte {
	var b bytes.Buffer
	b.Grow(size + 16)
	words := []string{"continuity", "mailbox", "outage", "message", "retention", "capture", "office", "report"}
	for i := 0; b.Len() < size; i++ {
		b.WriteString(words[i%len(words)])
		if i%10 == 9 {
			b.WriteString(eol)
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString(eol)
	return b.Bytes()
}
