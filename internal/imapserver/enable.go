package imapserver

import (
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
)

// cmdEnable runs ENABLE (RFC 5161) for CONDSTORE, QRESYNC (RFC 7162) and
// UTF8=ACCEPT (RFC 6855).
func (s *session) cmdEnable(tag string, a *imapwire.Enable) error {
	var done []string
	for _, c := range a.Capabilities {
		switch c {
		case "CONDSTORE":
			if !s.cond {
				s.cond = true
				done = append(done, c)
			}
		case "QRESYNC":
			if !s.qresync {
				s.qresync, s.cond = true, true
				done = append(done, c)
			}
		case "UTF8=ACCEPT":
			// Mailbox names and strings in UTF-8 both ways, and APPEND
			// UTF8 (RFC 6855 section 3).
			if !s.utf8Accept {
				s.utf8Accept = true
				s.setUTF8()
				done = append(done, c)
			}
		case "IMAP4REV2":
			if !s.rev2 {
				s.rev2 = true
				s.setUTF8()
				done = append(done, "IMAP4rev2")
			}
		}
	}
	s.wr.Enabled(done)
	return nil
}

func (s *session) setUTF8() {
	s.utf8 = true
	s.rd.SetUTF8(true)
	s.wr.SetUTF8(true)
}
