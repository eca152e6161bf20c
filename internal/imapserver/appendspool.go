package imapserver

import (
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// spoolFrom is the size from which an APPEND literal is not held in
// memory but read into a spool as it arrives (issue 12 part 2: memory per
// session must not grow with the message). Smaller ones, most drafts and
// Sent copies, are read into memory as before: a spool file would cost
// them system calls and buys nothing.
const spoolFrom = 64 << 10

// appendSpool is where a large APPEND literal goes as it is read: the
// shared SMTP spool (memory up to 256 KiB, then an unlinked file in
// Config.SpoolDir), its size reserved at once from the server's share of
// the in-flight budget, through the same CRLF rule as SMTP (bare CR and
// LF become CRLF) unless it is a literal8, kept as given (RFC 3516 4.4).
type appendSpool struct {
	sp     *smtpserver.Spool
	crlf   *smtpserver.CRLFWriter // nil for a literal8
	binary bool
	stored *smtpserver.Spool // a literal8's stored form, when it differs
}

func (a *appendSpool) Write(p []byte) (int, error) {
	if a.crlf != nil {
		return a.crlf.Write(p)
	}
	return a.sp.Write(p)
}

// Close frees the spool and its budget; it may be called more than once.
func (a *appendSpool) Close() error {
	a.sp.Close()
	if a.stored != nil {
		a.stored.Close()
	}
	return nil
}

// spoolLiteral is the command reader's Options.Spool. Over the in-flight
// budget the reader answers NO [UNAVAILABLE] before any "+", so the
// client sends nothing and may try again.
func (s *session) spoolLiteral(n int64, binary bool) (io.WriteCloser, error) {
	// Held by the account: its sessions together wait for their own
	// literals once they hold its share (smtpserver.Budget), and
	// everyone else's go on.
	sp := smtpserver.NewSpool(s.srv.cfg.SpoolDir, s.srv.inflight).For(s.holder())
	if err := sp.Reserve(n); err != nil {
		sp.Close()
		// The session's log names the account and the remote address.
		s.log.Info("APPEND refused for now", "size", n,
			"held", s.srv.inflight.HeldBy(s.holder()), "reason", err.Error())
		return nil, err
	}
	a := &appendSpool{sp: sp, binary: binary}
	if !binary {
		a.crlf = smtpserver.NewCRLFWriter(sp)
	}
	return a, nil
}

// spooledDelivery makes the delivery of a literal that went to a spool:
// pre-parsed from the spool file (mapped, not read into memory) and
// streamed into the store from it. A literal8 that BinaryAppend must
// change is rewritten into a second spool, from the mapped first one.
// The caller closes the spools (closeLiterals) after the store call.
func (s *session) spooledDelivery(m imapwire.AppendMessage, date time.Time) (*store.Delivery, error) {
	a := m.Spooled.(*appendSpool)
	if a.crlf != nil {
		if err := a.crlf.Close(); err != nil { // a final bare CR
			return nil, errNo(imapwire.CodeUnavailable, "the server cannot take this message now; try again later")
		}
	}
	sp := a.sp
	var info *message.Info
	err := sp.Map(func(raw []byte) error {
		info = message.Parse(raw)
		if !a.binary {
			return nil
		}
		// RFC 3516 4.4: see imapmsg.BinaryAppend.
		changed, err := imapmsg.WriteBinaryAppend(io.Discard, raw, info)
		if err != nil || !changed {
			return err
		}
		a.stored = smtpserver.NewSpool(s.srv.cfg.SpoolDir, s.srv.inflight)
		sp = a.stored
		_, err = imapmsg.WriteBinaryAppend(a.stored, raw, info)
		return err
	})
	if err == nil && sp != a.sp {
		info, err = sp.Parse()
	}
	switch {
	case errors.Is(err, smtpserver.ErrBudget):
		return nil, errNo(imapwire.CodeUnavailable, "the server cannot take this message now; try again later")
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return nil, fmt.Errorf("spool APPEND literal: %w (%w)", store.ErrStorageFull, err)
	case err != nil:
		return nil, fmt.Errorf("read spooled APPEND literal: %w", err)
	}
	return &store.Delivery{Body: sp.Reader(), Size: sp.Size(), Info: info, Received: date}, nil
}

// closeLiterals frees the spools of a command's APPEND literals.
func closeLiterals(cmd *imapwire.Command) {
	if a, ok := cmd.Args.(*imapwire.Append); ok {
		for _, m := range a.Messages {
			if m.Spooled != nil {
				m.Spooled.Close()
			}
		}
	}
}

// appendSize is the bytes of an APPEND message as sent.
func appendSize(m imapwire.AppendMessage) int64 {
	if m.Spooled != nil {
		return m.Size
	}
	return int64(len(m.Data))
}
