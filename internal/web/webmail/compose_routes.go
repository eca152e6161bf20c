package webmail

import (
	"context"
	"net/http"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
)

// ComposeOptions is what the compose side needs beyond Options (owned by
// the compose side).
type ComposeOptions struct {
	// UndoSend is how long a sent message is held, undoable, before it is
	// submitted (config webmail.undo_send).
	UndoSend time.Duration
	// WakeOutbox tells the outbox (submission.Outbox.Wake) a message was
	// held, so that it sends it on time; nil when there is none.
	WakeOutbox func()
	// MaxMessageBytes is submission's message size limit: attachments
	// are bounded by it.
	MaxMessageBytes int64
	// Passwords checks the old password and forgets cached credentials
	// after a change (the service's *auth.Authenticator).
	Passwords Passwords
	// EndOtherSessions signs the user out everywhere else (the web
	// layer's Sessions.EndOthers).
	EndOtherSessions func(r *http.Request) (int, error)
	// Client is what a mail client is set up with, for the settings page.
	Client ClientSettings
}

// Passwords is the part of the authenticator a password change uses.
type Passwords interface {
	Authenticate(ctx context.Context, username, password, remoteIP string) (auth.Credential, error)
	Hasher() *auth.Hasher
	Forget(username string)
}

// ClientSettings are the server's names and ports for mail clients.
type ClientSettings struct {
	Hostname string
	// IMAPPort is IMAP over TLS (993); SubmissionPort SMTP with STARTTLS
	// (587) and SubmissionsPort SMTP over TLS (465); 0 when off.
	IMAPPort, SubmissionPort, SubmissionsPort int
}

// composeRoutes registers compose, reply, forward, drafts, sending and
// settings (owned by the compose side).
func (a *app) composeRoutes(mux *http.ServeMux) {}
