package console

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// Sign-in is two steps, each its own request:
//
//  1. POST /console/login with email and password. Right: a pending
//     sign-in starts (pending.go), which opens only the second step's
//     pages, for pendingTTL.
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
// page cannot be replayed, and wrong codes are limited (codelimit.go).

type signinData struct {
	base
	Step   string // password, totp, enrol
	Email  string
	Next   string
	QR     template.HTML
	Secret string
	URL    string // otpauth:// URI of Secret
}

func (a *app) signinPage(w http.ResponseWriter, r *http.Request, status int, d signinData) {
	a.pages["signin"].Render(w, r, status, web.View{Title: "Console sign-in", App: "console", Home: "/console/", Data: d})
}

// safeNext keeps a post-sign-in destination inside the console (no open
// redirect to another site: "//evil.example" is refused).
func safeNext(next string) string {
	if strings.HasPrefix(next, "/console/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/console/"
}

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
	if !res.NeedTOTP && !res.MustEnrollTOTP {
		a.signedInNow(w, r, p, next)
		return
	}
	a.held.start(w, p.AdminID)
	to := "/console/login/enrol"
	if res.NeedTOTP {
		to = "/console/login/totp"
	}
	http.Redirect(w, r, to+"?next="+urlQuery(next), http.StatusSeeOther)
}

// pending returns the principal of a browser between the two steps, or
// sends it back to the first (no pending session, or too old).
func (a *app) pending(w http.ResponseWriter, r *http.Request) (admin.Principal, bool) {
	id, ok := a.held.get(r)
	if !ok {
		a.held.end(w, r)
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		} else {
			a.signinPage(w, r, http.StatusUnauthorized, signinData{Step: "password", Next: "/console/",
				base: base{Error: "Your sign-in took too long. Start again."}})
		}
		return admin.Principal{}, false
	}
	p, err := a.ops.PrincipalByID(r.Context(), id)
	if err != nil {
		a.held.end(w, r)
		a.signinPage(w, r, http.StatusUnauthorized, signinData{Step: "password", Next: "/console/",
			base: base{Error: "Sign in again."}})
		return admin.Principal{}, false
	}
	return p.WithIP(web.RemoteIP(r)), true
}

func (a *app) totpForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pending(w, r)
	if !ok {
		return
	}
	a.signinPage(w, r, http.StatusOK, signinData{Step: "totp", Email: p.Email, Next: safeNext(r.URL.Query().Get("next"))})
}

func (a *app) totpVerify(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pending(w, r)
	if !ok {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !a.codes.allow(p.AdminID) {
		a.codeRefused(w, r, p, signinData{Step: "totp", Email: p.Email, Next: next}, auth.ErrThrottled)
		return
	}
	if err := a.ops.VerifyTOTP(r.Context(), p.AdminID, strings.TrimSpace(r.PostFormValue("code"))); err != nil {
		a.codes.failed(p.AdminID)
		a.codeRefused(w, r, p, signinData{Step: "totp", Email: p.Email, Next: next}, err)
		return
	}
	a.signedInNow(w, r, p, next)
}

// codeRefused shows the code's form again for a wrong, replayed or
// throttled code.
func (a *app) codeRefused(w http.ResponseWriter, r *http.Request, p admin.Principal, d signinData, err error) {
	switch {
	case errors.Is(err, auth.ErrThrottled):
		d.Error = "Too many wrong codes. Wait a few minutes, then try again."
		a.signinPage(w, r, http.StatusTooManyRequests, d)
	case errors.Is(err, admin.ErrUnauthenticated):
		d.Error = "That code is not right, or was used already. Wait for the next one."
		a.signinPage(w, r, http.StatusUnauthorized, d)
	default:
		a.fail(w, r, p, "verify code", err)
	}
}

func (a *app) signedInNow(w http.ResponseWriter, r *http.Request, p admin.Principal, next string) {
	a.codes.reset(p.AdminID)
	a.held.end(w, r)
	if _, err := a.web.Sessions().Start(w, r, web.PrincipalAdmin, p.AdminID); err != nil {
		a.fail(w, r, p, "start session", err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) enrolForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pending(w, r)
	if !ok {
		return
	}
	en, err := a.ops.BeginTOTP(r.Context(), p)
	if err != nil {
		a.fail(w, r, p, "start TOTP enrolment", err)
		return
	}
	a.enrolPage(w, r, p, http.StatusOK, en, signinData{Step: "enrol", Email: p.Email, Next: safeNext(r.URL.Query().Get("next"))})
}

// enrolPage shows the enrolment step with a new secret. The secret is
// stored only once a code made from it is right (admin.ConfirmTOTP), so
// until then it travels in the form, inside the pending session that
// the right password opened.
func (a *app) enrolPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, en admin.TOTPEnrollment, d signinData) {
	qr, err := qrSVG(en.URL, "QR code of your TOTP key, for an authenticator app")
	if err != nil {
		a.fail(w, r, p, "draw QR code", err)
		return
	}
	d.QR, d.Secret, d.URL = qr, en.Secret, en.URL
	a.signinPage(w, r, status, d)
}

func (a *app) enrolVerify(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pending(w, r)
	if !ok {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	secret := strings.TrimSpace(r.PostFormValue("secret"))
	if !a.codes.allow(p.AdminID) {
		a.codeRefused(w, r, p, signinData{Step: "password", Next: next}, auth.ErrThrottled)
		return
	}
	if err := a.ops.ConfirmTOTP(r.Context(), p, secret, strings.TrimSpace(r.PostFormValue("code"))); err != nil {
		a.codes.failed(p.AdminID)
		if u := r.PostFormValue("url"); strings.HasPrefix(u, "otpauth://totp/") && secret != "" && errors.Is(err, store.ErrInvalid) {
			// The same secret again: the app has it already.
			en := admin.TOTPEnrollment{Secret: secret, URL: u}
			d := signinData{Step: "enrol", Email: p.Email, Next: next, base: base{Error: "That code is not right. Check the device's clock, and enter the code shown now."}}
			a.enrolPage(w, r, p, http.StatusUnauthorized, en, d)
			return
		}
		a.fail(w, r, p, "confirm TOTP enrolment", err)
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
