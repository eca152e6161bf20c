package api

import (
	"cmp"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// register makes the routes; after its handler, each names the query
// parameters it takes (API.route): any other is refused.
func (a *API) register() {
	a.handle("GET /me", a.me)
	a.handle("GET /resellers", listAll(a.adm.Resellers, func(x store.Reseller) int64 { return x.ID }, resellerOf), "limit", "cursor")
	a.handle("POST /resellers", addOne(a.addReseller, func(x store.Reseller) string { return "/resellers/" + strconv.FormatInt(x.ID, 10) }, resellerOf))
	a.handle("GET /resellers/{id}", getOne(pathID, a.adm.Reseller, resellerOf))
	a.handle("DELETE /resellers/{id}", removeOne(pathID, a.adm.RemoveReseller))
	a.handle("GET /customers", listAll(a.adm.Customers, func(x store.Customer) int64 { return x.ID }, customerOf), "limit", "cursor")
	a.handle("POST /customers", addOne(a.addCustomer, func(x store.Customer) string { return "/customers/" + strconv.FormatInt(x.ID, 10) }, customerOf))
	a.handle("GET /customers/{id}", getOne(pathID, a.adm.Customer, customerOf))
	a.handle("DELETE /customers/{id}", removeOne(pathID, a.adm.RemoveCustomer))
	a.handle("GET /domains", a.listDomains, "limit", "cursor", "customer_id")
	a.handle("POST /domains", addOne(a.addDomain, func(x store.Domain) string { return "/domains/" + x.Name }, domainOf))
	a.handle("GET /domains/{name}", getOne(byName("name"), a.adm.Domain, domainOf))
	a.handle("PATCH /domains/{name}", a.patchDomain)
	a.handle("DELETE /domains/{name}", removeOne(byName("name"), a.adm.RemoveDomain))
	a.handle("GET /addresses", a.listAddresses, "limit", "cursor", "domain", "search")
	a.handle("POST /addresses", addOne(a.addAddress, func(x store.Account) string { return "/addresses/" + x.Address }, addressOf))
	a.handle("GET /addresses/{address}", getOne(byName("address"), a.adm.Address, addressOf))
	a.handle("PATCH /addresses/{address}", a.patchAddress)
	a.handle("DELETE /addresses/{address}", removeOne(byName("address"), a.adm.RemoveAddress))
	a.handle("GET /log", a.searchLog, "limit", "cursor", "address", "message_id", "subject", "status", "since", "until")
	a.handle("GET /audit", a.searchAudit, "limit", "cursor", "actor", "action", "object", "since", "until")
	a.handle("GET /tokens", listAll(a.adm.Tokens, func(x admin.TokenInfo) int64 { return x.ID }, tokenOf), "limit", "cursor")
	a.handle("POST /tokens", a.createToken)
	a.handle("DELETE /tokens/{id}", removeOne(pathID, a.adm.RevokeToken))
	a.registerMessages()
	a.registerReports()
	a.registerAdmins()
	a.registerPasskeys()
	a.registerImport()
}

// --- representations

type meJSON struct {
	AdminID int64  `json:"admin_id"`
	Email   string `json:"email"`
	Role    string `json:"role"`
	ScopeID int64  `json:"scope_id"`
}

type resellerJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type customerJSON struct {
	ID         int64     `json:"id"`
	ResellerID int64     `json:"reseller_id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
}

type domainJSON struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	CustomerID    int64    `json:"customer_id"`
	RetentionDays int      `json:"retention_days"`
	WholeDomain   bool     `json:"whole_domain"`
	AllowedIPs    []string `json:"allowed_ips"`
	RelayHost     string   `json:"relay_host"`
	// ContinuityOnly: no relay leg for the domain's protected recipients.
	ContinuityOnly bool `json:"continuity_only"`
	// RecipientDelimiter: the characters that separate a sub-address's
	// tag (RFC 5233); "" for none.
	RecipientDelimiter string `json:"recipient_delimiter"`
	// DisplayName is Name in U-labels, as people read it (the same for
	// an ASCII name); Name is what DNS and the API's paths take.
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

type addressJSON struct {
	ID          int64     `json:"id"`
	Address     string    `json:"address"`
	DomainID    int64     `json:"domain_id"`
	Enabled     bool      `json:"enabled"`
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
}

type tokenJSON struct {
	ID         int64      `json:"id"`
	AdminID    int64      `json:"admin_id"`
	AdminEmail string     `json:"admin_email"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsed   *time.Time `json:"last_used"`
	Revoked    bool       `json:"revoked"`
	// Token is the secret, in the creation's answer only.
	Token string `json:"token,omitempty"`
}

func resellerOf(r store.Reseller) resellerJSON {
	return resellerJSON{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}

func customerOf(c store.Customer) customerJSON {
	return customerJSON{ID: c.ID, ResellerID: c.ResellerID, Name: c.Name, CreatedAt: c.CreatedAt.UTC()}
}

func domainOf(d store.Domain) domainJSON {
	ips := d.AllowedIPs
	if ips == nil {
		ips = []string{}
	}
	return domainJSON{ID: d.ID, Name: d.Name, CustomerID: d.CustomerID, RetentionDays: d.RetentionDays,
		WholeDomain: d.WholeDomain, AllowedIPs: ips, RelayHost: d.RelayHost, ContinuityOnly: d.ContinuityOnly,
		RecipientDelimiter: d.RecipientDelimiter, DisplayName: d.DisplayName(), CreatedAt: d.CreatedAt.UTC()}
}

func addressOf(a store.Account) addressJSON {
	return addressJSON{ID: a.ID, Address: a.Address, DomainID: a.DomainID, Enabled: a.Enabled,
		HasPassword: a.PasswordHash != "", CreatedAt: a.CreatedAt.UTC()}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func tokenOf(t admin.TokenInfo) tokenJSON {
	return tokenJSON{ID: t.ID, AdminID: t.AdminID, AdminEmail: t.AdminEmail, Name: t.Name, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: timePtr(t.ExpiresAt), LastUsed: timePtr(t.LastUsed), Revoked: t.Revoked}
}

// --- paging

const maxLimit = 1000

// limit reads ?limit= (default 100, 1 to 1000).
func limit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, bad("limit", "must be a number from 1 to %d", maxLimit)
	}
	return n, nil
}

// lookAhead is how many items to ask for to learn whether a page of n
// has a next one: one more, within the admin package's cap of 1000.
func lookAhead(n int) int { return min(n+1, maxLimit) }

// more says whether a page of n has a next one, given got items for a
// lookAhead(n) request: a full page at the cap may have one.
func more(got, n int) bool { return got > n || (n == maxLimit && got == n) }

// pageOf is the page of the first n of got, a lookAhead(n) answer, each
// as show shows it; when there are more, its next cursor is cursor of
// the last one shown.
func pageOf[T, J any](got []T, n int, show func(T) J, cursor func(T) string) page[J] {
	out := page[J]{Items: make([]J, 0, min(len(got), n))}
	for _, it := range got[:min(len(got), n)] {
		out.Items = append(out.Items, show(it))
	}
	if more(len(got), n) {
		out.Next = encodeCursor(cursor(got[n-1]))
	}
	return out
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(r *http.Request) (string, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", bad("cursor", "not a cursor of this list")
	}
	return string(b), nil
}

// idCursor reads the ?cursor= of a list paged by id: the id it carries,
// 0 without one.
func idCursor(r *http.Request) (int64, error) {
	c, err := decodeCursor(r)
	if err != nil || c == "" {
		return 0, err
	}
	id, err := strconv.ParseInt(c, 10, 64)
	if err != nil {
		return 0, bad("cursor", "not a cursor of this list")
	}
	return id, nil
}

// pageByID pages a short list that the admin package returns whole,
// ordered by id; the cursor is the last id of the previous page.
func pageByID[T any, J any](r *http.Request, items []T, id func(T) int64, conv func(T) J) (page[J], error) {
	n, err := limit(r)
	if err != nil {
		return page[J]{}, err
	}
	after, err := idCursor(r)
	if err != nil {
		return page[J]{}, err
	}
	slices.SortFunc(items, func(a, b T) int { return cmp.Compare(id(a), id(b)) })
	out := page[J]{Items: []J{}}
	var last int64
	for _, it := range items {
		if id(it) <= after {
			continue
		}
		if len(out.Items) == n {
			out.Next = encodeCursor(strconv.FormatInt(last, 10))
			break
		}
		out.Items = append(out.Items, conv(it))
		last = id(it)
	}
	return out, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, bad("id", "must be a positive number")
	}
	return id, nil
}

