package console

import (
	"net/http"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

type resellersData struct {
	base
	CanCreate bool
	Resellers []store.Reseller
}

func (a *app) resellers(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.resellersPage(w, r, p, http.StatusOK, "")
}

func (a *app) resellersPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	rs, err := a.ops.Resellers(r.Context(), p)
	if err != nil {
		a.fail(w, r, p, "list resellers", err)
		return
	}
	a.render(w, r, p, status, "resellers", "Resellers", "/console/resellers",
		resellersData{base: base{Error: msg}, CanCreate: p.Can(admin.OpResellerAdd), Resellers: rs})
}

func (a *app) resellerAdd(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if _, err := a.ops.AddReseller(r.Context(), p, name); err != nil {
		a.failForm(w, r, p, "add reseller", err, func(msg string) { a.resellersPage(w, r, p, http.StatusBadRequest, msg) })
		return
	}
	a.done(w, r, "Reseller "+name+" added.", "/console/resellers")
}

func (a *app) resellerRemove(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := a.ops.RemoveReseller(r.Context(), p, id); err != nil {
		a.failForm(w, r, p, "remove reseller", err, func(msg string) { a.resellersPage(w, r, p, http.StatusConflict, msg) })
		return
	}
	a.done(w, r, "Reseller removed.", "/console/resellers")
}

type customersData struct {
	base
	CanCreate     bool
	UnderProvider bool // the provider may put a customer directly under itself
	Reseller      *store.Reseller
	ResellerID    int64
	Resellers     []store.Reseller
	ResellerNames map[int64]string
	Customers     []store.Customer
}

func (a *app) customers(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.customersPage(w, r, p, http.StatusOK, "")
}

func (a *app) customersPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	ctx := r.Context()
	if p.Role == store.RoleCustomer {
		// One customer: its page is the list.
		http.Redirect(w, r, "/console/customers/"+itoa(p.ScopeID), http.StatusSeeOther)
		return
	}
	cs, err := a.ops.Customers(ctx, p)
	if err != nil {
		a.fail(w, r, p, "list customers", err)
		return
	}
	rs, err := a.ops.Resellers(ctx, p)
	if err != nil {
		a.fail(w, r, p, "list resellers", err)
		return
	}
	d := customersData{base: base{Error: msg}, CanCreate: p.Can(admin.OpCustomerAdd), UnderProvider: p.Role == store.RoleProvider,
		Resellers: rs, ResellerNames: map[int64]string{0: "—"}}
	for _, rr := range rs {
		d.ResellerNames[rr.ID] = rr.Name
	}
	// ?reseller=ID narrows the list to one reseller's customers.
	if v := r.URL.Query().Get("reseller"); v != "" {
		id, ok := parseID(v)
		if !ok {
			a.fail(w, r, p, "customers of reseller", store.ErrNotFound)
			return
		}
		rr, err := a.ops.Reseller(ctx, p, id)
		if err != nil {
			a.fail(w, r, p, "reseller", err)
			return
		}
		d.Reseller, d.ResellerID = &rr, rr.ID
		for _, c := range cs {
			if c.ResellerID == id {
				d.Customers = append(d.Customers, c)
			}
		}
	} else {
		d.Customers = cs
	}
	a.render(w, r, p, status, "customers", "Customers", "/console/customers", d)
}

func (a *app) customerAdd(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	var resellerID int64
	if v := r.PostFormValue("reseller"); v != "" && v != "0" {
		id, ok := parseID(v)
		if !ok {
			a.fail(w, r, p, "add customer", store.ErrNotFound)
			return
		}
		resellerID = id
	} else if p.Role == store.RoleReseller {
		resellerID = p.ScopeID
	}
	c, err := a.ops.AddCustomer(r.Context(), p, resellerID, name)
	if err != nil {
		a.failForm(w, r, p, "add customer", err, func(msg string) { a.customersPage(w, r, p, http.StatusBadRequest, msg) })
		return
	}
	a.done(w, r, "Customer "+c.Name+" added.", "/console/customers/"+itoa(c.ID))
}

type customerData struct {
	base
	Customer store.Customer
	Reseller *store.Reseller
	Domains  []store.Domain
	CanAdd   bool
}

func (a *app) customer(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.customerPage(w, r, p, http.StatusOK, "")
}

func (a *app) customerPage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	c, err := a.ops.Customer(ctx, p, id)
	if err != nil {
		a.fail(w, r, p, "customer", err)
		return
	}
	doms, err := a.ops.Domains(ctx, p, c.ID)
	if err != nil {
		a.fail(w, r, p, "domains of customer", err)
		return
	}
	d := customerData{base: base{Error: msg}, Customer: c, Domains: doms, CanAdd: p.Can(admin.OpDomainAdd)}
	if c.ResellerID != 0 {
		if rr, err := a.ops.Reseller(ctx, p, c.ResellerID); err == nil {
			d.Reseller = &rr
		}
	}
	a.render(w, r, p, status, "customer", c.Name, "/console/customers", d)
}

func (a *app) customerRemove(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := a.ops.RemoveCustomer(r.Context(), p, id); err != nil {
		a.failForm(w, r, p, "remove customer", err, func(msg string) { a.customersPage(w, r, p, http.StatusConflict, msg) })
		return
	}
	a.done(w, r, "Customer removed.", "/console/customers")
}
