// Package webmail serves the end user's web mail on the web listener:
// the folder and message lists, reading (text and sanitised HTML in a
// sandboxed frame), attachments, search, the Deleted view and live updates
// (the read side, files list*, message*, render*, search*, deleted*,
// events*, actions*), and compose, reply, forward, drafts, sending and
// settings (the compose side, files compose*).
//
// It owns no session or CSRF logic: the web layer (internal/web) signs
// users in, and every handler here runs behind its Require for the user
// principal. Every store call names that account (web.UserFrom), so an id
// taken from a URL that belongs to someone else is store.ErrNotFound and
// answered 404 by construction.
package webmail

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// Options wires the webmail to the rest of the service.
type Options struct {
	// Web is the listener the webmail is mounted on: layout, static
	// assets, sessions.
	Web *web.Server
	// Store holds the mail; every call names the signed-in account.
	Store store.Store
	// Logger gets handler errors once, with the account.
	Logger *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// UndoDelete is how long a delete can be undone in place: the
	// message stays in its folder under its UID, marked \Deleted, until
	// then (store.PendingDeletes). 0 expunges at once.
	UndoDelete time.Duration
	// Compose holds what the compose side needs (compose_routes.go).
	Compose ComposeOptions
	// SearchMemory bounds the messages that searches read at once; the
	// service shares one with IMAP. nil: the webmail's own, of 256 MiB.
	SearchMemory *imapmsg.SearchMemory
}

//go:embed templates static
var assets embed.FS

// app is one webmail: the options and what is built from them once.
type app struct {
	opt   Options
	web   *web.Server
	store store.Store
	log   *slog.Logger
	now   func() time.Time
	html  htmlPolicies
	pages readPages

	streamsMu sync.Mutex
	streams   map[string]int // open live-update streams by session
	heartbeat time.Duration  // of the streams: the const, or a test's

	mux    *http.ServeMux
	routes []string // the patterns registered, for the test that walks them all
}

// ServeHTTP serves the webmail's routes.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// New returns the webmail's handler, to be mounted at the root of the web
// listener (w.Mount("/", ...)).
func New(opt Options) http.Handler {
	a := &app{opt: opt, web: opt.Web, store: opt.Store, log: opt.Logger, now: opt.Now,
		html: newHTMLPolicies(), streams: map[string]int{}, heartbeat: heartbeat}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.opt.SearchMemory == nil {
		a.opt.SearchMemory = imapmsg.NewSearchMemory(256 << 20)
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err)
	}
	if err := a.web.Static().Add("webmail", static); err != nil {
		panic(err)
	}
	a.pages = parseReadPages(a.web.Layout())
	a.mux = http.NewServeMux()
	a.readRoutes(a.mux)
	a.composeRoutes(a.mux)
	return a
}

// handleFunc is a handler of the signed-in user: acct is the account id
// every store call names.
type handleFunc func(w http.ResponseWriter, r *http.Request, acct int64)

// handle registers h behind the web layer's sign-in for the user
// principal.
func (a *app) handle(mux *http.ServeMux, pattern string, h handleFunc) {
	a.routes = append(a.routes, pattern)
	mux.Handle(pattern, a.web.Sessions().Require(web.PrincipalUser, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := web.UserFrom(r.Context())
		if !ok {
			web.Error(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		}
		h(w, r, u.ID)
	})))
}

// fail answers a handler's error: the store's kinds map to what the user
// can do; anything else is logged once and answered 500.
func (a *app) fail(w http.ResponseWriter, r *http.Request, acct int64, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		web.NotFound(w, r)
	case errors.Is(err, store.ErrInvalid):
		web.Error(w, r, http.StatusBadRequest, "That request could not be understood. Go back and try again.")
	case errors.Is(err, store.ErrStorageFull):
		web.Error(w, r, http.StatusServiceUnavailable, "The server is out of storage. Try again later.")
	case errors.Is(err, store.ErrLimit):
		// The only bound the webmail can reach is the account's folders
		// (imap.max_mailboxes), when its first Archive makes a folder:
		// the user can make room, not the server.
		web.Error(w, r, http.StatusConflict, "Your mailbox has as many folders as it may have, so no Archive folder can be made. Delete a folder you no longer need in your mail program, or move the message to an existing folder.")
	case r.Context().Err() != nil:
		// The browser went away; nothing to answer.
	default:
		a.log.Error(what, "account", acct, "path", r.URL.Path, "err", err)
		web.Error(w, r, http.StatusInternalServerError, "Something went wrong on the server. Try again in a moment.")
	}
}
