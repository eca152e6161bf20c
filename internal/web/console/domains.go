package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

type domainsData struct {
	base
	Customers []store.Customer // where a new domain may go; empty: the role adds none
	Domains   []store.Domain
}

func (a *app) domains(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.domainsPage(w, r, p, http.StatusOK, "")
}

func (a *app) domainsPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	ctx := r.Context()
	doms, err := a.ops.Domains(ctx, p, 0)
	if err != nil {
		a.fail(w, r, p, "list domains", err)
		return
	}
	d := domainsData{base: base{Error: msg}, Domains: doms}
	if p.Can(admin.OpDomainAdd) {
		if d.Customers, err = a.ops.Customers(ctx, p); err != nil {
			a.fail(w, r, p, "list customers", err)
			return
		}
	}
	a.render(w, r, p, status, "domains", "Domains", "/console/domains", d)
}

func (a *app) domainAdd(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	customerID, ok := parseID(r.PostFormValue("customer"))
	if !ok {
		a.fail(w, r, p, "add domain", store.ErrNotFound)
		return
	}
	dom, err := a.ops.AddDomain(r.Context(), p, customerID, r.PostFormValue("name"), 0)
	if err != nil {
		a.failForm(w, r, p, "add domain", err, func(msg string) { a.domainsPage(w, r, p, http.StatusBadRequest, msg) })
		return
	}
	a.done(w, r, "Domain "+dom.DisplayName()+" added.", "/console/domains/"+dom.Name)
}

// dkimKey is a DKIM key on the domain page's card.
type dkimKey struct {
	admin.DKIM
	// A retired key's record may be removed now (RemoveNow), or after
	// RemoveAfter, RemoveIn from now ("in 6 days").
	RemoveNow bool
	RemoveIn  string
}

type domainData struct {
	base
	Domain      store.Domain
	Settings    store.DomainSettings
	AllowedText string
	DKIM        []dkimKey
	// Signing and Pending are the selectors of the domain's signing and
	// pending keys, "" without: the generate form says what becomes of
	// them.
	Signing, Pending string
	CheckMinutes     int // how often pending keys' records are looked up
	KeepDays         int // how long a retired key's record stays
	CanRemove        bool
}

func (a *app) domain(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.domainPage(w, r, p, http.StatusOK, "", nil)
}

// domainPage shows a domain; with form set, the settings as the user
// typed them (a refused save keeps what they wrote).
func (a *app) domainPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string, form *store.DomainSettings) {
	ctx := r.Context()
	dom, err := a.ops.Domain(ctx, p, r.PathValue("name"))
	if err != nil {
		a.fail(w, r, p, "domain", err)
		return
	}
	set := dom.Settings()
	if form != nil {
		set = *form
	}
	d := domainData{base: base{Error: msg}, Domain: dom, Settings: set, AllowedText: strings.Join(set.AllowedIPs, "\n"),
		CanRemove: p.Can(admin.OpDomainRemove)}
	keys, err := a.ops.DKIMKeys(ctx, p, dom.Name)
	if err != nil {
		a.fail(w, r, p, "DKIM keys", err)
		return
	}
	d.CheckMinutes, d.KeepDays = int(dkim.DefaultCheckEvery/time.Minute), int(dkim.RetiredRecordKeep/(24*time.Hour))
	now := a.now()
	for _, k := range keys {
		v := dkimKey{DKIM: k}
		switch k.State {
		case admin.DKIMSigning:
			d.Signing = k.Selector
		case admin.DKIMPending:
			d.Pending = k.Selector
		case admin.DKIMRetired:
			v.RemoveNow = !now.Before(k.RemoveAfter)
			v.RemoveIn = untilWords(now, k.RemoveAfter)
		}
		d.DKIM = append(d.DKIM, v)
	}
	a.render(w, r, p, status, "domain", dom.DisplayName(), "/console/domains", d)
}

func (a *app) domainSettings(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	set := store.DomainSettings{
		WholeDomain:    r.PostFormValue("whole") == "1",
		ContinuityOnly: r.PostFormValue("continuity_only") == "1",
		RelayHost:      strings.TrimSpace(r.PostFormValue("relay")),
		AllowedIPs:     strings.Fields(r.PostFormValue("allowed")),
		// Blanks are no delimiters: "+ -" is "+-".
		RecipientDelimiter: strings.Join(strings.Fields(r.PostFormValue("delimiter")), ""),
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("retention")))
	if err != nil {
		a.domainPage(w, r, p, http.StatusBadRequest, "The retention window is a number of days.", &set)
		return
	}
	set.RetentionDays = days
	if err := a.ops.SetDomainSettings(r.Context(), p, r.PathValue("name"), set); err != nil {
		a.failForm(w, r, p, "domain settings", err, func(msg string) { a.domainPage(w, r, p, http.StatusBadRequest, msg, &set) })
		return
	}
	a.done(w, r, "Settings saved.", "/console/domains/"+r.PathValue("name"))
}

func (a *app) domainDKIM(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if _, err := a.ops.GenerateDKIM(r.Context(), p, r.PathValue("name"), r.PostFormValue("algorithm"), ""); err != nil {
		a.failForm(w, r, p, "generate DKIM key", err, func(msg string) { a.domainPage(w, r, p, http.StatusBadRequest, msg, nil) })
		return
	}
	a.done(w, r, "New DKIM key made: publish its record. It signs once the record is seen in DNS.", "/console/domains/"+r.PathValue("name"))
}

// untilWords says how long from now t is, as a person would: "in 6
// days", "in 5 hours", "within 2 hours".
func untilWords(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d >= 36*time.Hour:
		return fmt.Sprintf("in %d days", (d+12*time.Hour)/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("in %d hours", (d+30*time.Minute)/time.Hour)
	}
	return "within 2 hours"
}

func (a *app) domainRemove(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if err := a.ops.RemoveDomain(r.Context(), p, r.PathValue("name")); err != nil {
		a.failForm(w, r, p, "remove domain", err, func(msg string) { a.domainPage(w, r, p, http.StatusConflict, msg, nil) })
		return
	}
	a.done(w, r, "Domain removed.", "/console/domains")
}
