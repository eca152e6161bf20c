package imapserver

import (
	"crypto/tls"
	"fmt"
	"time"
)

// cmdStartTLS runs STARTTLS (RFC 9051 section 6.2.1) on the plaintext
// listener.
func (s *session) cmdStartTLS(tag string) error {
	if s.tlsOn || s.srv.cfg.TLS == nil {
		s.bad(tag, "TLS is already on or not available")
		return nil
	}
	s.ok(tag, "begin TLS negotiation now")
	if err := s.flush(); err != nil {
		return err
	}
	// What the client sent after STARTTLS in clear is dropped: it could
	// be an injected command (RFC 9051 section 6.2.1 and the STARTTLS
	// command injection attacks).
	tc := tls.Server(s.conn, s.srv.cfg.TLS)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return fmt.Errorf("STARTTLS handshake: %w", err)
	}
	tc.SetDeadline(time.Time{})
	s.conn = tc
	s.tlsOn = true
	s.setIO(tc, tc)
	return nil
}
