package api_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/web/api"
)

// exerciseAdmins drives the admin and sign-in link routes once each, for
// TestEveryRouteAgainstOpenAPI.
func exerciseAdmins(t *testing.T, w *world) {
	c1 := w.c.as(w.c1)
	a := c1.want(201, "POST", "/admins", map[string]any{"email": "helper@one.test", "password": "helper password 1", "role": "customer", "scope_id": w.c1ID})
	id := int64(a["id"].(float64))
	if a["role"] != "customer" || int64(a["scope_id"].(float64)) != w.c1ID {
		t.Errorf("new admin: %v", a)
	}
	if n := len(c1.want(200, "GET", "/admins", nil)["items"].([]any)); n != 2 {
		t.Errorf("c1 sees %d admins, want 2", n)
	}
	c1.want(200, "GET", fmt.Sprintf("/admins/%d", id), nil)
	exercisePasskeys(t, w, id)
	c1.want(204, "DELETE", fmt.Sprintf("/admins/%d", id), nil)
	c1.want(404, "GET", fmt.Sprintf("/admins/%d", id), nil)
	l := w.c.as(w.c3).want(201, "POST", "/addresses/carol@three.test/signin-link", nil)
	u, _ := l["url"].(string)
	if !strings.HasPrefix(u, "https://") || !strings.Contains(u, "/login/link?token="+url.QueryEscape(l["token"].(string))) {
		t.Errorf("sign-in link: %v", l)
	}
	if _, err := w.adm.ConsumeSignInLink(t.Context(), l["token"].(string)); err != nil {
		t.Errorf("the link's token does not sign in: %v", err)
	}
	// Mailing it needs a system sender, which this service lacks
	// (TestSignInLinkMailedToAlternate sends one).
	w.c.as(w.c3).want(409, "POST", "/addresses/carol@three.test/signin-link/send", map[string]any{"to": "carol@home.example"})
}

// adminID finds an admin's id as the provider sees it.
func adminID(t *testing.T, w *world, email string) int64 {
	t.Helper()
	for _, it := range w.c.as(w.provider).want(200, "GET", "/admins?limit=1000", nil)["items"].([]any) {
		if it.(map[string]any)["email"] == email {
			return int64(it.(map[string]any)["id"].(float64))
		}
	}
	t.Fatalf("no admin %s", email)
	return 0
}

// TestAdminsCrossTenant: admins and sign-in links of another customer or
// reseller are 404, nothing changes, lists show only the own subtree.
func TestAdminsCrossTenant(t *testing.T) {
	w := newWorld(t)
	c1, r1 := w.c.as(w.c1), w.c.as(w.r1)
	c2Admin, r2Admin, c3Admin := adminID(t, w, "c2@two.test"), adminID(t, w, "r2@resellers.test"), adminID(t, w, "c3@three.test")
	for _, tc := range []struct {
		who          *client
		name         string
		method, path string
		body         any
	}{
		{c1, "c1 reads c2's admin", "GET", fmt.Sprintf("/admins/%d", c2Admin), nil},
		{c1, "c1 removes c2's admin", "DELETE", fmt.Sprintf("/admins/%d", c2Admin), nil},
		{c1, "c1 adds an admin to c2", "POST", "/admins", map[string]any{"email": "x@two.test", "password": "sneaky password 1", "role": "customer", "scope_id": w.c2ID}},
		{c1, "c1 makes a link for c2's user", "POST", "/addresses/bob@two.test/signin-link", nil},
		{r1, "r1 reads r2's admin", "GET", fmt.Sprintf("/admins/%d", r2Admin), nil},
		{r1, "r1 removes r2's customer's admin", "DELETE", fmt.Sprintf("/admins/%d", c3Admin), nil},
		{r1, "r1 adds an admin to r2", "POST", "/admins", map[string]any{"email": "x@r2.test", "password": "sneaky password 1", "role": "reseller", "scope_id": w.r2ID}},
		{r1, "r1 adds an admin to r2's customer", "POST", "/admins", map[string]any{"email": "x@three.test", "password": "sneaky password 1", "role": "customer", "scope_id": w.c3ID}},
		{r1, "r1 makes a link for r2's user", "POST", "/addresses/carol@three.test/signin-link", nil},
	} {
		if st, m := tc.who.do(tc.method, tc.path, tc.body); st != 404 {
			t.Errorf("%s: %d %v, want 404", tc.name, st, m)
		}
	}
	// Nothing changed.
	adminID(t, w, "c2@two.test")
	adminID(t, w, "c3@three.test")
	for _, it := range w.c.as(w.provider).want(200, "GET", "/admins?limit=1000", nil)["items"].([]any) {
		if e := it.(map[string]any)["email"].(string); strings.HasPrefix(e, "x@") {
			t.Errorf("a refused admin was created: %s", e)
		}
	}
	// Lists.
	for _, l := range []struct {
		who  *client
		want []string
	}{
		{c1, []string{"c1@one.test"}},
		{r1, []string{"c1@one.test", "c2@two.test", "r1@resellers.test"}},
	} {
		var got []string
		for _, it := range l.who.want(200, "GET", "/admins", nil)["items"].([]any) {
			got = append(got, it.(map[string]any)["email"].(string))
		}
		slices.Sort(got)
		if !slices.Equal(got, l.want) {
			t.Errorf("admins listed %v, want %v", got, l.want)
		}
	}
	// Role limits: a customer admin makes no reseller or provider admin.
	c1.want(403, "POST", "/admins", map[string]any{"email": "boss@one.test", "password": "boss password 11", "role": "provider"})
	if st, _ := c1.do("POST", "/admins", map[string]any{"email": "boss@one.test", "password": "boss password 11", "role": "reseller", "scope_id": w.r1ID}); st != 404 && st != 403 {
		t.Errorf("c1 made a reseller admin: %d", st)
	}
	// Within the subtree, r1 does reach c2's admin.
	r1.want(200, "GET", fmt.Sprintf("/admins/%d", c2Admin), nil)
	// The attempts are audited.
	au := w.c.as(w.provider).want(200, "GET", "/audit?action=denied&limit=1000", nil)
	if n := len(au["items"].([]any)); n < 9 {
		t.Errorf("%d denied attempts audited, want at least 9", n)
	}
	// Paging by cursor walks every admin once.
	all := w.c.as(w.provider).want(200, "GET", "/admins?limit=1000", nil)["items"].([]any)
	var got []any
	cursor := ""
	for range 100 {
		q := "/admins?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		m := w.c.as(w.provider).want(200, "GET", q, nil)
		got = append(got, m["items"].([]any)...)
		if cursor = m["next"].(string); cursor == "" {
			break
		}
	}
	if len(got) != len(all) || len(all) < 6 {
		t.Errorf("admins paged by 2: %d, want %d", len(got), len(all))
	}
}

