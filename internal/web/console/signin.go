package console

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/web"
)

// Sign-in is two steps, each its own request:
//
//  1. POST /console/login with email and password. Right: a pending
//     sign-in starts (in the store, its id in a cookie: pending.go),
//     which opens only the second step's pages, for admin.PendingTTL.
//  2. POST /console/login/totp with the code (RFC 6238), or, for an
//     administrator without a second factor yet, /console/login/enrol
//     with the code of the secret just shown as a QR code. Right: the
//     pending sign-in ends and an admin session starts (a new id: no
//     fixation across the privilege change).
//
// Which administrators need a second factor is admin's rule
// (admin.SignInResult): one who has enrolled gives a code; a provider
// administrator without one enrols at this sign-in (the first one, from
// `xtramail admin create`, too). A code is accepted once (admin stores
// the last step used), so one read over a shoulder or from a phishing
// page cannot be replayed, and codes are limited per pending sign-in and
// per administrator (admin's rule, counted in the store).

type signinData struct {
	base
	Step   string // password, totp, enrol
	Email  string
	Next   string
	QR     template.HTML
	Secret string
	URL    string // otpauth:// URI of Secret
	// TOTP and Passkey: the second factors the administrator has, on the
	// second step.
	TOTP    bool
	Passkey bool
}

func (a *app) signinPage(w http.ResponseWriter, r *http.Request, status int, d signinData) {
	a.pages["signin"].Render(w, r, status, web.View{Title: "Console sign-in", App: "console", Home: "/console/", Data: d})
}

// safeNext keeps a post-sign-in destination inside the console (no open
// redirect: web.LocalPath).
func safeNext(next string) string { return web.LocalPath(next, "/console/", "/console/") }

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := web.AdminFrom(r.Context()); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	a.signinPage(w, r, http.StatusOK, signinData{Step: "password", Next: safeNext(r.URL.Query().Get("next"))})
}

func (a *app) loginPassword(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	next := safeNext(r.PostFormValue("next"))
	res, err := a.ops.SignIn(r.Context(), email, r.PostFormValue("password"), web.RemoteIP(r))
	if err != nil {
		d := signinData{Step: "password", Email: email, Next: next}
		switch {
		case errors.Is(err, auth.ErrThrottled):
			d.Error = "Too many failed attempts. Wait a few minutes, then try again."
			a.signinPage(w, r, http.StatusTooManyRequests, d)
		case errors.Is(err, admin.ErrUnauthenticated):
			d.Error = "Wrong email or password."
			a.signinPage(w, r, http.StatusUnauthorized, d)
		default:
			a.fail(w, r, admin.Principal{Email: email}, "sign in", err)
		}
		return
	}
	p := res.Principal
	if !res.NeedTOTP && !res.MustEnrollTOTP && !res.Passkey {
		a.signedInNow(w, r, p, next)
		return
	}
	holdPending(w, res.Pending)
	to := "/console/login/enrol"
	if res.NeedTOTP || res.Passkey {
		to = "/console/login/totp"
	}
	http.Redirect(w, r, to+"?next="+urlQuery(next), http.StatusSeeOther)
}

// pending returns the principal of a browser between the two steps, or
// sends it back to the first (no pending sign-in, or too old).
func (a *app) pending(w http.ResponseWriter, r *http.Request) (admin.Principal, bool) {
	p, err := a.ops.PendingSignIn(r.Context(), pendingID(r))
	if err != nil {
		a.signInAgain(w, r, p, err)
		return admin.Principal{}, false
	}
	return p.WithIP(web.RemoteIP(r)), true
}

// signInAgain ends a pending sign-in that cannot go on (gone, too many
// codes, the administrator disabled) and shows the first step.
func (a *app) signInAgain(w http.ResponseWriter, r *http.Request, p admin.Principal, err error) {
	if !errors.Is(err, admin.ErrExpired) && !errors.Is(err, admin.ErrUnauthenticated) {
		a.fail(w, r, p, "pending sign-in", err)
		return
	}
	if err := a.ops.EndSignIn(r.Context(), pendingID(r)); err != nil {
		a.log.Error("console: end pending sign-in", "err", err)
	}
	dropPending(w)
	if r.Method == http.MethodGet {
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return
	}
	d := signinData{Step: "password", Next: "/console/", base: base{Error: "Your sign-in took too long. Start again."}}
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, auth.ErrThrottled):
		d.Error = "Too many wrong codes. Sign in again."
		status = http.StatusTooManyRequests
	case errors.Is(err, admin.ErrUnauthenticated):
		d.Error = "Sign in again."
	}
	a.signinPage(w, r, status, d)
}

