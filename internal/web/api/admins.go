package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// Administrators of the token's subtree, and one-time sign-in links for
// users.
func (a *API) registerAdmins() {
	a.handle("GET /admins", listAll(a.adm.Admins, func(x admin.AdminInfo) int64 { return x.ID }, adminOf), "limit", "cursor")
	a.handle("POST /admins", addOne(a.addAdmin, func(x admin.AdminInfo) string { return "/admins/" + strconv.FormatInt(x.ID, 10) }, adminOf))
	a.handle("GET /admins/{id}", getOne(pathID, a.adm.Admin, adminOf))
	a.handle("DELETE /admins/{id}", removeOne(pathID, a.adm.RemoveAdmin))
	a.handle("POST /addresses/{address}/signin-link", a.signInLink)
	a.handle("POST /addresses/{address}/signin-link/send", a.sendSignInLink)
}

type adminJSON struct {
	ID          int64     `json:"id"`
	Email       string    `json:"email"`
	Role        string    `json:"role"`
	ScopeID     int64     `json:"scope_id"`
	TOTPEnabled bool      `json:"totp_enabled"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
}

func adminOf(i admin.AdminInfo) adminJSON {
	return adminJSON{ID: i.ID, Email: i.Email, Role: string(i.Role), ScopeID: i.ScopeID, TOTPEnabled: i.TOTPEnabled,
		Disabled: i.Disabled, CreatedAt: i.CreatedAt.UTC()}
}

type adminBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     string `json:"role"`
	ScopeID  int64  `json:"scope_id"`
}

func (a *API) addAdmin(ctx context.Context, p admin.Principal, b adminBody) (admin.AdminInfo, error) {
	return a.adm.AddAdmin(ctx, p, b.Email, b.Password, store.Role(b.Role), b.ScopeID)
}

type signInLinkJSON struct {
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// signInLinkPath is the webmail's one-time sign-in (the console's links
// point there too).
const signInLinkPath = "/login/link?token="

// signInLink makes a one-time sign-in link for a user; the caller sends
// it to the user's alternate address. It is shown once.
func (a *API) signInLink(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	token, expires, err := a.adm.CreateSignInLink(r.Context(), p, r.PathValue("address"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, signInLinkJSON{URL: a.adm.LinkBase(r.Host) + signInLinkPath + url.QueryEscape(token),
		Token: token, ExpiresAt: expires.UTC()})
}

type sendLinkBody struct {
	To string `json:"to"`
}

type sentLinkJSON struct {
	SentTo    string    `json:"sent_to"`
	ExpiresAt time.Time `json:"expires_at"`
}

// sendSignInLink mails a one-time sign-in link to the user's alternate
// address through the outbound queue; the caller learns where it went,
// not the link.
func (a *API) sendSignInLink(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	var b sendLinkBody
	if err := decode(r, &b); err != nil {
		return err
	}
	base := a.adm.LinkBase(r.Host)
	sent, err := a.adm.SendSignInLink(r.Context(), p, r.PathValue("address"), b.To, func(token string) string {
		return base + signInLinkPath + url.QueryEscape(token)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, sentLinkJSON{SentTo: sent.To, ExpiresAt: sent.Expires.UTC()})
}
