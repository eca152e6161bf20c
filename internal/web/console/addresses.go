package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// addressPage is how many addresses one page of the list shows.
const addressPage = 100

type addressesData struct {
	base
	Query, Domain string
	Domains       []store.Domain
	Accounts      []store.Account
	Next          string // cursor of the next page
}

func (a *app) addresses(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.addressesPage(w, r, p, http.StatusOK, "")
}

func (a *app) addressesPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	ctx := r.Context()
	q := r.URL.Query()
	d := addressesData{base: base{Error: msg}, Query: strings.TrimSpace(q.Get("q")), Domain: q.Get("domain")}
	var err error
	if d.Domains, err = a.ops.Domains(ctx, p, 0); err != nil {
		a.fail(w, r, p, "list domains", err)
		return
	}
	d.Accounts, err = a.ops.Addresses(ctx, p, store.AccountQuery{Domain: d.Domain, Search: d.Query, After: q.Get("after"), Limit: addressPage + 1})
	if err != nil {
		a.fail(w, r, p, "list addresses", err)
		return
	}
	if len(d.Accounts) > addressPage {
		d.Accounts = d.Accounts[:addressPage]
		d.Next = d.Accounts[addressPage-1].Address
	}
	a.render(w, r, p, status, "addresses", "Addresses", "/console/addresses", d)
}

func (a *app) addressAdd(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	acct, err := a.ops.AddAddress(r.Context(), p, r.PostFormValue("address"), "", r.PostFormValue("enabled") == "1")
	if err != nil {
		a.failForm(w, r, p, "add address", err, func(msg string) { a.addressesPage(w, r, p, http.StatusBadRequest, msg) })
		return
	}
	a.done(w, r, acct.DisplayAddress()+" added.", "/console/addresses/"+acct.Address)
}

type generated struct{ Address, Password string }

type passwordsData struct {
	base
	Rows []generated
}

// addressBulk turns continuity on or off for the selected addresses, or
// generates their passwords (shown once).
func (a *app) addressBulk(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, p, "bulk form", err)
		return
	}
	addrs := r.PostForm["address"]
	if len(addrs) == 0 {
		a.done(w, r, "Select addresses first.", "/console/addresses")
		return
	}
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "enable", "disable":
		on := r.PostFormValue("action") == "enable"
		for _, err := range a.ops.SetAddressesEnabled(ctx, p, addrs, on) {
			if err != nil {
				a.fail(w, r, p, "bulk enable", err)
				return
			}
		}
		state := "off"
		if on {
			state = "on"
		}
		a.done(w, r, "Continuity "+state+" for "+plural(len(addrs), "address", "addresses")+".", "/console/addresses")
	case "generate":
		pws, err := a.ops.GeneratePasswords(ctx, p, addrs)
		if err != nil {
			a.fail(w, r, p, "generate passwords", err)
			return
		}
		d := passwordsData{}
		for _, g := range pws {
			if g.Err != nil {
				a.fail(w, r, p, "generate password for "+g.Address, g.Err)
				return
			}
			d.Rows = append(d.Rows, generated{g.Address, g.Password})
		}
		a.render(w, r, p, http.StatusOK, "passwords", "Generated passwords", "/console/addresses", d)
	default:
		web400(w, r, "Choose what to do with the selected addresses.")
	}
}

// passwordsCSV hands back the passwords just shown as a CSV file; the
// page posts them (they are kept nowhere on the server in clear).
func (a *app) passwordsCSV(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, p, "passwords form", err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="passwords.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := admin.NewCSVWriter(w)
	cw.Write([]string{"address", "password"})
	for _, row := range r.PostForm["row"] {
		addr, pw, ok := strings.Cut(row, ",")
		if ok {
			cw.Write([]string{addr, pw})
		}
	}
	cw.Flush()
}

type addressData struct {
	base
	Account     store.Account
	MinPassword int
	Generated   string
	LinkSentTo  string
	LinkExpires time.Time
}

func (a *app) address(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.addressPage(w, r, p, http.StatusOK, addressData{})
}

func (a *app) addressPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, d addressData) {
	acct, err := a.ops.Address(r.Context(), p, r.PathValue("address"))
	if err != nil {
		a.fail(w, r, p, "address", err)
		return
	}
	d.Account, d.MinPassword = acct, admin.MinPasswordLength
	a.render(w, r, p, status, "address", acct.DisplayAddress(), "/console/addresses", d)
}

func (a *app) addressEnabled(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	on := r.PostFormValue("enabled") == "1"
	addr := r.PathValue("address")
	if err := a.ops.SetAddressEnabled(r.Context(), p, addr, on); err != nil {
		a.fail(w, r, p, "set continuity", err)
		return
	}
	state := "off"
	if on {
		state = "on"
	}
	a.done(w, r, "Continuity is "+state+" for "+addr+".", "/console/addresses/"+addr)
}

func (a *app) addressPassword(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	addr := r.PathValue("address")
	ctx := r.Context()
	if r.PostFormValue("action") == "generate" {
		pws, err := a.ops.GeneratePasswords(ctx, p, []string{addr})
		if err != nil {
			a.fail(w, r, p, "generate password", err)
			return
		}
		if pws[0].Err != nil {
			a.fail(w, r, p, "generate password", pws[0].Err)
			return
		}
		a.addressPage(w, r, p, http.StatusOK, addressData{Generated: pws[0].Password})
		return
	}
	if err := a.ops.SetPassword(ctx, p, addr, r.PostFormValue("password")); err != nil {
		a.failForm(w, r, p, "set password", err, func(msg string) { a.addressPage(w, r, p, http.StatusBadRequest, addressData{base: base{Error: msg}}) })
		return
	}
	a.done(w, r, "Password set for "+addr+".", "/console/addresses/"+addr)
}

// addressLink mails a one-time sign-in link to the user's alternate
// address; the administrator sees where it went and until when, never
// the link.
func (a *app) addressLink(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	linkBase := a.ops.LinkBase(r.Host)
	sent, err := a.ops.SendSignInLink(r.Context(), p, r.PathValue("address"), r.PostFormValue("to"), func(token string) string {
		return linkBase + signInLinkPath + urlQuery(token)
	})
	if err != nil {
		var limit *admin.SignInLinkLimitError
		if errors.As(err, &limit) {
			w.Header().Set("Retry-After", limit.RetrySeconds())
			a.addressPage(w, r, p, http.StatusTooManyRequests, addressData{base: base{Error: limit.Explain()}})
			return
		}
		if errors.Is(err, admin.ErrNoSystemSender) {
			a.addressPage(w, r, p, http.StatusConflict, addressData{base: base{Error: "This service has no sender address for its own mail: set [web] system_sender in the configuration first."}})
			return
		}
		a.failForm(w, r, p, "send sign-in link", err, func(msg string) { a.addressPage(w, r, p, http.StatusBadRequest, addressData{base: base{Error: msg}}) })
		return
	}
	a.addressPage(w, r, p, http.StatusOK, addressData{LinkSentTo: sent.To, LinkExpires: sent.Expires})
}

func (a *app) addressRemove(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	addr := r.PathValue("address")
	if err := a.ops.RemoveAddress(r.Context(), p, addr); err != nil {
		a.fail(w, r, p, "remove address", err)
		return
	}
	a.done(w, r, addr+" and its mail removed.", "/console/addresses")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(int64(n)) + " " + many
}
