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
	// p[clean:i] is in CRLF and not yet written. Each line is found by
	// its LF, and a CR inside it looked for apart: two vectorised scans
	// of the bytes rather than a test of each against both.
	clean := 0
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			j = len(p) - i
		}
		// p[i:i+j] has no LF; a CR that ends it is the CR of a CRLF,
		// or held back when it ends p.
		line, lf := p[i:i+j], i+j < len(p)
		end := len(line)
		if end > 0 && line[end-1] == '\r' {
			end--
		}
		for k := bytes.IndexByte(line[:end], '\r'); k >= 0; k = bytes.IndexByte(line[:end], '\r') {
			// A bare CR.
			if err := n.bare(p[clean : i+k]); err != nil {
				return 0, err
			}
			i += k + 1
			clean = i
			line, end = line[k+1:], end-k-1
		}
		switch {
		case end < len(line) && !lf:
			// A CR at the end: its LF, if any, is in the next write.
			if err := n.flush(p[clean : i+end]); err != nil {
				return 0, err
			}
			n.cr = true
			return total, nil
		case lf && end == len(line):
			// A bare LF.
			if err := n.bare(p[clean : i+end]); err != nil {
				return 0, err
			}
			clean = i + end + 1
		}
		i += len(line) + 1
	}
	if err := n.flush(p[clean:]); err != nil {
		return 0, err
	}
	return total, nil
}

// bare writes b, in CRLF, and the CRLF of a bare CR or LF after it.
func (n *CRLFWriter) bare(b []byte) error {
	if err := n.flush(b); err != nil {
		return err
	}
	_, err := n.w.Write(crlf)
	return err
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
	for len(b) > 0 {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return bytes.IndexByte(b, '\r') >= 0
		}
		if j == 0 || b[j-1] != '\r' || bytes.IndexByte(b[:j-1], '\r') >= 0 {
			return true
		}
		b = b[j+1:]
	}
	return false
}
