package smtpserver

import (
	"io"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sizeBackend, which Config.NewServer puts between go-smtp and every
// listener's backend, applies the size limit to a transaction's body
// itself (bodyLimit), and turns go-smtp's own check off while a
// transaction is open, on the connection's server (one per connection,
// see Serve). go-smtp's check was wrong twice:
//   - A message of exactly the size a listener announces (SIZE, RFC 1870
//     4: "the maximum message size ... the server will accept") must be
//     accepted. go-smtp's DATA reader answered 552 as soon as it had
//     passed MaxMessageBytes bytes on, before it read the end-of-data
//     line that follows them, so such a message was refused.
//   - A BDAT chunk past the limit was answered 552 before go-smtp read
//     and discarded the chunk, so LineGuard counted the chunk as command
//     bytes after an answer and closed the connection past
//     MaxCommandBytes: the client saw a reset instead of the 552, and the
//     session never heard of the message (no refused record). Through
//     bodyLimit, the session's Data fails instead, at the end of the
//     transfer (guardedBody reads the rest, as body to LineGuard).
//
// The SIZE announced by EHLO and the check of MAIL's SIZE parameter keep
// the real limit: they happen outside a transaction (EHLO and RSET end
// one first).
//
// Being where go-smtp asks for a session at the first HELO or EHLO, and
// resets it at the next, it also refuses a greeting name too long to be
// a domain (maxGreetingName).
type sizeBackend struct {
	be    smtp.Backend
	limit int64
}

func (b sizeBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if greetingTooLong(c) {
		return nil, errGreetingName
	}
	s, err := b.be.NewSession(c)
	if err != nil || s == nil || b.limit <= 0 {
		return s, err
	}
	ss := &sizeSession{Session: s, conn: c, limit: b.limit}
	if as, ok := s.(smtp.AuthSession); ok {
		return &sizeAuthSession{sizeSession: ss, auth: as}, nil
	}
	return ss, nil
}

// sizeSession is a session with the body cut at limit. go-smtp calls
// its methods, and reads its server's MaxMessageBytes, in the
// connection's goroutine (but for a BDAT body's Data, which does not
// touch it).
type sizeSession struct {
	smtp.Session
	conn  *smtp.Conn
	limit int64
}

func (s *sizeSession) Mail(from string, opts *smtp.MailOptions) error {
	if err := s.Session.Mail(from, opts); err != nil {
		return err
	}
	s.conn.Server().MaxMessageBytes = 0
	return nil
}

// Reset ends the transaction: go-smtp calls it after DATA and BDAT LAST,
// on RSET and EHLO. A second EHLO cannot be refused from here (go-smtp
// answers 250 after Reset whatever it does): one whose name is too long
// ends the session instead, before that answer echoes the name.
func (s *sizeSession) Reset() {
	s.conn.Server().MaxMessageBytes = s.limit
	s.Session.Reset()
	if greetingTooLong(s.conn) {
		// The network connection: go-smtp holds the lock its Close takes.
		s.conn.Conn().Close()
	}
}

// Logout ends the session; STARTTLS ends it without a Reset.
func (s *sizeSession) Logout() error {
	s.conn.Server().MaxMessageBytes = s.limit
	return s.Session.Logout()
}

func (s *sizeSession) Data(r io.Reader) error {
	return s.Session.Data(&bodyLimit{r: r, left: s.limit})
}

type sizeAuthSession struct {
	*sizeSession
	auth smtp.AuthSession
}

func (s *sizeAuthSession) AuthMechanisms() []string { return s.auth.AuthMechanisms() }

func (s *sizeAuthSession) Auth(mech string) (sasl.Server, error) { return s.auth.Auth(mech) }

// bodyLimit passes a body on up to left bytes, and fails with go-smtp's
// ErrDataTooLarge (552 5.3.4) at the first byte past them, and at every
// read after that which has bytes: a BDAT transfer's reader
// (guardedBody) drains it through to its end.
type bodyLimit struct {
	r    io.Reader
	left int64
}

func (l *bodyLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		n = int(l.left)
		l.left = 0
		return n, smtp.ErrDataTooLarge
	}
	l.left -= int64(n)
	return n, err
}
