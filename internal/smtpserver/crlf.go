package smtpserver

import (
	"bytes"
	"io"
)

// NewCRLFWriter returns a CRLFWriter writing to w. Every front end that
// stores or relays a message body passes it through one or through
// NormalizeCRLF (capture, submission, IMAP APPEND except literal8), so
// that the rule is the same everywhere.
func NewCRLFWriter(w io.Writer) *CRLFWriter { return &CRLFWriter{w: w} }

// NormalizeCRLF returns b with every bare CR and bare LF turned into CRLF,
// the rule of CRLFWriter. A b already in CRLF is returned as it is (no
// copy).
func NormalizeCRLF(b []byte) []byte {
	if !hasBare(b) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/32)
	w := NewCRLFWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// CRLFWriter turns every bare CR and bare LF into CRLF as bytes pass
// through. SMTP (RFC 5321 2.3.8) allows only CRLF; mail that breaks this
// is common and must still be kept, and IMAP clients need CRLF. Since
// go-smtp ends DATA only at CRLF.CRLF, a bare "\n.\n" never splits a
// message: it is kept as content.
type CRLFWriter struct {
	w  io.Writer
	cr bool // the last byte written was a CR, held back
}

// crlf is what a bare CR or LF becomes; never written to.
var crlf = []byte("\r\n")

// Write passes runs already in CRLF through as they are, without a copy
// (mail almost always is: a 10 KiB body used to be copied line by line
// into a buffer that grew per message), and writes CRLF in place of each
// bare CR and bare LF.
func (n *CRLFWriter) Write(p []byte) (int, error) {
	total := len(p)
	if total == 0 {
		return 0, nil // a held CR waits for what follows
	}
	if n.cr {
		n.cr = false
		if p[0] == '\n' {
			p = p[1:]
		}
		if _, err := n.w.Write(crlf); err != nil {
			return 0, err
		}
	}
	// p[clean:i] is in CRLF and not yet written.
	clean := 0
	for i := 0; ; {
		j := bytes.IndexAny(p[i:], "\r\n")
		if j < 0 {
			break
		}
		i += j
		if p[i] == '\r' {
			if i+1 == len(p) {
				// A CR at the end: its LF, if any, is in the next write.
				if err := n.flush(p[clean:i]); err != nil {
					return 0, err
				}
				n.cr = true
				return total, nil
			}
			if p[i+1] == '\n' {
				i += 2
				continue
			}
		}
		// A bare CR or a bare LF.
		if err := n.flush(p[clean:i]); err != nil {
			return 0, err
		}
		if _, err := n.w.Write(crlf); err != nil {
			return 0, err
		}
		i++
		clean = i
	}
	if err := n.flush(p[clean:]); err != nil {
		return 0, err
	}
	return total, nil
}

func (n *CRLFWriter) flush(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := n.w.Write(b)
	return err
}

// Close ends a body whose last byte was a CR.
func (n *CRLFWriter) Close() error {
	if !n.cr {
		return nil
	}
	n.cr = false
	_, err := n.w.Write(crlf)
	return err
}

// hasBare reports whether b holds a CR not followed by LF or an LF not
// preceded by CR.
func hasBare(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexAny(b[i:], "\r\n")
		if j < 0 {
			return false
		}
		i += j
		if b[i] == '\n' || i+1 == len(b) || b[i+1] != '\n' {
			return true
		}
		i += 2
	}
}
