package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/web/api"
)

// TestCreatedLocation: every POST that creates a resource answers 201
// with a Location under the API that a GET then finds, carrying the
// created resource's id.
func TestCreatedLocation(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	for _, tc := range []struct {
		path string
		body map[string]any
		// at is the Location's path below api.Prefix, given the created
		// resource's id.
		at func(id int64) string
	}{
		{"/resellers", map[string]any{"name": "Reseller Located"}, func(id int64) string { return fmt.Sprintf("/resellers/%d", id) }},
		{"/customers", map[string]any{"name": "Customer Located"}, func(id int64) string { return fmt.Sprintf("/customers/%d", id) }},
		{"/domains", map[string]any{"name": "located.test", "customer_id": w.c1ID}, func(int64) string { return "/domains/located.test" }},
		{"/addresses", map[string]any{"address": "Dave@One.test"}, func(int64) string { return "/addresses/dave@one.test" }},
		{"/admins", map[string]any{"email": "located@one.test", "password": "located password 1", "role": "customer", "scope_id": w.c1ID},
			func(id int64) string { return fmt.Sprintf("/admins/%d", id) }},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			raw, err := json.Marshal(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest("POST", w.srv.Web+api.Prefix+tc.path, bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+w.provider)
			resp, err := w.srv.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var created map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
				t.Fatalf("POST %s: body: %v", tc.path, err)
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST %s: %s %v, want 201", tc.path, resp.Status, created)
			}
			id := int64(created["id"].(float64))
			loc := resp.Header.Get("Location")
			if want := api.Prefix + tc.at(id); loc != want {
				t.Fatalf("POST %s: Location %q, want %q", tc.path, loc, want)
			}
			got := p.want(http.StatusOK, "GET", strings.TrimPrefix(loc, api.Prefix), nil)
			if int64(got["id"].(float64)) != id {
				t.Errorf("GET %s: id %v, want %d", loc, got["id"], id)
			}
		})
	}
}
