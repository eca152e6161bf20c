package message

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// decodePiece is how many encoded bytes a streaming decoder reads and
// holds at a time.
const decodePiece = 64 << 10

// NewDecoder returns a reader of body, the body of a part as stored, with
// its Content-Transfer-Encoding enc undone as Decode does (see qpCut for
// the one difference), reading and holding one piece of the body at a
// time: a download of a large file costs a few buffers, not the file. For 7bit, 8bit and binary it returns
// body itself. For an unknown encoding it returns body and an error
// wrapping ErrUnknownEncoding.
func NewDecoder(body io.Reader, enc string) (io.Reader, error) {
	return newDecoder(body, enc, decodePiece)
}

func newDecoder(body io.Reader, enc string, piece int) (io.Reader, error) {
	switch strings.ToUpper(enc) {
	case "", "7BIT", "8BIT", "BINARY":
		return body, nil
	case "BASE64":
		var st base64State
		return &decoder{r: body, piece: piece,
			cut: func(in []byte, eof bool) int { return len(in) },
			dec: func(dst, src []byte, eof bool) []byte {
				dst = st.decode(dst, src)
				if eof {
					dst = st.flush(dst)
				}
				return dst
			}}, nil
	case "QUOTED-PRINTABLE":
		return &decoder{r: body, piece: piece, cut: qpCut,
			dec: func(dst, src []byte, eof bool) []byte { return appendQP(dst, src) }}, nil
	}
	return body, fmt.Errorf("decode %q: %w", enc, ErrUnknownEncoding)
}

// decoder decodes a body piece by piece: cut says how much of what was
// read can be decoded alone, so that the pieces decode to what the whole
// body decodes to.
type decoder struct {
	r     io.Reader
	piece int
	cut   func(in []byte, eof bool) int
	dec   func(dst, src []byte, eof bool) []byte
	in    []byte // read, not yet decoded
	out   []byte // decoded, not yet returned
	off   int    // of out returned
	eof   bool
	err   error
}

func (d *decoder) Read(p []byte) (int, error) {
	for d.off == len(d.out) {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out[d.off:])
	d.off += n
	return n, nil
}

// fill reads up to a piece and decodes what of it can be.
func (d *decoder) fill() {
	if d.in == nil {
		d.in = make([]byte, 0, d.piece)
	}
	n, err := d.r.Read(d.in[len(d.in):cap(d.in)])
	d.in = d.in[:len(d.in)+n]
	switch {
	case err == io.EOF:
		d.eof = true
	case err != nil:
		d.err = err
		return
	}
	k := len(d.in)
	if !d.eof {
		k = d.cut(d.in, len(d.in) == cap(d.in))
	}
	d.out, d.off = d.dec(d.out[:0], d.in[:k], d.eof), 0
	d.in = d.in[:copy(d.in, d.in[k:])]
	if d.eof {
		d.err = io.EOF
	}
}

// qpCut is where quoted-printable read so far can be decoded alone: after
// its last line break (appendQP decides nothing across one). A full
// piece without one is cut before its last bytes that could be part of
// an escape or of trailing white space ("=", "=4", spaces before a line
// break), which appendQP decides by what follows. Only the last
// qpLookBack bytes are searched, so that memory and time stay bounded:
// a longer run of white space and "=" with no line break (no mail
// program writes one) is decoded as if it ended the body, which drops
// its trailing spaces and a last "=".
func qpCut(in []byte, full bool) int {
	if i := bytes.LastIndexByte(in, '\n'); i >= 0 {
		return i + 1
	}
	if !full {
		return 0
	}
	for i := len(in); i > 0 && i > len(in)-qpLookBack; i-- {
		if c := in[i-1]; c != '=' && c != ' ' && c != '\t' && c != '\r' && (i < 2 || in[i-2] != '=') {
			return i
		}
	}
	return len(in)
}

// qpLookBack bounds qpCut's search for a place to cut.
const qpLookBack = 1024
