package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/api"
)

// client calls the API over real HTTPS and checks every request and
// response against the OpenAPI document; it records which operations
// ran, so that a test can check that every one did.
type client struct {
	t      *testing.T
	base   string
	http   *http.Client
	router routers.Router
	mu     *sync.Mutex
	seen   map[string]bool // operationId
	token  string
}

func newClient(t *testing.T, srv *testserver.Server) *client {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.Web + api.Prefix}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: srv.Web, http: srv.HTTPClient(), router: router, mu: &sync.Mutex{}, seen: map[string]bool{}}
}

// as returns a client that sends token.
func (c *client) as(token string) *client {
	cc := *c
	cc.token = token
	return &cc
}

// do sends a request (body marshalled to JSON unless it is a string),
// validates both sides, and returns the status and the decoded body.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	st, _, m := c.send(method, path, "application/json", body)
	return st, m
}

// send is do with the body's content type, returning the raw body too.
func (c *client) send(method, path, contentType string, body any) (int, []byte, map[string]any) {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.base+api.Prefix+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: not in the OpenAPI document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}}
	// Requests that are bad on purpose (a 400 test) may break the
	// document's schema: only well-formed ones are checked.
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if reqErr != nil && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnsupportedMediaType {
		c.t.Errorf("%s %s: the request breaks the document (%v) but was answered %s", method, path, reqErr, resp.Status)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: in.Options}
	out.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s → %s: the response breaks the document: %v\n%s", method, path, resp.Status, err, data)
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID] = true
	c.mu.Unlock()
	var m map[string]any
	if len(data) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Errorf("%s %s: body is not a JSON object: %v\n%s", method, path, err, data)
		}
	}
	return resp.StatusCode, data, m
}

// want calls do and fails unless the status is want.
func (c *client) want(status int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, m := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: %d %v, want %d", method, path, got, m, status)
	}
	return m
}

// world is a provider, two resellers, three customers with a domain and
// an address each, and an admin with a token at every level.
type world struct {
	srv              *testserver.Server
	adm              *admin.Service
	c                *client
	provider         string // tokens
	r1, r2           string
	c1, c2, c3       string
	r1ID, r2ID       int64
	c1ID, c2ID, c3ID int64
	c1Admin          int64
	tokenC1, tokenC2 int64
}

var cheap = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newWorld(t *testing.T) *world { return newWorldWith(t, nil) }

// newWorldWith is newWorld with the service's configuration adjusted.
func newWorldWith(t *testing.T, configure func(*config.Config)) *world {
	t.Helper()
	return newWorldOn(t, configure, nil)
}

