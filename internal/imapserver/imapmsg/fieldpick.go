package imapmsg

import (
	"errors"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/message"
)

// fieldPick is the value of HEADER.FIELDS[.NOT] (headerFields) read from
// the stored message instead of held: a header may be as large as the
// message, and twenty connections asking for the fields of a 20 MB header
// held 1.3 GB. The header is scanned once for the value's length, which
// the literal states first, and once more as it is written; each kept
// field is then read again at its offsets.
type fieldPick struct {
	raw    io.ReaderAt
	off, n int64 // the header in raw
	names  []string
	not    bool
}

// size is the value's length: the kept fields and the blank line.
func (p *fieldPick) size() (int64, error) {
	r := p.reader()
	var total int64
	for {
		start, end, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return 0, err
		}
		total += end - start
	}
}

func (p *fieldPick) reader() *pickReader {
	longest := 0
	for _, n := range p.names {
		longest = max(longest, len(n))
	}
	return &pickReader{p: p, sc: message.NewFieldScanner(io.NewSectionReader(p.raw, p.off, p.n), longest)}
}

// pickReader reads the value: the header's bytes in the ranges next
// gives.
type pickReader struct {
	p         *fieldPick
	sc        *message.FieldScanner
	pos, end  int64 // the rest of the current range, in the header
	skip      int64 // bytes of the value still to pass over (a partial's offset)
	blankDone bool
}

// next returns the next range of the header that the value holds: a kept
// field, then the blank line; io.EOF after them.
func (r *pickReader) next() (start, end int64, err error) {
	for {
		name, cut, start, end, ok := r.sc.Next()
		if !ok {
			break
		}
		if (!cut && hasName(r.p.names, string(name))) != r.p.not {
			return start, end, nil
		}
	}
	if err := r.sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read header fields of the header of %d bytes at %d: %w", r.p.n, r.p.off, err)
	}
	if r.blankDone {
		return 0, 0, io.EOF
	}
	r.blankDone = true
	start, err = blankStart(r.p.raw, r.p.off, r.p.n)
	return start, r.p.n, err
}

func (r *pickReader) Read(b []byte) (int, error) {
	for r.pos == r.end || r.skip > 0 {
		if r.pos == r.end {
			start, end, err := r.next()
			if err != nil {
				return 0, err
			}
			r.pos, r.end = start, end
		}
		k := min(r.skip, r.end-r.pos)
		r.pos += k
		r.skip -= k
	}
	b = b[:min(int64(len(b)), r.end-r.pos)]
	k, err := r.p.raw.ReadAt(b, r.p.off+r.pos)
	r.pos += int64(k)
	if k == len(b) {
		return k, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return k, fmt.Errorf("read header field at %d: %w", r.p.off+r.pos, err)
}

// blankStart is where the blank line that ends the header raw[off:off+n]
// begins, as blankLine finds it, or n when the header has none. The run
// of CRs before its LF is read backwards a piece at a time: it is as
// long as the sender made it.
func blankStart(raw io.ReaderAt, off, n int64) (int64, error) {
	at := func(i int64) (byte, error) {
		var b [1]byte
		if _, err := raw.ReadAt(b[:], off+i); err != nil {
			return 0, fmt.Errorf("read header end at %d: %w", off+i, err)
		}
		return b[0], nil
	}
	if n == 0 {
		return n, nil
	}
	if c, err := at(n - 1); err != nil || c != '\n' {
		return n, err
	}
	j := n - 1
	buf := make([]byte, 4096)
crs:
	for j > 0 {
		from := max(j-int64(len(buf)), 0)
		piece := buf[:j-from]
		if _, err := raw.ReadAt(piece, off+from); err != nil {
			return 0, fmt.Errorf("read header end at %d: %w", off+from, err)
		}
		for k := len(piece) - 1; k >= 0; k-- {
			if piece[k] != '\r' {
				break crs
			}
			j--
		}
	}
	if j == 0 {
		return 0, nil
	}
	if c, err := at(j - 1); err != nil || c != '\n' {
		return n, err
	}
	return j, nil
}
