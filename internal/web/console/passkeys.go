package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// Passkeys: the ceremonies run in the browser (static/passkey.js, our
// own few lines over the browser's WebAuthn JSON helpers, under the
// strict CSP), which posts JSON here; the checks and the state are
// admin's (admin/passkeys.go). The JSON endpoints answer
// {"error": "..."} with a status when refused.

// maxWebAuthnBody bounds a ceremony's response: an attestation with a
// certificate chain is a few KiB.
const maxWebAuthnBody = 64 << 10

// pageOrigin is the origin of the page that made the request, as the
// browser put it in the ceremony's client data: the console is served
// over HTTPS only. admin refuses a host that is not the relying party's.
func pageOrigin(r *http.Request) string { return "https://" + r.Host }

// readJSON reads a request's JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebAuthnBody))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		jsonAnswer(w, http.StatusBadRequest, map[string]string{"error": "The browser's answer could not be read."})
		return false
	}
	return true
}

func jsonAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonFail answers a refused ceremony step, logging what is not the
// user's doing.
func (a *app) jsonFail(w http.ResponseWriter, r *http.Request, p admin.Principal, doing string, err error) {
	var fe *admin.FieldError
	status, msg := http.StatusInternalServerError, "Something went wrong; it has been logged. Try again."
	switch {
	case errors.Is(err, auth.ErrThrottled):
		status, msg = http.StatusTooManyRequests, "Too many tries. Sign in again in a few minutes."
	case errors.Is(err, admin.ErrExpired):
		status, msg = http.StatusConflict, "That took too long. Start again."
	case errors.As(err, &fe):
		status, msg = http.StatusBadRequest, fe.Msg
	case errors.Is(err, admin.ErrUnauthenticated):
		status, msg = http.StatusUnauthorized, "That passkey was not accepted."
	case errors.Is(err, admin.ErrForbidden):
		status, msg = http.StatusForbidden, "There is no passkey to use here."
	case errors.Is(err, store.ErrExists):
		status, msg = http.StatusConflict, "That passkey is registered already."
	}
	if status == http.StatusInternalServerError {
		a.log.Error("console: "+doing, "admin", p.String(), "err", err)
	} else {
		a.log.Info("console: "+doing+" refused", "admin", p.String(), "err", err)
	}
	jsonAnswer(w, status, map[string]string{"error": msg})
}

// passkeySignInBegin gives a pending sign-in's browser the options of a
// passkey assertion.
func (a *app) passkeySignInBegin(w http.ResponseWriter, r *http.Request) {
	opts, err := a.ops.BeginPasskeySignIn(r.Context(), pendingID(r), pageOrigin(r))
	if err != nil {
		if errors.Is(err, admin.ErrExpired) {
			dropPending(w)
		}
		a.jsonFail(w, r, admin.Principal{}, "begin passkey sign-in", err)
		return
	}
	jsonAnswer(w, http.StatusOK, map[string]json.RawMessage{"publicKey": opts})
}

// passkeySignIn ends a pending sign-in with the assertion: a session,
// and where to go.
func (a *app) passkeySignIn(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Credential json.RawMessage `json:"credential"`
		Next       string          `json:"next"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	p, err := a.ops.SignInPasskey(r.Context(), pendingID(r), pageOrigin(r), req.Credential, web.RemoteIP(r))
	if err != nil {
		if errors.Is(err, admin.ErrExpired) {
			dropPending(w)
		}
		a.jsonFail(w, r, p, "passkey sign-in", err)
		return
	}
	if err := a.startSession(w, r, p); err != nil {
		a.jsonFail(w, r, p, "start session", err)
		return
	}
	jsonAnswer(w, http.StatusOK, map[string]string{"redirect": safeNext(req.Next)})
}

// passkeyBegin starts a signed-in administrator's passkey registration.
func (a *app) passkeyBegin(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, opts, err := a.ops.BeginPasskey(r.Context(), p, pageOrigin(r))
	if err != nil {
		a.jsonFail(w, r, p, "begin passkey registration", err)
		return
	}
	jsonAnswer(w, http.StatusOK, map[string]any{"id": id, "publicKey": opts})
}

// passkeyAdd ends it with the created credential, under its name.
func (a *app) passkeyAdd(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var req struct {
		ID         string          `json:"id"`
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	pk, err := a.ops.FinishPasskey(r.Context(), p, req.ID, req.Name, pageOrigin(r), req.Credential)
	if err != nil {
		a.jsonFail(w, r, p, "register passkey", err)
		return
	}
	web.SetFlash(w, "Passkey “"+pk.Name+"” added: you can sign in with it instead of a code.")
	jsonAnswer(w, http.StatusOK, map[string]string{"redirect": "/console/account"})
}

func (a *app) passkeyRemove(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := a.ops.RemovePasskey(r.Context(), p, id); err != nil {
		a.fail(w, r, p, "remove passkey", err)
		return
	}
	a.done(w, r, "Passkey removed.", "/console/account")
}
