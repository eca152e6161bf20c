package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// scopeOption is one choice of the new administrator's role and scope:
// "provider", "reseller:ID", "customer:ID".
type scopeOption struct{ Value, Label string }

type adminsData struct {
	base
	Admins     []admin.AdminInfo
	ScopeNames map[int64]string // admin id → "customer admin of X"
	// Resettable: the admins whose second factors the viewer may reset
	// (admin.ResetSecondFactors: not themselves, not a peer).
	Resettable  map[int64]bool
	Scopes      []scopeOption
	MinPassword int
}

func (a *app) admins(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.adminsPage(w, r, p, http.StatusOK, "")
}

func (a *app) adminsPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	ctx := r.Context()
	as, err := a.ops.Admins(ctx, p)
	if err != nil {
		a.fail(w, r, p, "list admins", err)
		return
	}
	d := adminsData{base: base{Error: msg}, Admins: as, ScopeNames: map[int64]string{}, Resettable: map[int64]bool{}, MinPassword: admin.MinPasswordLength}
	resellers := map[int64]string{}
	customers := map[int64]string{}
	if p.Role == store.RoleProvider {
		d.Scopes = append(d.Scopes, scopeOption{"provider", "Provider administrator"})
	}
	if p.Can(admin.OpResellerList) {
		rs, err := a.ops.Resellers(ctx, p)
		if err != nil {
			a.fail(w, r, p, "list resellers", err)
			return
		}
		for _, rr := range rs {
			resellers[rr.ID] = rr.Name
			d.Scopes = append(d.Scopes, scopeOption{"reseller:" + itoa(rr.ID), "Reseller administrator of " + rr.Name})
		}
	}
	cs, err := a.ops.Customers(ctx, p)
	if err != nil {
		a.fail(w, r, p, "list customers", err)
		return
	}
	for _, c := range cs {
		customers[c.ID] = c.Name
		d.Scopes = append(d.Scopes, scopeOption{"customer:" + itoa(c.ID), "Customer administrator of " + c.Name})
	}
	for _, ad := range as {
		d.Resettable[ad.ID] = ad.ID != p.AdminID && (p.Role == store.RoleProvider || ad.Role != p.Role || ad.ScopeID != p.ScopeID)
		switch ad.Role {
		case store.RoleProvider:
			d.ScopeNames[ad.ID] = "provider"
		case store.RoleReseller:
			d.ScopeNames[ad.ID] = "reseller: " + resellers[ad.ScopeID]
		case store.RoleCustomer:
			d.ScopeNames[ad.ID] = "customer: " + customers[ad.ScopeID]
		}
	}
	a.render(w, r, p, status, "admins", "Administrators", "/console/admins", d)
}

// parseScope reads a scopeOption value.
func parseScope(v string) (store.Role, int64, bool) {
	if v == "provider" {
		return store.RoleProvider, 0, true
	}
	kind, id, ok := strings.Cut(v, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || n <= 0 {
		return "", 0, false
	}
	switch kind {
	case "reseller":
		return store.RoleReseller, n, true
	case "customer":
		return store.RoleCustomer, n, true
	}
	return "", 0, false
}

func (a *app) adminAdd(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	role, scopeID, ok := parseScope(r.PostFormValue("scope"))
	if !ok {
		a.adminsPage(w, r, p, http.StatusBadRequest, "Choose a role.")
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	if _, err := a.ops.AddAdmin(r.Context(), p, email, r.PostFormValue("password"), role, scopeID); err != nil {
		a.failForm(w, r, p, "add admin", err, func(msg string) { a.adminsPage(w, r, p, http.StatusBadRequest, msg) })
		return
	}
	a.done(w, r, "Administrator "+email+" added; they enrol their second factor at first sign-in.", "/console/admins")
}

func (a *app) adminDisabled(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	off := r.PostFormValue("disabled") == "1"
	if err := a.ops.SetAdminDisabled(r.Context(), p, id, off); err != nil {
		a.fail(w, r, p, "disable admin", err)
		return
	}
	a.done(w, r, "Administrator updated.", "/console/admins")
}

func (a *app) adminRemove(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := a.ops.RemoveAdmin(r.Context(), p, id); err != nil {
		a.fail(w, r, p, "remove admin", err)
		return
	}
	a.done(w, r, "Administrator removed.", "/console/admins")
}

type tokensData struct {
	base
	New    string // the token just created, shown once
	Tokens []admin.TokenInfo
}

func (a *app) tokens(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.tokensPage(w, r, p, http.StatusOK, tokensData{})
}

func (a *app) tokensPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, d tokensData) {
	ctx := r.Context()
	ts, err := a.ops.Tokens(ctx, p)
	if err != nil {
		a.fail(w, r, p, "list tokens", err)
		return
	}
	d.Tokens = ts
	a.render(w, r, p, status, "tokens", "API tokens", "/console/tokens", d)
}

func (a *app) tokenCreate(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || days < 0 || days > 3650 {
		a.tokensPage(w, r, p, http.StatusBadRequest, tokensData{base: base{Error: "Choose when the token expires."}})
		return
	}
	var expires time.Time
	if days > 0 {
		expires = a.now().AddDate(0, 0, days)
	}
	token, _, err := a.ops.CreateToken(r.Context(), p, 0, strings.TrimSpace(r.PostFormValue("name")), expires)
	if err != nil {
		a.failForm(w, r, p, "create token", err, func(msg string) { a.tokensPage(w, r, p, http.StatusBadRequest, tokensData{base: base{Error: msg}}) })
		return
	}
	// Shown in this response only: never stored in clear, never in a URL.
	a.tokensPage(w, r, p, http.StatusCreated, tokensData{New: token})
}

func (a *app) tokenRevoke(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := a.ops.RevokeToken(r.Context(), p, id); err != nil {
		a.fail(w, r, p, "revoke token", err)
		return
	}
	a.done(w, r, fmt.Sprintf("Token %d revoked.", id), "/console/tokens")
}
