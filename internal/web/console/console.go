// Package console serves the administrators' web console under /console/
// on the web listener: sign-in with a TOTP second factor, the dashboard
// (charts rendered server-side by package chart), resellers, customers,
// domains and their settings, addresses (search, continuity on/off,
// passwords, one-time sign-in links, bulk CSV import with progress), the
// message log with each message's timeline (restore, redeliver), the
// outbound queue, the usage report for billing, the audit log,
// administrators and API tokens.
//
// The console holds no business rules and never touches the store: every
// read and change goes through package admin with the signed-in
// administrator's admin.Principal, which checks the role, confines the
// query to the principal's subtree (another tenant's id is
// store.ErrNotFound, answered with the 404 page) and writes the audit log.
// Sessions, CSRF, security headers, the layout and the design system are
// the web package's; the console adds its pages, console.css and the
// short state that holds a sign-in between the password and the second
// factor (pending.go).
package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options wire the console to the service.
type Options struct {
	// Web is the listener the console is mounted on: its layout, static
	// assets and sessions.
	Web *web.Server
	// Admin runs every operation.
	Admin *admin.Service
	// Logger gets handler errors once, with the administrator.
	Logger *slog.Logger
	// Clock is the service's clock: what the pages say of time (expiry,
	// usage months) and when an import's generated passwords are
	// dropped. Tests inject a clocktest.Clock; nil means the system's.
	Clock clock.Clock
}

// app is one console: the options and what is built from them once.
type app struct {
	web   *web.Server
	ops   *admin.Service
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*web.Page
	jobs  *importJobs

	wg sync.WaitGroup // running imports
}

// New builds the console, registers its session kinds and static files
// on opt.Web, and returns the handler to mount at "/console/".
func New(opt Options) http.Handler {
	clk := clock.Or(opt.Clock)
	a := &app{web: opt.Web, ops: opt.Admin, log: opt.Logger, now: clk.Now, pages: map[string]*web.Page{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.jobs = newImportJobs(clk)
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	if err := a.web.Static().Add("console", sub); err != nil {
		panic(err)
	}
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		if e.Name() == "partials.html" {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".html")
		a.pages[name] = a.web.Layout().MustParse(templateFS, "templates/"+e.Name(), "templates/partials.html")
	}
	ses := a.web.Sessions()
	ses.Register(web.PrincipalAdmin, "/console/login", a.checkAdmin)
	return a.routes()
}

// checkAdmin is the sessions' PrincipalCheck: a disabled or removed
// administrator's sessions end at their next request.
func (a *app) checkAdmin(ctx context.Context, id int64) (string, error) {
	p, err := a.ops.PrincipalByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, admin.ErrUnauthenticated) || errors.Is(err, store.ErrDisabled) {
		return "", errors.Join(web.ErrPrincipalGone, err)
	}
	if err != nil {
		return "", err
	}
	return p.Email, nil
}

// handler is a console page handler: it gets the signed-in principal.
type handler func(w http.ResponseWriter, r *http.Request, p admin.Principal)

