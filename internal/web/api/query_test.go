package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/web/api"
)

// TestUnknownQueryParameterRefused is the regression test for query
// parameters ignored in silence: GET /log?domain=b.test answered 200 with
// the whole log unfiltered, and POST /addresses/import?generate=true (the
// parameter is generate_passwords) imported without generating anything.
// Every route of the API's own table, so that a route added later is
// covered, answers 400 naming a parameter it does not take (one that
// another route takes, and a random one), takes together every one it
// declares, and declares the same ones as the OpenAPI document.
func TestUnknownQueryParameterRefused(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))

	a := api.New(w.adm, nil)
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	// Every parameter some route takes: what a caller may send to the
	// wrong one (?domain= to /log).
	var anyRoute []string
	for _, route := range a.Routes() {
		for _, q := range a.Query(route) {
			if !slices.Contains(anyRoute, q) {
				anyRoute = append(anyRoute, q)
			}
		}
	}
	// Values that each parameter takes, on the world's objects.
	values := map[string]string{
		"limit": "5", "cursor": "", "customer_id": fmt.Sprint(w.c1ID), "domain": "one.test", "search": "alice",
		"address": "alice@one.test", "message_id": "m-alice@one.test", "subject": "hello", "status": string(msglog.Stored),
		"since": "2026-01-01T00:00:00Z", "until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"actor": "root@provider.test", "action": "domain.add", "object": "one.test",
		"mailbox": "INBOX", "deleted": "false", "from": "2026-01-01", "to": "2026-02-01", "period": "month", "format": "json",
		"days": "7", "generate_passwords": "true",
	}
	pathValues := map[string]string{"{id}": "1", "{name}": "one.test", "{address}": "alice@one.test",
		"{message_id}": "m-alice@one.test", "{passkey}": "1"}

	for _, route := range a.Routes() {
		method, path, _ := strings.Cut(route, " ")
		path = strings.TrimPrefix(path, api.Prefix)
		declared := a.Query(route)
		t.Run(route, func(t *testing.T) {
			if inDoc := docQuery(t, doc, method, path); !sameSet(declared, inDoc) {
				t.Errorf("the route takes %v, the OpenAPI document says %v", declared, inDoc)
			}
			concrete := path
			for k, v := range pathValues {
				concrete = strings.ReplaceAll(concrete, k, url.PathEscape(v))
			}
			known := url.Values{}
			for _, q := range declared {
				v, ok := values[q]
				if !ok {
					t.Fatalf("the test has no value for the route's parameter %q", q)
				}
				known.Set(q, v)
			}
			var unknown []string
			for _, q := range anyRoute {
				if !slices.Contains(declared, q) {
					unknown = append(unknown, q)
				}
			}
			unknown = append(unknown, randomName(rnd))
			for _, u := range unknown {
				q := url.Values{}
				for k, v := range known {
					q[k] = v
				}
				q.Set(u, "1")
				st, m := p.do(method, concrete+"?"+q.Encode(), nil)
				if st != 400 || m["field"] != u || m["status"] != 400.0 || !strings.Contains(fmt.Sprint(m["detail"]), "unknown query parameter") {
					t.Errorf("%s %s?%s: %d %v, want 400 naming %q", method, concrete, q.Encode(), st, m, u)
				}
			}
			if len(declared) == 0 {
				return
			}
			// What it does take still works, all at once.
			want := 200
			if method == "POST" { // the import, here with no body
				want = 415
			}
			if st, m := p.do(method, concrete+"?"+known.Encode(), nil); st != want {
				t.Errorf("%s %s?%s: %d %v, want %d", method, concrete, known.Encode(), st, m, want)
			}
		})
	}

	// The two the probe found, spelt out.
	if st, m := p.do("GET", "/log?domain=two.test", nil); st != 400 || m["field"] != "domain" {
		t.Errorf("GET /log?domain=: %d %v, want 400 naming domain", st, m)
	}
	if st, _, m := p.send("POST", "/addresses/import?generate=true", "text/csv", "address\nnew@one.test\n"); st != 400 || m["field"] != "generate" {
		t.Errorf("POST /addresses/import?generate=true: %d %v, want 400 naming generate", st, m)
	}
	if _, err := w.srv.Store.Account(t.Context(), "new@one.test"); err == nil {
		t.Error("the refused import imported")
	}
	// A query that does not parse is refused too, not read in part
	// (sent past the client, whose document check re-encodes queries).
	req, err := http.NewRequest("GET", w.srv.Web+api.Prefix+"/log?address=%zz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.provider)
	resp, err := w.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 400 || m["field"] != "query" {
		t.Errorf("GET /log?address=%%zz: %s %v %v, want 400 naming query", resp.Status, m, err)
	}
}

// docQuery lists the query parameters of an operation of the document.
func docQuery(t *testing.T, doc *openapi3.T, method, path string) []string {
	t.Helper()
	item := doc.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not in the OpenAPI document", method, path)
	}
	var out []string
	for _, ps := range []openapi3.Parameters{item.Parameters, item.GetOperation(method).Parameters} {
		for _, p := range ps {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				out = append(out, p.Value.Name)
			}
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// randomName is a query parameter name no route takes.
func randomName(rnd *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz_"
	b := []byte("x")
	for range 1 + rnd.IntN(12) {
		b = append(b, letters[rnd.IntN(len(letters))])
	}
	return string(b)
}
