package console

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
)

// The signed-in administrator's own account: their second factors.
//
// Re-enrolling TOTP (a new phone, or a key that may have been seen) is
// two steps, so that neither a session left open nor a phone alone is
// enough: a code of the current key starts it and shows a new key as a
// QR code; a code of the new key ends it, and only then does the new key
// replace the old one (admin.BeginTOTPReset, ConfirmTOTPReset). Between
// the two the new key waits in the store under a random id that the
// page's form carries, so the second step may reach any node.

type accountData struct {
	base
	Me       admin.AdminInfo
	Passkeys []admin.PasskeyInfo
	// Reset is set on the second step: the new key to show.
	Reset  *admin.TOTPReset
	QR     template.HTML
	Secret string
}

func (a *app) account(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.accountPage(w, r, p, http.StatusOK, accountData{})
}

func (a *app) accountPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, d accountData) {
	me, err := a.ops.Own(r.Context(), p)
	if err != nil {
		a.fail(w, r, p, "read own account", err)
		return
	}
	d.Me = me
	if d.Passkeys, err = a.ops.Passkeys(r.Context(), p); err != nil {
		a.fail(w, r, p, "list passkeys", err)
		return
	}
	if d.Reset != nil {
		qr, err := qrSVG(d.Reset.URL, "QR code of your new TOTP key, for an authenticator app")
		if err != nil {
			a.fail(w, r, p, "draw QR code", err)
			return
		}
		d.QR, d.Secret = qr, d.Reset.Secret
	}
	a.render(w, r, p, status, "account", "Your account", "/console/account", d)
}

// accountCodeError shows the page again for a refused code, or fails.
func (a *app) accountCodeError(w http.ResponseWriter, r *http.Request, p admin.Principal, d accountData, err error) {
	switch {
	case errors.Is(err, auth.ErrThrottled):
		d.Error = "Too many wrong codes. Wait a few minutes, then try again."
		a.accountPage(w, r, p, http.StatusTooManyRequests, accountData{base: d.base})
	case errors.Is(err, admin.ErrExpired):
		d.Error = "That took too long. Start again."
		a.accountPage(w, r, p, http.StatusConflict, accountData{base: d.base})
	case errors.Is(err, admin.ErrUnauthenticated):
		a.accountPage(w, r, p, http.StatusUnauthorized, d)
	default:
		a.fail(w, r, p, "change TOTP", err)
	}
}

func (a *app) accountTOTPBegin(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	reset, err := a.ops.BeginTOTPReset(r.Context(), p, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		a.accountCodeError(w, r, p, accountData{base: base{Error: "That code is not right, or was used already. Wait for the next one."}}, err)
		return
	}
	a.accountPage(w, r, p, http.StatusOK, accountData{Reset: &reset})
}

func (a *app) accountTOTPConfirm(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id := r.PostFormValue("reset")
	if err := a.ops.ConfirmTOTPReset(r.Context(), p, id, strings.TrimSpace(r.PostFormValue("code"))); err != nil {
		d := accountData{base: base{Error: "That code is not right. Enter the code your app shows now for the new key."}}
		if errors.Is(err, admin.ErrUnauthenticated) {
			reset, rerr := a.ops.TOTPResetEnrollment(r.Context(), p, id)
			if rerr != nil {
				err = rerr
			}
			d.Reset = &reset
		}
		a.accountCodeError(w, r, p, d, err)
		return
	}
	a.done(w, r, "Your authenticator app now uses the new key; codes of the old key no longer work.", "/console/account")
}