// signedIn wraps h: it needs an administrator's session and rebuilds the
// Principal (role and scope as they are now) for each request.
func (a *app) signedIn(h handler) http.Handler {
	return a.web.Sessions().Require(web.PrincipalAdmin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wp, _ := web.AdminFrom(r.Context())
		p, err := a.ops.PrincipalByID(r.Context(), wp.ID)
		if err != nil {
			a.fail(w, r, admin.Principal{}, "load administrator", err)
			return
		}
		h(w, r, p.WithIP(web.RemoteIP(r)))
	}))
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	// Sign-in (sign-in.go).
	mux.HandleFunc("GET /console/login", a.loginForm)
	mux.HandleFunc("POST /console/login", a.loginPassword)
	mux.HandleFunc("GET /console/login/totp", a.totpForm)
	mux.HandleFunc("POST /console/login/totp", a.totpVerify)
	mux.HandleFunc("GET /console/login/enrol", a.enrolForm)
	mux.HandleFunc("POST /console/login/enrol", a.enrolVerify)
	mux.HandleFunc("POST /console/login/passkey/begin", a.passkeySignInBegin)
	mux.HandleFunc("POST /console/login/passkey", a.passkeySignIn)
	mux.HandleFunc("POST /console/logout", a.logout)

	mux.Handle("GET /console/{$}", a.signedIn(a.dashboard))
	// Tenants (tenants.go).
	mux.Handle("GET /console/resellers", a.signedIn(a.resellers))
	mux.Handle("POST /console/resellers", a.signedIn(a.resellerAdd))
	mux.Handle("POST /console/resellers/{id}/delete", a.signedIn(a.resellerRemove))
	mux.Handle("GET /console/customers", a.signedIn(a.customers))
	mux.Handle("POST /console/customers", a.signedIn(a.customerAdd))
	mux.Handle("GET /console/customers/{id}", a.signedIn(a.customer))
	mux.Handle("POST /console/customers/{id}/delete", a.signedIn(a.customerRemove))
	// Domains (domains.go).
	mux.Handle("GET /console/domains", a.signedIn(a.domains))
	mux.Handle("POST /console/domains", a.signedIn(a.domainAdd))
	mux.Handle("GET /console/domains/{name}", a.signedIn(a.domain))
	mux.Handle("POST /console/domains/{name}", a.signedIn(a.domainSettings))
	mux.Handle("POST /console/domains/{name}/dkim", a.signedIn(a.domainDKIM))
	mux.Handle("POST /console/domains/{name}/delete", a.signedIn(a.domainRemove))
	// Addresses (addresses.go, import.go).
	mux.Handle("GET /console/addresses", a.signedIn(a.addresses))
	mux.Handle("POST /console/addresses", a.signedIn(a.addressAdd))
	mux.Handle("POST /console/addresses/bulk", a.signedIn(a.addressBulk))
	mux.Handle("POST /console/addresses/passwords.csv", a.signedIn(a.passwordsCSV))
	mux.Handle("GET /console/addresses/{address}", a.signedIn(a.address))
	mux.Handle("POST /console/addresses/{address}/enabled", a.signedIn(a.addressEnabled))
	mux.Handle("POST /console/addresses/{address}/password", a.signedIn(a.addressPassword))
	mux.Handle("POST /console/addresses/{address}/link", a.signedIn(a.addressLink))
	mux.Handle("POST /console/addresses/{address}/delete", a.signedIn(a.addressRemove))
	mux.Handle("GET /console/import", a.signedIn(a.importForm))
	mux.Handle("POST /console/import", a.signedIn(a.importStart))
	mux.Handle("GET /console/import/{id}", a.signedIn(a.importProgress))
	mux.Handle("GET /console/import/{id}/errors.csv", a.signedIn(a.importErrors))
	mux.Handle("POST /console/import/{id}/passwords.csv", a.signedIn(a.importPasswords))
	// Message log, timeline, restore (log.go).
	mux.Handle("GET /console/log", a.signedIn(a.logSearch))
	mux.Handle("GET /console/log/timeline", a.signedIn(a.timeline))
	mux.Handle("POST /console/messages/restore", a.signedIn(a.restore))
	mux.Handle("POST /console/messages/redeliver", a.signedIn(a.redeliver))
	// Queue, audit, admins, tokens (queue.go, audit.go, admins.go).
	mux.Handle("GET /console/queue", a.signedIn(a.queue))
	mux.Handle("POST /console/queue", a.signedIn(a.queueAction))
	mux.Handle("GET /console/audit", a.signedIn(a.audit))
	// Usage report (usage.go).
	mux.Handle("GET /console/usage", a.signedIn(a.usage))
	mux.Handle("GET /console/usage.csv", a.signedIn(a.usageCSV))
	mux.Handle("GET /console/admins", a.signedIn(a.admins))
	mux.Handle("POST /console/admins", a.signedIn(a.adminAdd))
	mux.Handle("POST /console/admins/{id}/disabled", a.signedIn(a.adminDisabled))
	mux.Handle("POST /console/admins/{id}/delete", a.signedIn(a.adminRemove))
	mux.Handle("GET /console/admins/{id}/factors", a.signedIn(a.adminFactors))
	mux.Handle("POST /console/admins/{id}/factors/reset", a.signedIn(a.adminFactorsReset))
	// The administrator's own account (account.go).
	mux.Handle("GET /console/account", a.signedIn(a.account))
	mux.Handle("POST /console/account/totp", a.signedIn(a.accountTOTPBegin))
	mux.Handle("POST /console/account/totp/confirm", a.signedIn(a.accountTOTPConfirm))
	mux.Handle("POST /console/account/passkeys/begin", a.signedIn(a.passkeyBegin))
	mux.Handle("POST /console/account/passkeys", a.signedIn(a.passkeyAdd))
	mux.Handle("POST /console/account/passkeys/{id}/delete", a.signedIn(a.passkeyRemove))
	mux.Handle("GET /console/tokens", a.signedIn(a.tokens))
	mux.Handle("POST /console/tokens", a.signedIn(a.tokenCreate))
	mux.Handle("POST /console/tokens/{id}/revoke", a.signedIn(a.tokenRevoke))
	mux.HandleFunc("/console/", web.NotFound)
	return mux
}

