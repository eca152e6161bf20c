package service

import (
	"log/slog"
	"net"
	"strconv"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail"
)

// mountWebmail mounts the webmail at the root of the web listener, with
// what its compose side needs: the outbox behind "undo send", the
// submission size limit, the authenticator for password changes and
// the addresses mail clients use.
func (s *Service) mountWebmail(cfg *config.Config, st store.Store, authn *auth.Authenticator, log *slog.Logger) {
	s.web.Mount("/", webmail.New(webmail.Options{
		Store:  st,
		Logger: log,
		Compose: webmail.ComposeOptions{
			Web:             s.web,
			UndoSend:        cfg.Webmail.UndoSend.Duration,
			WakeOutbox:      s.Outbox.Wake,
			MaxMessageBytes: cfg.Submission.MaxMessageBytes,
			Passwords:       authn,
			Client: webmail.ClientSettings{Hostname: cfg.Hostname, IMAPPort: port(s.IMAPAddr),
				SubmissionPort: port(s.SubmissionAddr), SubmissionsPort: port(s.SubmissionsAddr)},
		},
	}))
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