func (a *app) totpForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pending(w, r)
	if !ok {
		return
	}
	a.secondPage(w, r, p, http.StatusOK, signinData{Step: "totp", Email: p.Email, Next: safeNext(r.URL.Query().Get("next"))})
}

// secondPage shows the second step with the factors the administrator
// has: a passkey, a TOTP code, or either.
func (a *app) secondPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, d signinData) {
	totp, passkey, err := a.ops.SecondFactors(r.Context(), p.AdminID)
	if err != nil {
		a.fail(w, r, p, "second factors", err)
		return
	}
	d.TOTP, d.Passkey = totp, passkey
	a.signinPage(w, r, status, d)
}

func (a *app) totpVerify(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	p, err := a.ops.SignInTOTP(r.Context(), pendingID(r), strings.TrimSpace(r.PostFormValue("code")), web.RemoteIP(r))
	if err != nil {
		a.codeRefused(w, r, p, "totp", next, err)
		return
	}
	a.signedInNow(w, r, p, next)
}

// codeRefused answers a second step that failed: a wrong or replayed
// code shows its form again; a pending sign-in that is over (gone, or
// too many codes) goes back to the password.
func (a *app) codeRefused(w http.ResponseWriter, r *http.Request, p admin.Principal, step, next string, err error) {
	if errors.Is(err, admin.ErrExpired) {
		a.signInAgain(w, r, p, err)
		return
	}
	pp, perr := a.pending(w, r)
	if !perr {
		return
	}
	d := signinData{Step: step, Email: pp.Email, Next: next}
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, auth.ErrThrottled):
		d.Error = "Too many wrong codes. Wait a few minutes, then try again."
		status = http.StatusTooManyRequests
	case errors.Is(err, admin.ErrUnauthenticated):
		d.Error = "That code is not right, or was used already. Wait for the next one."
		if step == "enrol" {
			d.Error = "That code is not right. Check the device's clock, and enter the code shown now."
		}
	default:
		a.fail(w, r, pp, "verify code", err)
		return
	}
	if step == "enrol" {
		a.enrolPage(w, r, pp, status, d)
		return
	}
	a.secondPage(w, r, pp, status, d)
}

func (a *app) signedInNow(w http.ResponseWriter, r *http.Request, p admin.Principal, next string) {
	if err := a.startSession(w, r, p); err != nil {
		a.fail(w, r, p, "start session", err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// startSession ends the pending sign-in's cookie and starts an admin
// session (a new id: no fixation across the privilege change).
func (a *app) startSession(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	dropPending(w)
	_, err := a.web.Sessions().Start(w, r, web.PrincipalAdmin, p.AdminID)
	return err
}

func (a *app) enrolForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pending(w, r)
	if !ok {
		return
	}
	a.enrolPage(w, r, p, http.StatusOK, signinData{Step: "enrol", Email: p.Email, Next: safeNext(r.URL.Query().Get("next"))})
}

// enrolPage shows the enrolment step with the pending sign-in's new
// secret. The secret is kept in the pending sign-in (the store) and
// becomes the administrator's only once a code made from it is right
// (admin.SignInEnrol): it is never in the form.
func (a *app) enrolPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, d signinData) {
	en, err := a.ops.PendingEnrollment(r.Context(), pendingID(r))
	if err != nil {
		a.signInAgain(w, r, p, err)
		return
	}
	qr, err := qrSVG(en.URL, "QR code of your TOTP key, for an authenticator app")
	if err != nil {
		a.fail(w, r, p, "draw QR code", err)
		return
	}
	d.QR, d.Secret, d.URL = qr, en.Secret, en.URL
	a.signinPage(w, r, status, d)
}

func (a *app) enrolVerify(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	p, err := a.ops.SignInEnrol(r.Context(), pendingID(r), strings.TrimSpace(r.PostFormValue("code")), web.RemoteIP(r))
	if err != nil {
		a.codeRefused(w, r, p, "enrol", next, err)
		return
	}
	a.signedInNow(w, r, p, next)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.web.Sessions().End(w, r); err != nil {
		a.log.Error("console: sign out", "err", err)
	}
	a.done(w, r, "You are signed out.", "/console/login")
}
