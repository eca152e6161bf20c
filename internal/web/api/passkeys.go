package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
)

// An administrator's second factors: their passkeys listed and removed
// one by one, and a reset of them all with the TOTP key (a lost device).
// Registering a passkey stays a browser ceremony (the console's Account
// page): WebAuthn needs the authenticator and an https origin. Who may
// change whose is admin.ResetSecondFactors' rule: another tenant's admin
// is a 404, a peer a 403.
func (a *API) registerPasskeys() {
	a.handle("GET /admins/{id}/passkeys", a.listPasskeys)
	a.handle("DELETE /admins/{id}/passkeys/{passkey}", a.removePasskey)
	a.handle("DELETE /admins/{id}/second-factors", a.resetSecondFactors)
}

type passkeyJSON struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
}

func passkeyOf(pk admin.PasskeyInfo) passkeyJSON {
	out := passkeyJSON{ID: pk.ID, Name: pk.Name, Created: pk.Created.UTC()}
	if !pk.LastUsed.IsZero() {
		t := pk.LastUsed.UTC()
		out.LastUsed = &t
	}
	return out
}

func (a *API) listPasskeys(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pks, err := a.adm.AdminPasskeys(r.Context(), p, id)
	if err != nil {
		return err
	}
	items := make([]passkeyJSON, len(pks))
	for i, pk := range pks {
		items[i] = passkeyOf(pk)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (a *API) removePasskey(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pk, err := strconv.ParseInt(r.PathValue("passkey"), 10, 64)
	if err != nil || pk < 1 {
		return bad("passkey", "must be a positive number")
	}
	if err := a.adm.RemoveAdminPasskey(r.Context(), p, id, pk); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type factorResetJSON struct {
	TOTPRemoved     bool `json:"totp_removed"`
	PasskeysRemoved int  `json:"passkeys_removed"`
}

func (a *API) resetSecondFactors(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := a.adm.ResetSecondFactors(r.Context(), p, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, factorResetJSON{TOTPRemoved: res.TOTP, PasskeysRemoved: res.Passkeys})
}
