// Package webmail serves the end user's web mail on the web listener:
// the folder and message lists, reading (text and sanitised HTML in a
// sandboxed frame), attachments, search, the Deleted view and live updates
// (the read side, files list*, message*, render*, search*, deleted*,
// events*, actions*), and compose, reply, forward, drafts, sending and
// settings (the compose side, files compose*).
//
// It owns no session or CSRF logic: the web layer (internal/web) signs
// users in and hands each request over with its account, which Options.Account
// reads. Every store call names that account, so an id taken from a URL
// that belongs to someone else is store.ErrNotFound and answered 404 by
// construction.
package webmail

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Options wires the webmail to the rest of the service.
type Options struct {
	// Store holds the mail; every call names the signed-in account.
	Store store.Store
	// Account returns the account signed in on the request (the web
	// layer's session), or false when there is none.
	Account func(r *http.Request) (store.Account, bool)
	// Logger gets handler errors once, with the account.
	Logger *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Compose holds what the compose side needs (compose_routes.go).
	Compose ComposeOptions
}

// app is one webmail: the options and what is built from them once.
type app struct {
	opt   Options
	store store.Store
	log   *slog.Logger
	now   func() time.Time
}

// New returns the webmail's handler, to be mounted at the root of the web
// listener behind its session and CSRF middleware.
func New(opt Options) http.Handler {
	a := &app{opt: opt, store: opt.Store, log: opt.Logger, now: opt.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	mux := http.NewServeMux()
	a.readRoutes(mux)
	a.composeRoutes(mux)
	return mux
}

// account returns the request's signed-in account. Without one it answers
// 401 and returns false: the web layer normally redirects to sign-in
// before the request gets here.
func (a *app) account(w http.ResponseWriter, r *http.Request) (store.Account, bool) {
	if a.opt.Account != nil {
		if acct, ok := a.opt.Account(r); ok {
			return acct, true
		}
	}
	http.Error(w, "Sign in first.", http.StatusUnauthorized)
	return store.Account{}, false
}
