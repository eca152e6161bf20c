package webmail

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/mailconfig"
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
	// CheckSend makes the checks submission will make of a message
	// with these recipients and size once its hold ends
	// (submission.Submitter.Check), so that the sender learns at once:
	// refusal says what refuses it, in words for the sender; err is a
	// failure to check. nil checks nothing.
	CheckSend func(ctx context.Context, acct store.Account, rcpts []string, size int64) (refusal string, err error)
	// Passwords checks the old password and forgets cached credentials
	// after a change (the service's *auth.Authenticator).
	Passwords Passwords
	// Client is what a mail client is set up with, for the settings page.
	Client ClientSettings
	// SpoolDir holds uploads and drafts being written, past 256 KiB, in
	// unlinked files ("" for os.TempDir()): memory does not grow with a
	// file's size. Inflight bounds their bytes, with every other message
	// arriving (capture, submission, IMAP APPEND: one budget); nil gives
	// the webmail no bound of its own.
	SpoolDir string
	Inflight *smtpserver.Budget
}

// Passwords is the part of the authenticator a password change uses.
type Passwords interface {
	Authenticate(ctx context.Context, username, password, remoteIP string) (auth.Credential, error)
	Hasher() *auth.Hasher
	Forget(username string)
}

// ClientSettings are the server's names and ports for mail clients
// (mailconfig owns them: they are what its documents say).
type ClientSettings = mailconfig.Server

//go:embed compose_templates compose_static
var composeAssets embed.FS

// composer serves the compose side: its pages are parsed once, here.
type composer struct {
	*app
	web      *web.Server
	compose  *web.Page
	outbox   *web.Page
	status   *web.Page
	settings *web.Page
}

// composeRoutes registers compose, reply, forward, drafts, sending,
// delivery status and settings (owned by the compose side).
func (a *app) composeRoutes(mux *http.ServeMux) {
	w := a.web
	if w == nil {
		return // a webmail without the web layer (unit tests)
	}
	static, err := fs.Sub(composeAssets, "compose_static")
	if err != nil {
		panic(err)
	}
	if err := w.Static().Add("compose", static); err != nil {
		panic(err)
	}
	l := w.Layout()
	c := &composer{app: a, web: w,
		compose:  l.MustParse(composeAssets, "compose_templates/compose.html", "compose_templates/partials.html"),
		outbox:   l.MustParse(composeAssets, "compose_templates/outbox.html", "compose_templates/partials.html"),
		status:   l.MustParse(composeAssets, "compose_templates/status.html", "compose_templates/partials.html"),
		settings: l.MustParse(composeAssets, "compose_templates/settings.html", "compose_templates/partials.html"),
	}
	c.handle(mux, "GET /compose", c.page)
	c.handle(mux, "POST /compose/save", c.save)
	c.handle(mux, "POST /compose/send", c.send)
	c.handle(mux, "GET /compose/contacts", c.contacts)
	c.handle(mux, "GET /compose/session", c.session)
	c.handle(mux, "GET /outbox/{id}", c.outboxPage)
	c.handle(mux, "POST /outbox/{id}/undo", c.undo)
	c.handle(mux, "GET /messages/{id}/status", c.deliveryStatus)
	c.handle(mux, "GET /settings", c.settingsPage)
	c.handle(mux, "POST /settings/password", c.changePassword)
	c.handle(mux, "GET /settings/client.png", c.clientQR)
	c.handle(mux, "GET /settings/mail.mobileconfig", c.appleProfile)
}

// handle registers h behind the web layer's sign-in for the user
// principal, with the signed-in account as the store has it now.
func (c *composer) handle(mux *http.ServeMux, pattern string, h func(http.ResponseWriter, *http.Request, store.Account)) {
	c.routes = append(c.routes, pattern)
	mux.Handle(pattern, c.web.Sessions().Require(web.PrincipalUser, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := web.UserFrom(r.Context())
		if !ok {
			web.Error(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		}
		acct, err := c.store.AccountByID(r.Context(), u.ID)
		if err != nil {
			c.failed(w, r, u.ID, "read signed-in account", err)
			return
		}
		h(w, r, acct)
	})))
}

// failed answers a handler's error: the store's kinds map to what the
// user can do; anything else is logged once and answered 500.
func (c *composer) failed(w http.ResponseWriter, r *http.Request, acct int64, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		web.NotFound(w, r)
	case errors.Is(err, store.ErrStorageFull):
		web.Error(w, r, http.StatusServiceUnavailable, "The server is out of storage. Your draft was not saved; try again later.")
	case r.Context().Err() != nil:
	default:
		c.log.Error(what, "account", acct, "path", r.URL.Path, "err", err)
		web.Error(w, r, http.StatusInternalServerError, "Something went wrong on the server. Try again in a moment.")
	}
}

// navFor is the webmail's top bar (nav) for a compose-side page, with
// the INBOX's unread count.
func (c *composer) navFor(r *http.Request, acct store.Account, current string) []web.NavLink {
	folders, err := c.folders(r.Context(), acct.ID, 0)
	if err != nil {
		c.log.Warn("read folders for the top bar", "account", acct.ID, "err", err)
	}
	return nav(folders, current)
}

// session serves GET /compose/session: the signed-in account and its
// session's CSRF token, as JSON. A compose page whose session ended asks
// it (Accept: application/json, so that a browser signed out gets 401,
// not the sign-in page) until the user has signed in again in another
// tab, then takes the new session's token and saves (compose.js): its
// text never leaves the page. Only this origin can read the answer (no
// CORS), as it can read the token from any page.
func (c *composer) session(w http.ResponseWriter, r *http.Request, acct store.Account) {
	ses := web.SessionFrom(r.Context())
	if ses == nil {
		web.Error(w, r, http.StatusUnauthorized, "Sign in first.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Account string `json:"account"`
		CSRF    string `json:"csrf"`
	}{acct.Address, ses.CSRF})
}
