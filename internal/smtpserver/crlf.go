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
	w   io.Writer
	cr  bool // the last byte written was a CR
	buf []byte
}

func (n *CRLFWriter) Write(p []byte) (int, error) {
	total := len(p)
	out := n.buf[:0]
	for len(p) > 0 {
		if n.cr {
			n.cr = false
			out = append(out, '\r', '\n')
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			out = append(out, p...)
			break
		}
		out = append(out, p[:i]...)
		if p[i] == '\r' {
			n.cr = true
		} else {
			out = append(out, '\r', '\n')
		}
		p = p[i+1:]
	}
	n.buf = out[:0]
	if len(out) == 0 {
		return total, nil
	}
	if _, err := n.w.Write(out); err != nil {
		return 0, err
	}
	return total, nil
}

// Close ends a body whose last byte was a CR.
func (n *CRLFWriter) Close() error {
	if !n.cr {
		return nil
	}
	n.cr = false
	_, err := n.w.Write([]byte("\r\n"))
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