func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, bad(name, "must be a number")
	}
	return n, nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, bad(name, "must be a date-time like 2026-12-05T10:00:00Z")
	}
	return t, nil
}

// queryRange reads a search's ?since= and ?until= (queryTime).
func queryRange(r *http.Request) (since, until time.Time, err error) {
	if since, err = queryTime(r, "since"); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if until, err = queryTime(r, "until"); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return since, until, nil
}

// --- handlers

func (a *API) me(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	return writeJSON(w, http.StatusOK, meJSON{AdminID: p.AdminID, Email: p.Email, Role: string(p.Role), ScopeID: p.ScopeID})
}

type nameBody struct {
	Name string `json:"name"`
}

func (a *API) addReseller(ctx context.Context, p admin.Principal, b nameBody) (store.Reseller, error) {
	return a.adm.AddReseller(ctx, p, b.Name)
}

type customerBody struct {
	Name       string `json:"name"`
	ResellerID int64  `json:"reseller_id"`
}

func (a *API) addCustomer(ctx context.Context, p admin.Principal, b customerBody) (store.Customer, error) {
	return a.adm.AddCustomer(ctx, p, b.ResellerID, b.Name)
}

func (a *API) listDomains(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	cid, err := queryInt(r, "customer_id")
	if err != nil {
		return err
	}
	ds, err := a.adm.Domains(r.Context(), p, cid)
	if err != nil {
		return err
	}
	pg, err := pageByID(r, ds, func(x store.Domain) int64 { return x.ID }, domainOf)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pg)
}

