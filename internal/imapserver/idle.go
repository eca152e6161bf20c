package imapserver

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
)

// cmdIdle waits for DONE while pushing changes at once (RFC 2177).
func (s *session) cmdIdle(tag string) error {
	s.sync(true)
	s.wr.Continuation("idling")
	if err := s.flush(); err != nil {
		return err
	}
	type line struct {
		text string
		err  error
	}
	lines := make(chan line, 1)
	s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.AuthTimeout))
	go func() {
		t, err := s.rd.ReadLine()
		lines <- line{t, err}
	}()
	for {
		select {
		case l := <-lines:
			if l.err != nil {
				var ne net.Error
				if errors.As(l.err, &ne) && ne.Timeout() {
					if s.intr.Load() || s.srv.shuttingDown() {
						// interrupt's deadline, not the autologout's.
						return s.bye(s.byeText())
					}
					return s.bye("autologout: idle for too long")
				}
				var perr *imapwire.ParseError
				if errors.As(l.err, &perr) {
					s.bad(tag, perr.Msg)
					return errClose
				}
				return l.err
			}
			if !strings.EqualFold(strings.TrimSpace(l.text), "DONE") {
				s.bad(tag, "expected DONE")
				return nil
			}
			s.sync(true)
			s.ok(tag, "IDLE terminated")
			return nil
		case <-s.wake:
			if s.intr.Load() || s.srv.shuttingDown() {
				s.bye(s.byeText())
				s.conn.Close()
				<-lines
				return errClose
			}
			s.sync(true)
			if s.sel != nil && s.sel.gone {
				s.byeGone()
				s.conn.Close()
				<-lines
				return errClose
			}
			if err := s.flush(); err != nil {
				s.conn.Close()
				<-lines
				return err
			}
		}
	}
}
