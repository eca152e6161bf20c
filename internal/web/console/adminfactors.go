package console

import (
	"fmt"
	"net/http"

	"github.com/xtramail/xtramail/internal/admin"
)

// Another administrator's second factors (admin.ResetSecondFactors):
// the admins page links each administrator below the signed-in one to a
// page that lists what they have, their TOTP key and passkeys, and asks
// for confirmation before removing them all (a lost phone). Their
// sessions end with the reset (admin's rule): one may be open on the
// lost device.

type adminFactorsData struct {
	base
	Admin    admin.AdminInfo
	Passkeys []admin.PasskeyInfo
}

func (a *app) adminFactors(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ad, err := a.ops.Admin(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, p, "admin", err)
		return
	}
	pks, err := a.ops.AdminPasskeys(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, p, "admin passkeys", err)
		return
	}
	a.render(w, r, p, http.StatusOK, "adminfactors", "Second factors of "+ad.Email, "/console/admins",
		adminFactorsData{Admin: ad, Passkeys: pks})
}

func (a *app) adminFactorsReset(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	// The reset looks the admin up in p's scope and says whom it found.
	res, err := a.ops.ResetSecondFactors(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, p, "reset second factors", err)
		return
	}
	what := plural(res.Passkeys, "passkey", "passkeys")
	if res.TOTP {
		what = "TOTP and " + what
	}
	a.done(w, r, fmt.Sprintf("Second factors of %s removed (%s); their sessions ended. They enrol again at their next sign-in.", res.Email, what), "/console/admins")
}