type domainBody struct {
	Name          string `json:"name"`
	CustomerID    int64  `json:"customer_id"`
	RetentionDays int    `json:"retention_days"`
}

func (a *API) addDomain(ctx context.Context, p admin.Principal, b domainBody) (store.Domain, error) {
	return a.adm.AddDomain(ctx, p, b.CustomerID, b.Name, b.RetentionDays)
}

// domainPatch changes the fields it names and leaves the others.
type domainPatch struct {
	RetentionDays  *int      `json:"retention_days"`
	WholeDomain    *bool     `json:"whole_domain"`
	AllowedIPs     *[]string `json:"allowed_ips"`
	RelayHost      *string   `json:"relay_host"`
	ContinuityOnly *bool     `json:"continuity_only"`
	// RecipientDelimiter: "" turns sub-addresses off.
	RecipientDelimiter *string `json:"recipient_delimiter"`
}

func (a *API) patchDomain(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	var b domainPatch
	if err := decode(r, &b); err != nil {
		return err
	}
	name := r.PathValue("name")
	d, err := a.adm.Domain(r.Context(), p, name)
	if err != nil {
		return err
	}
	set := d.Settings()
	if b.RetentionDays != nil {
		set.RetentionDays = *b.RetentionDays
	}
	if b.WholeDomain != nil {
		set.WholeDomain = *b.WholeDomain
	}
	if b.AllowedIPs != nil {
		set.AllowedIPs = *b.AllowedIPs
	}
	if b.RelayHost != nil {
		set.RelayHost = *b.RelayHost
	}
	if b.ContinuityOnly != nil {
		set.ContinuityOnly = *b.ContinuityOnly
	}
	if b.RecipientDelimiter != nil {
		set.RecipientDelimiter = *b.RecipientDelimiter
	}
	if err := a.adm.SetDomainSettings(r.Context(), p, name, set); err != nil {
		return err
	}
	if d, err = a.adm.Domain(r.Context(), p, name); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, domainOf(d))
}