// nav is the console's top bar for p: only what p's role may open.
func nav(p admin.Principal, current string) []web.NavLink {
	links := []struct{ label, href, op string }{
		{"Dashboard", "/console/", admin.OpDashboard},
		{"Resellers", "/console/resellers", admin.OpResellerList},
		{"Customers", "/console/customers", admin.OpCustomerList},
		{"Domains", "/console/domains", admin.OpDomainList},
		{"Addresses", "/console/addresses", admin.OpAddressList},
		{"Message log", "/console/log", admin.OpLogSearch},
		{"Queue", "/console/queue", admin.OpQueueList},
		{"Usage", "/console/usage", admin.OpUsage},
		{"Audit", "/console/audit", admin.OpAuditSearch},
		{"Admins", "/console/admins", admin.OpAdminList},
		{"API tokens", "/console/tokens", admin.OpTokenList},
	}
	var out []web.NavLink
	for _, l := range links {
		if !p.Can(l.op) {
			continue
		}
		// A customer admin of the one customer has no list of customers
		// to choose from: the customer's page is their domains page.
		if l.op == admin.OpCustomerList && p.Role == store.RoleCustomer {
			continue
		}
		out = append(out, web.NavLink{Label: l.label, Href: l.href, Current: l.href == current})
	}
	// Every administrator has their own account page.
	return append(out, web.NavLink{Label: "Account", Href: "/console/account", Current: current == "/console/account"})
}

// base is embedded in every page's data: the error of a refused form,
// shown above it.
type base struct{ Error string }

// render shows a page of the console for p.
func (a *app) render(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, page, title, current string, data any) {
	pg := a.pages[page]
	if pg == nil {
		a.fail(w, r, p, "render", errors.New("no page "+page))
		return
	}
	pg.Render(w, r, status, web.View{Title: title, App: "console", Home: "/console/", Nav: nav(p, current), Data: data})
}

// done ends a successful change: a flash for the next page, and back to
// where the change was made (POST-redirect-GET).
func (a *app) done(w http.ResponseWriter, r *http.Request, flash, to string) {
	if flash != "" {
		web.SetFlash(w, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// fail answers an error of an operation with the page the kind calls for:
// 404 for anything outside the principal's subtree (exactly as for a
// missing object), 403 for what the role may not do, 400 for bad input
// with the field's message, else 500 with the detail logged once.
func (a *app) fail(w http.ResponseWriter, r *http.Request, p admin.Principal, doing string, err error) {
	var fe *admin.FieldError
	switch {
	case errors.Is(err, store.ErrNotFound):
		web.NotFound(w, r)
	case errors.Is(err, admin.ErrForbidden):
		web.Error(w, r, http.StatusForbidden, "Your role does not allow this.")
	case errors.As(err, &fe):
		web.Error(w, r, http.StatusBadRequest, fe.Msg)
	case errors.Is(err, store.ErrExists):
		web.Error(w, r, http.StatusConflict, "That already exists.")
	case errors.Is(err, store.ErrNotEmpty):
		web.Error(w, r, http.StatusConflict, "Remove what it holds first.")
	case errors.Is(err, admin.ErrNoRelay):
		web.Error(w, r, http.StatusConflict, "The address's domain names no relay host to redeliver to: set one on the domain's page first.")
	case errors.Is(err, store.ErrInvalid):
		web.Error(w, r, http.StatusBadRequest, "That value is not valid.")
	case errors.Is(err, admin.ErrUnauthenticated):
		web.Error(w, r, http.StatusUnauthorized, "Sign in again.")
	default:
		a.log.Error("console: "+doing, "admin", p.String(), "path", r.URL.Path, "err", err)
		web.Error(w, r, http.StatusInternalServerError, "Something went wrong; it has been logged. Try again.")
	}
}

// failForm answers an operation's error: one the form can explain
// (formError) shows the form again with it, through again; any other is
// fail's.
func (a *app) failForm(w http.ResponseWriter, r *http.Request, p admin.Principal, doing string, err error, again func(msg string)) {
	if msg, ok := formError(err); ok {
		again(msg)
		return
	}
	a.fail(w, r, p, doing, err)
}

// formError is what a form shows above itself for a refused value; ok is
// false for errors that are not the user's input (those go to fail).
func formError(err error) (string, bool) {
	var fe *admin.FieldError
	switch {
	case errors.As(err, &fe):
		return fe.Msg, true
	case errors.Is(err, store.ErrExists):
		return "That already exists.", true
	case errors.Is(err, store.ErrNotEmpty):
		return "It still holds something: remove that first.", true
	case errors.Is(err, store.ErrInvalid):
		return "That value is not valid.", true
	}
	return "", false
}
