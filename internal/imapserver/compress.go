package imapserver

import (
	"bufio"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/inflate"
)

// cmdCompress turns on COMPRESS=DEFLATE (RFC 4978) after the OK.
func (s *session) cmdCompress(tag string, a *imapwire.Compress) error {
	switch {
	case a.Mechanism != "DEFLATE":
		s.bad(tag, "only DEFLATE compression is supported")
		return nil
	case s.deflate != nil:
		s.no(tag, "COMPRESSIONACTIVE", "compression is already on")
		return nil
	}
	s.ok(tag, "DEFLATE active")
	if err := s.flush(); err != nil {
		return err
	}
	// Bytes the client sent after COMPRESS are already compressed.
	var r io.Reader = s.conn
	if n := s.br.Buffered(); n > 0 {
		b, _ := s.br.Peek(n)
		r = io.MultiReader(strings.NewReader(string(b)), s.conn)
	}
	m := s.srv.metrics.compress
	fw, _ := flate.NewWriter(countingWriter{s.conn, m.WithLabelValues("compressed")}, flate.DefaultCompression)
	s.deflate = fw
	// inflate hands over each command as soon as its last byte has
	// arrived, whatever flush the client's zlib used (see package
	// inflate: other decoders hold it until more input comes).
	s.setIO(inflate.NewReader(bufio.NewReaderSize(r, 16<<10)), countingWriter{fw, m.WithLabelValues("uncompressed")})
	return nil
}
