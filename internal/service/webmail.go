package service

import (
	"context"
	"net"
	"strconv"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail"
)

// composeOptions is what the webmail's compose side needs: the outbox
// behind "undo send", the submission size limit, the authenticator for
// password changes and the addresses mail clients use. Listeners are
// bound before it is called.
func (s *Service) composeOptions(cfg *config.Config, authn *auth.Authenticator, spool string, inflight *smtpserver.Budget) webmail.ComposeOptions {
	return webmail.ComposeOptions{
		UndoSend:        cfg.Webmail.UndoSend.Duration,
		WakeOutbox:      s.Outbox.Wake,
		MaxMessageBytes: cfg.Submission.MaxMessageBytes,
		CheckSend: func(ctx context.Context, acct store.Account, rcpts []string, size int64) (string, error) {
			err := s.Submitter.Check(ctx, acct, rcpts, size)
			if msg, ok := s.Submitter.Refusal(err); ok {
				return msg, nil
			}
			return "", err
		},
		Passwords: authn,
		Client: webmail.ClientSettings{Hostname: cfg.Hostname, IMAPPort: port(s.IMAPAddr),
			SubmissionPort: port(s.SubmissionAddr), SubmissionsPort: port(s.SubmissionsAddr)},
		// Uploads and drafts wait where every other arriving message
		// does, under the same budget.
		SpoolDir: spool,
		Inflight: inflight,
	}
}

// port is the port of a bound listener, 0 when it is off.
func port(a net.Addr) int {
	if a == nil {
		return 0
	}
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