func (a *API) listAddresses(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	n, err := limit(r)
	if err != nil {
		return err
	}
	after, err := decodeCursor(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	as, err := a.adm.Addresses(r.Context(), p, store.AccountQuery{Domain: q.Get("domain"), Search: q.Get("search"), After: after, Limit: lookAhead(n)})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(as, n, addressOf, func(a store.Account) string { return a.Address }))
}

type addressBody struct {
	Address  string `json:"address"`
	Password string `json:"password"`
	Enabled  *bool  `json:"enabled"`
}

// addAddress enables the address unless the body says otherwise.
func (a *API) addAddress(ctx context.Context, p admin.Principal, b addressBody) (store.Account, error) {
	return a.adm.AddAddress(ctx, p, b.Address, b.Password, b.Enabled == nil || *b.Enabled)
}

type addressPatch struct {
	Enabled  *bool   `json:"enabled"`
	Password *string `json:"password"`
}

func (a *API) patchAddress(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	var b addressPatch
	if err := decode(r, &b); err != nil {
		return err
	}
	addr := r.PathValue("address")
	if _, err := a.adm.Address(r.Context(), p, addr); err != nil {
		return err
	}
	if b.Password != nil {
		if err := a.adm.SetPassword(r.Context(), p, addr, *b.Password); err != nil {
			return err
		}
	}
	if b.Enabled != nil {
		if err := a.adm.SetAddressEnabled(r.Context(), p, addr, *b.Enabled); err != nil {
			return err
		}
	}
	acc, err := a.adm.Address(r.Context(), p, addr)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, addressOf(acc))
}

func (a *API) searchLog(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	n, err := limit(r)
	if err != nil {
		return err
	}
	since, until, err := queryRange(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pg, err := a.adm.SearchLog(r.Context(), p, admin.LogSearch{Address: q.Get("address"), MessageID: q.Get("message_id"),
		Subject: q.Get("subject"), Status: store.LogStatus(q.Get("status")), Since: since, Until: until,
		Cursor: q.Get("cursor"), Limit: n})
	if err != nil {
		return err
	}
	out := page[store.LogEvent]{Items: pg.Events, Next: pg.Next}
	if out.Items == nil {
		out.Items = []store.LogEvent{}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) searchAudit(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	n, err := limit(r)
	if err != nil {
		return err
	}
	before, err := idCursor(r)
	if err != nil {
		return err
	}
	since, until, err := queryRange(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	recs, err := a.adm.SearchAudit(r.Context(), p, store.AuditQuery{Actor: q.Get("actor"), Action: q.Get("action"),
		Object: q.Get("object"), Since: since, Until: until, BeforeID: before, Limit: lookAhead(n)})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(recs, n, func(r store.AuditRecord) store.AuditRecord { return r },
		func(r store.AuditRecord) string { return strconv.FormatInt(r.ID, 10) }))
}

type tokenBody struct {
	Name    string     `json:"name"`
	AdminID int64      `json:"admin_id"`
	Expires *time.Time `json:"expires_at"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	var b tokenBody
	if err := decode(r, &b); err != nil {
		return err
	}
	var exp time.Time
	if b.Expires != nil {
		exp = *b.Expires
	}
	secret, info, err := a.adm.CreateToken(r.Context(), p, b.AdminID, b.Name, exp)
	if err != nil {
		return err
	}
	out := tokenOf(info)
	out.Token = secret
	return writeJSON(w, http.StatusCreated, out)
}
