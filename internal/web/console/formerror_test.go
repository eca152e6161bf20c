package console_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/admin"
)

// TestRefusedFormShowsItsPage: an operation refused for the input
// (exists already, not empty, a field's rule) shows the form's own page
// again with the reason above it and the status the handler names, not
// the error page.
func TestRefusedFormShowsItsPage(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	b.signIn(tr.ra1, adminPassword, "")

	// The admin package's words for an address it cannot read.
	_, err := tr.ops.AddAddress(context.Background(), admin.CLI(), "not an address", "", true)
	var fe *admin.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("adding a malformed address: %v, want a field error", err)
	}
	for _, c := range []struct {
		name, path string
		form       url.Values
		status     int
		title, msg string
	}{
		{"domain exists", "/console/domains", url.Values{"customer": {fmt.Sprint(tr.c1.ID)}, "name": {"c1.test"}},
			http.StatusBadRequest, "Domains", "That already exists."},
		{"customer not empty", fmt.Sprintf("/console/customers/%d/delete", tr.c1.ID), nil,
			http.StatusConflict, "Customers", "It still holds something: remove that first."},
		{"address malformed", "/console/addresses", url.Values{"address": {"not an address"}},
			http.StatusBadRequest, "Addresses", fe.Msg},
	} {
		pg := b.post(c.path, c.form)
		if pg.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, pg.status, c.status, pg.body)
			continue
		}
		if !strings.Contains(pg.body, `<p class="alert alert-error" role="alert">`+html.EscapeString(c.msg)+`</p>`) {
			t.Errorf("%s: the page does not show %q above the form: %s", c.name, c.msg, pg.body)
		}
		if !strings.Contains(pg.body, "<title>"+c.title) {
			t.Errorf("%s: not the %s page: %s", c.name, c.title, pg.body)
		}
	}
}