func TestAdminsBadInput(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	for _, tc := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/admins", map[string]any{"email": "not an address", "password": "long enough pass 1", "role": "customer", "scope_id": w.c1ID}, "email"},
		{"POST", "/admins", map[string]any{"email": "a@one.test", "password": "long enough pass 1", "role": "king", "scope_id": w.c1ID}, "role"},
		{"POST", "/admins", map[string]any{"email": "a@one.test", "password": "long enough pass 1", "role": "customer"}, "scope_id"},
		{"POST", "/admins", map[string]any{"email": "a@one.test", "password": "short", "role": "customer", "scope_id": w.c1ID}, "password"},
		{"POST", "/admins", `{"email": "a@one.test", "colour": "red"}`, "colour"},
		{"GET", "/admins/abc", nil, "id"},
		{"GET", "/admins?cursor=!!", nil, "cursor"},
		{"POST", "/addresses/bob@two.test/signin-link", nil, "address"}, // disabled
	} {
		st, m := p.do(tc.method, tc.path, tc.body)
		if st != 400 || m["field"] != tc.field {
			t.Errorf("%s %s %v: %d %v, want 400 naming %q", tc.method, tc.path, tc.body, st, m, tc.field)
		}
	}
	// Nobody removes themselves.
	me := int64(p.want(200, "GET", "/me", nil)["admin_id"].(float64))
	if st, m := p.do("DELETE", fmt.Sprintf("/admins/%d", me), nil); st != 400 || m["field"] != "id" {
		t.Errorf("removing oneself: %d %v", st, m)
	}
}

// TestSignInLinkHostIsTheService: a sign-in link leads to the host the
// service is served at (its configured name), whatever Host header the
// request names; it used to be built from that header, so that a
// tenant's administrator could have the service mail, From its system
// sender, a link to a host of their own.
func TestSignInLinkHostIsTheService(t *testing.T) {
	w := newWorld(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(w.c.base, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"evil.example":         "https://localhost/login/link?token=",
		"evil.example:" + port: "https://localhost:" + port + "/login/link?token=",
		"localhost:" + port:    "https://localhost:" + port + "/login/link?token=",
		"127.0.0.1:" + port:    "https://localhost:" + port + "/login/link?token=",
	} {
		req, err := http.NewRequest("POST", w.c.base+api.Prefix+"/addresses/carol@three.test/signin-link", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+w.c3)
		resp, err := w.c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var l map[string]any
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if u, _ := l["url"].(string); resp.StatusCode != 201 || !strings.HasPrefix(u, want) {
			t.Errorf("Host %q: %s, link %q, want it to start %q", host, resp.Status, u, want)
		}
	}
}