// newWorldOn is newWorldWith on the service clock clk (nil: the system's).
func newWorldOn(t *testing.T, configure func(*config.Config), clk clock.Clock) *world {
	t.Helper()
	ctx := context.Background()
	srv := testserver.Start(t, testserver.Options{Configure: configure, Clock: clk})
	h, err := auth.NewHasher(cheap, 0)
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(srv.Store, admin.Options{Hasher: h})
	w := &world{srv: srv, adm: adm, c: newClient(t, srv)}
	mustToken := func(adminID int64, name string) (string, int64) {
		t.Helper()
		tok, info, err := adm.CreateToken(ctx, admin.CLI(), adminID, name, time.Time{})
		if err != nil {
			t.Fatalf("token for admin %d: %v", adminID, err)
		}
		return tok, info.ID
	}
	mustAdmin := func(email string, role store.Role, scope int64) int64 {
		t.Helper()
		a, err := adm.AddAdmin(ctx, admin.CLI(), email, "admin password 1", role, scope)
		if err != nil {
			t.Fatalf("add admin %s: %v", email, err)
		}
		return a.ID
	}
	w.provider, _ = mustToken(mustAdmin("root@provider.test", store.RoleProvider, 0), "root")
	p := w.c.as(w.provider)
	w.r1ID = int64(p.want(201, "POST", "/resellers", map[string]any{"name": "Reseller One"})["id"].(float64))
	w.r2ID = int64(p.want(201, "POST", "/resellers", map[string]any{"name": "Reseller Two"})["id"].(float64))
	w.r1, _ = mustToken(mustAdmin("r1@resellers.test", store.RoleReseller, w.r1ID), "r1")
	w.r2, _ = mustToken(mustAdmin("r2@resellers.test", store.RoleReseller, w.r2ID), "r2")
	// Customers: C1 and C2 under reseller one (C2 made by its admin),
	// C3 under reseller two.
	w.c1ID = int64(p.want(201, "POST", "/customers", map[string]any{"name": "Customer One", "reseller_id": w.r1ID})["id"].(float64))
	w.c2ID = int64(w.c.as(w.r1).want(201, "POST", "/customers", map[string]any{"name": "Customer Two"})["id"].(float64))
	w.c3ID = int64(w.c.as(w.r2).want(201, "POST", "/customers", map[string]any{"name": "Customer Three"})["id"].(float64))
	w.c1Admin = mustAdmin("c1@one.test", store.RoleCustomer, w.c1ID)
	w.c1, w.tokenC1 = mustToken(w.c1Admin, "c1")
	w.c2, w.tokenC2 = mustToken(mustAdmin("c2@two.test", store.RoleCustomer, w.c2ID), "c2")
	w.c3, _ = mustToken(mustAdmin("c3@three.test", store.RoleCustomer, w.c3ID), "c3")
	for i, d := range []struct {
		name string
		cid  int64
	}{{"one.test", w.c1ID}, {"two.test", w.c2ID}, {"three.test", w.c3ID}} {
		p.want(201, "POST", "/domains", map[string]any{"name": d.name, "customer_id": d.cid, "retention_days": 30 + i})
	}
	w.c.as(w.c1).want(201, "POST", "/addresses", map[string]any{"address": "alice@one.test", "password": "alice password 1"})
	w.c.as(w.c2).want(201, "POST", "/addresses", map[string]any{"address": "bob@two.test", "enabled": false})
	w.c.as(w.c3).want(201, "POST", "/addresses", map[string]any{"address": "carol@three.test"})
	// Log records for each domain.
	for _, a := range []string{"alice@one.test", "bob@two.test", "carol@three.test"} {
		acc, err := srv.Store.Account(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Store.AppendLog(ctx, store.LogEvent{Time: time.Now(), Status: msglog.Stored, MessageID: "m-" + a,
			Subject: "hello " + a, MailFrom: "x@outside.test", Rcpt: a, DomainID: acc.DomainID}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestEveryRouteAgainstOpenAPI drives every route over HTTP, checks each
// request and response against the document, and fails when the API has
// a route the document lacks or the document one the API lacks, or when
// an operation of the document was never exercised.
func TestEveryRouteAgainstOpenAPI(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	c1 := w.c.as(w.c1)

	me := c1.want(200, "GET", "/me", nil)
	if me["email"] != "c1@one.test" || me["role"] != "customer" || int64(me["scope_id"].(float64)) != w.c1ID {
		t.Errorf("me: %v", me)
	}
	w.c.want(200, "GET", "/openapi.json", nil)

	// Resellers.
	page := p.want(200, "GET", "/resellers", nil)
	if n := len(page["items"].([]any)); n != 2 {
		t.Errorf("provider sees %d resellers", n)
	}
	p.want(200, "GET", fmt.Sprintf("/resellers/%d", w.r1ID), nil)
	r3 := int64(p.want(201, "POST", "/resellers", map[string]any{"name": "Reseller Three"})["id"].(float64))
	p.want(204, "DELETE", fmt.Sprintf("/resellers/%d", r3), nil)
	p.want(404, "GET", fmt.Sprintf("/resellers/%d", r3), nil)

	// Customers.
	if n := len(w.c.as(w.r1).want(200, "GET", "/customers", nil)["items"].([]any)); n != 2 {
		t.Errorf("reseller one sees %d customers, want 2", n)
	}
	p.want(200, "GET", fmt.Sprintf("/customers/%d", w.c1ID), nil)
	c4 := int64(p.want(201, "POST", "/customers", map[string]any{"name": "Customer Four"})["id"].(float64))
	p.want(204, "DELETE", fmt.Sprintf("/customers/%d", c4), nil)
	// Not empty: it has a domain.
	p.want(409, "DELETE", fmt.Sprintf("/customers/%d", w.c1ID), nil)

	// Domains.
	d := c1.want(200, "GET", "/domains/one.test", nil)
	if d["retention_days"].(float64) != 30 || d["whole_domain"] != false {
		t.Errorf("domain: %v", d)
	}
	if n := len(p.want(200, "GET", fmt.Sprintf("/domains?customer_id=%d", w.c1ID), nil)["items"].([]any)); n != 1 {
		t.Errorf("customer one's domains: %d", n)
	}
	d = p.want(200, "PATCH", "/domains/one.test", map[string]any{"whole_domain": true, "allowed_ips": []string{"192.0.2.0/24"}})
	if d["retention_days"].(float64) != 30 || d["whole_domain"] != true || len(d["allowed_ips"].([]any)) != 1 || d["continuity_only"] != false {
		t.Errorf("patched domain: %v", d)
	}
	// A PATCH of continuity_only keeps the fields it does not name.
	d = p.want(200, "PATCH", "/domains/one.test", map[string]any{"continuity_only": true})
	if d["continuity_only"] != true || d["whole_domain"] != true || len(d["allowed_ips"].([]any)) != 1 {
		t.Errorf("domain after continuity_only: %v", d)
	}
	p.want(201, "POST", "/domains", map[string]any{"name": "spare.test"})
	p.want(204, "DELETE", "/domains/spare.test", nil)

	// Addresses.
	a := c1.want(200, "GET", "/addresses/alice@one.test", nil)
	if a["enabled"] != true || a["has_password"] != true {
		t.Errorf("address: %v", a)
	}
	a = c1.want(200, "PATCH", "/addresses/alice@one.test", map[string]any{"enabled": false, "password": "a new password 2"})
	if a["enabled"] != false {
		t.Errorf("patched address: %v", a)
	}
	c1.want(201, "POST", "/addresses", map[string]any{"address": "temp@one.test"})
	if n := len(c1.want(200, "GET", "/addresses?domain=one.test", nil)["items"].([]any)); n != 2 {
		t.Errorf("addresses of one.test: %d", n)
	}
	c1.want(204, "DELETE", "/addresses/temp@one.test", nil)

	// Log and audit.
	lg := c1.want(200, "GET", "/log?address=alice@one.test", nil)
	if items := lg["items"].([]any); len(items) != 1 || items[0].(map[string]any)["message_id"] != "m-alice@one.test" {
		t.Errorf("log: %v", lg)
	}
	au := c1.want(200, "GET", "/audit?limit=5", nil)
	if len(au["items"].([]any)) == 0 {
		t.Errorf("customer one's audit log is empty")
	}

	// Tokens: create (shown once), list (never the secret), revoke.
	tk := c1.want(201, "POST", "/tokens", map[string]any{"name": "script", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	secret, _ := tk["token"].(string)
	if !strings.HasPrefix(secret, "xtm_") {
		t.Fatalf("new token: %v", tk)
	}
	list := c1.want(200, "GET", "/tokens", nil)
	for _, it := range list["items"].([]any) {
		if _, ok := it.(map[string]any)["token"]; ok {
			t.Errorf("token list shows a secret: %v", it)
		}
	}
	w.c.as(secret).want(200, "GET", "/me", nil)
	c1.want(204, "DELETE", fmt.Sprintf("/tokens/%d", int64(tk["id"].(float64))), nil)
	w.c.as(secret).want(401, "GET", "/me", nil)

	exerciseMessages(t, w)
	exerciseReports(t, w)
	exerciseAdmins(t, w)
	exerciseImport(t, w)

	// Forbidden by role: a customer admin creates no reseller.
	c1.want(403, "POST", "/resellers", map[string]any{"name": "Mine"})

	// The document and the API name the same routes.
	doc, _ := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	var inDoc []string
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			inDoc = append(inDoc, method+" "+api.Prefix+path)
			ops = append(ops, op.OperationID)
		}
	}
	inAPI := api.New(w.adm, nil).Routes()
	sort.Strings(inDoc)
	sort.Strings(inAPI)
	for _, r := range inAPI {
		if !slices.Contains(inDoc, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, r := range inDoc {
		if !slices.Contains(inAPI, r) {
			t.Errorf("the OpenAPI document has %s, which the API does not serve", r)
		}
	}
	for _, op := range ops {
		if !w.c.seen[op] {
			t.Errorf("operation %s was never exercised", op)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	// The token's lifetime ends when the test moves the service's clock,
	// however slow the requests before.
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	w := newWorldOn(t, nil, clk)
	ctx := context.Background()
	w.c.want(401, "GET", "/me", nil)
	w.c.as("xtm_madeup").want(401, "GET", "/domains", nil)
	w.c.as("not-even-ours").want(401, "GET", "/domains", nil)
	// Expired: valid 1 ms before its end, refused at it. An hour ahead
	// of the system's clock, which CreateToken (on it) checks, however
	// long the set-up took.
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	tok, _, err := w.adm.CreateToken(ctx, admin.CLI(), w.c1Admin, "short", expires)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(expires.Add(-time.Millisecond))
	w.c.as(tok).want(200, "GET", "/me", nil)
	clk.Set(expires)
	w.c.as(tok).want(401, "GET", "/me", nil)
	// Revoked, and its admin disabled.
	if err := w.adm.RevokeToken(ctx, admin.CLI(), w.tokenC2); err != nil {
		t.Fatal(err)
	}
	w.c.as(w.c2).want(401, "GET", "/me", nil)
	if err := w.adm.SetAdminDisabled(ctx, admin.CLI(), w.c1Admin, true); err != nil {
		t.Fatal(err)
	}
	w.c.as(w.c1).want(401, "GET", "/me", nil)
	// A session cookie is not an API credential.
	req, _ := http.NewRequest("GET", w.srv.Web+api.Prefix+"/me", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-xtramail", Value: "anything"})
	resp, err := w.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("cookie only: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	for _, tc := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/domains", map[string]any{"name": "not a domain"}, "name"},
		{"POST", "/domains", map[string]any{"name": "ok.test", "retention_days": 99999}, "retention_days"},
		{"POST", "/domains", `{"name": 5}`, "name"},
		{"POST", "/domains", `{"name": "x.test", "colour": "red"}`, "colour"},
		{"POST", "/domains", `{"name": `, "body"},
		{"POST", "/addresses", map[string]any{"address": "no-at-sign"}, "address"},
		{"POST", "/addresses", map[string]any{"address": "short@one.test", "password": "short"}, "password"},
		{"PATCH", "/addresses/alice@one.test", map[string]any{"password": "x"}, "password"},
		{"GET", "/addresses?limit=0", nil, "limit"},
		{"GET", "/audit?cursor=!!", nil, "cursor"},
		{"GET", "/addresses?cursor=!!", nil, "cursor"},
		// Cursors of lists paged by id that carry no id ("x"; "-1" for
		// the queue).
		{"GET", "/audit?cursor=eA", nil, "cursor"},
		{"GET", "/resellers?cursor=eA", nil, "cursor"},
		{"GET", "/queue?cursor=eA", nil, "cursor"},
		{"GET", "/queue?cursor=LTE", nil, "cursor"},
		{"GET", "/log?since=yesterday", nil, "since"},
		{"GET", "/log?until=tomorrow", nil, "until"},
		{"GET", "/audit?since=yesterday", nil, "since"},
		{"GET", "/audit?since=2026-12-01T00:00:00Z&until=tomorrow", nil, "until"},
		{"GET", "/log?status=lost", nil, "status"},
		{"GET", "/resellers/abc", nil, "id"},
		{"POST", "/tokens", map[string]any{"name": "t", "expires_at": "2001-01-01T00:00:00Z"}, "expires"},
	} {
		st, m := p.do(tc.method, tc.path, tc.body)
		if st != 400 || m["field"] != tc.field || m["status"].(float64) != 400 {
			t.Errorf("%s %s %v: %d %v, want 400 naming %q", tc.method, tc.path, tc.body, st, m, tc.field)
		}
	}
}

// TestCrossTenant: a customer admin's token cannot read or change another
// customer's domain, address, log records, audit records or tokens (404,
// as if they did not exist), nor a reseller another reseller's.
func TestCrossTenant(t *testing.T) {
	w := newWorld(t)
	c1, r1 := w.c.as(w.c1), w.c.as(w.r1)
	for _, tc := range []struct {
		who          *client
		name         string
		method, path string
		body         any
	}{
		{c1, "c1 reads c2's domain", "GET", "/domains/two.test", nil},
		{c1, "c1 changes c2's domain", "PATCH", "/domains/two.test", map[string]any{"retention_days": 5}},
		{c1, "c1 reads c2's address", "GET", "/addresses/bob@two.test", nil},
		{c1, "c1 lists c2's domain's addresses", "GET", "/addresses?domain=two.test", nil},
		{c1, "c1 enables c2's address", "PATCH", "/addresses/bob@two.test", map[string]any{"enabled": true}},
		{c1, "c1 removes c2's address", "DELETE", "/addresses/bob@two.test", nil},
		{c1, "c1 adds an address to c2's domain", "POST", "/addresses", map[string]any{"address": "eve@two.test"}},
		{c1, "c1 reads c2's customer", "GET", fmt.Sprintf("/customers/%d", w.c2ID), nil},
		{c1, "c1 lists c2's domains", "GET", fmt.Sprintf("/domains?customer_id=%d", w.c2ID), nil},
		{c1, "c1 revokes c2's token", "DELETE", fmt.Sprintf("/tokens/%d", w.tokenC2), nil},
		{r1, "r1 reads r2's reseller", "GET", fmt.Sprintf("/resellers/%d", w.r2ID), nil},
		{r1, "r1 reads r2's customer", "GET", fmt.Sprintf("/customers/%d", w.c3ID), nil},
		{r1, "r1 reads r2's domain", "GET", "/domains/three.test", nil},
		{r1, "r1 changes r2's domain", "PATCH", "/domains/three.test", map[string]any{"whole_domain": true}},
		{r1, "r1 reads r2's address", "GET", "/addresses/carol@three.test", nil},
		{r1, "r1 sets r2's address password", "PATCH", "/addresses/carol@three.test", map[string]any{"password": "takeover pass 1"}},
		{r1, "r1 adds a domain to r2's customer", "POST", "/domains", map[string]any{"name": "sneak.test", "customer_id": w.c3ID}},
	} {
		if st, m := tc.who.do(tc.method, tc.path, tc.body); st != 404 {
			t.Errorf("%s: %d %v, want 404", tc.name, st, m)
		}
	}
	// Lists show only the own subtree.
	lists := []struct {
		who     *client
		path    string
		key     string
		allowed []string
	}{
		{c1, "/domains", "name", []string{"one.test"}},
		{c1, "/addresses", "address", []string{"alice@one.test"}},
		{c1, "/log", "rcpt", []string{"alice@one.test"}},
		{c1, "/tokens", "name", []string{"c1"}},
		{r1, "/customers", "name", []string{"Customer One", "Customer Two"}},
		{r1, "/resellers", "name", []string{"Reseller One"}},
		{r1, "/domains", "name", []string{"one.test", "two.test"}},
		{r1, "/log", "rcpt", []string{"alice@one.test", "bob@two.test"}},
	}
	for _, l := range lists {
		m := l.who.want(200, "GET", l.path, nil)
		for _, it := range m["items"].([]any) {
			v, _ := it.(map[string]any)[l.key].(string)
			if !slices.Contains(l.allowed, v) {
				t.Errorf("GET %s shows %s=%q outside the subtree", l.path, l.key, v)
			}
		}
	}
	// Audit records: c1 sees none about c2's or c3's objects.
	// (Their own refused attempts are in their log, naming what they
	// tried: action "denied".)
	for _, it := range c1.want(200, "GET", "/audit?limit=1000", nil)["items"].([]any) {
		if it.(map[string]any)["action"] == "denied" {
			continue
		}
		obj := it.(map[string]any)["object"].(string)
		if strings.Contains(obj, "two.test") || strings.Contains(obj, "three.test") || strings.Contains(obj, "Customer Two") {
			t.Errorf("customer one's audit log shows %q", obj)
		}
	}
	for _, it := range r1.want(200, "GET", "/audit?limit=1000", nil)["items"].([]any) {
		if it.(map[string]any)["action"] == "denied" {
			continue
		}
		obj := it.(map[string]any)["object"].(string)
		if strings.Contains(obj, "three.test") || strings.Contains(obj, "Reseller Two") {
			t.Errorf("reseller one's audit log shows %q", obj)
		}
	}
	// Nothing was changed by the attempts.
	if d := w.c.as(w.provider).want(200, "GET", "/domains/two.test", nil); d["retention_days"].(float64) != 31 {
		t.Errorf("c2's domain changed: %v", d)
	}
	if a := w.c.as(w.provider).want(200, "GET", "/addresses/bob@two.test", nil); a["enabled"] != false {
		t.Errorf("c2's address changed: %v", a)
	}
	// And the attempts are in the provider's audit log.
	au := w.c.as(w.provider).want(200, "GET", "/audit?action=denied&limit=1000", nil)
	if n := len(au["items"].([]any)); n < 10 {
		t.Errorf("%d denied attempts audited, want every one", n)
	}
}

// TestCursorPaging walks addresses, customers and the audit log a page at
// a time: every item once, in order.
func TestCursorPaging(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	for i := range 7 {
		p.want(201, "POST", "/addresses", map[string]any{"address": fmt.Sprintf("u%02d@one.test", i)})
	}
	for _, path := range []string{"/addresses?domain=one.test", "/customers", "/audit", "/resellers", "/tokens", "/domains"} {
		all := p.want(200, "GET", path+sep(path)+"limit=1000", nil)["items"].([]any)
		var got []any
		cursor := ""
		for range 100 {
			q := path + sep(path) + "limit=3"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			m := p.want(200, "GET", q, nil)
			got = append(got, m["items"].([]any)...)
			cursor = m["next"].(string)
			if cursor == "" {
				break
			}
		}
		a, _ := json.Marshal(all)
		g, _ := json.Marshal(got)
		if !bytes.Equal(a, g) || len(all) == 0 {
			t.Errorf("%s paged by 3: %d items, want the %d of one page\n%s\n%s", path, len(got), len(all), g, a)
		}
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// TestMethodSizeAndTypeAnswers: a method a resource does not have is 405
// naming those it has (it was 404, as if the resource did not exist); a
// body over the limit is 413 (it was cut at 1 MiB and refused as bad
// JSON, an import cut at 64 MiB and imported short); a body of another
// type than JSON is 415 with what is taken (it was read as JSON
// whatever its Content-Type).
func TestMethodSizeAndTypeAnswers(t *testing.T) {
	w := newWorld(t)
	raw := func(method, path, ctype string, body io.Reader) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, w.c.base+api.Prefix+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+w.provider)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := w.c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		data, _ := io.ReadAll(resp.Body)
		if len(data) > 0 && resp.StatusCode >= 400 {
			if err := json.Unmarshal(data, &m); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s: %s, body %q: want problem details", method, path, resp.Status, data)
			}
		}
		return resp, m
	}
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/domains/one.test", "GET, HEAD, PATCH, DELETE"},
		{"DELETE", "/me", "GET, HEAD"},
		{"POST", "/queue/1", "DELETE"},
	} {
		resp, m := raw(c.method, c.path, "", nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow || m["status"] != 405.0 {
			t.Errorf("%s %s: %s, Allow %q, want 405 with %q", c.method, c.path, resp.Status, resp.Header.Get("Allow"), c.allow)
		}
	}
	if resp, _ := raw("OPTIONS", "/tokens", "", nil); resp.StatusCode != 204 || resp.Header.Get("Allow") != "GET, HEAD, POST, OPTIONS" {
		t.Errorf("OPTIONS /tokens: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	if resp, _ := raw("GET", "/nothing/here", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown path: %s, want 404", resp.Status)
	}

	big := `{"name": "` + strings.Repeat("x", 2<<20) + `"}`
	if resp, m := raw("POST", "/tokens", "application/json", strings.NewReader(big)); resp.StatusCode != 413 || m["status"] != 413.0 {
		t.Errorf("2 MiB JSON body: %s %v, want 413", resp.Status, m)
	}
	// Without a length up front (chunked), the limit holds while reading.
	if resp, _ := raw("POST", "/tokens", "application/json", io.MultiReader(strings.NewReader(big))); resp.StatusCode != 413 {
		t.Errorf("2 MiB chunked JSON body: %s, want 413", resp.Status)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		resp, m := raw("POST", "/tokens", ct, strings.NewReader(`{"name": "typed"}`))
		if resp.StatusCode != 415 || resp.Header.Get("Accept-Post") != "application/json" || m["status"] != 415.0 {
			t.Errorf("JSON sent as %q: %s, Accept-Post %q, want 415", ct, resp.Status, resp.Header.Get("Accept-Post"))
		}
	}
	if resp, _ := raw("PATCH", "/domains/one.test", "text/plain", strings.NewReader(`{}`)); resp.StatusCode != 415 || resp.Header.Get("Accept-Patch") != "application/json" {
		t.Errorf("PATCH as text/plain: %s, Accept-Patch %q, want 415", resp.Status, resp.Header.Get("Accept-Patch"))
	}
	if resp, _ := raw("POST", "/tokens", "application/merge-patch+json", strings.NewReader(`{"name": "typed"}`)); resp.StatusCode != 201 {
		t.Errorf("a +json type: %s, want 201", resp.Status)
	}
	tokens, err := w.adm.Tokens(context.Background(), admin.CLI())
	if err != nil {
		t.Fatal(err)
	}
	made := 0
	for _, tk := range tokens {
		if tk.Name == "typed" || strings.HasPrefix(tk.Name, "xxxx") {
			made++
		}
	}
	if made != 1 {
		t.Errorf("%d tokens made, want the one of the +json request", made)
	}
}
