package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestDomainDelimiterAndUnicode: a domain shows its sub-address delimiter
// ("+" when new) and its name in Unicode; a PATCH sets the delimiter and
// keeps the other fields, refuses one it cannot take (400 naming the
// field) and turns it off with ""; a domain is reached by either form of
// its name; a log record of a sub-address is found by the address it
// stands for, and says which.
func TestDomainDelimiterAndUnicode(t *testing.T) {
	w := newWorld(t)
	p := w.c.as(w.provider)
	d := p.want(200, "GET", "/domains/one.test", nil)
	if d["recipient_delimiter"] != "+" || d["display_name"] != "one.test" {
		t.Errorf("domain: %v", d)
	}
	p.want(200, "PATCH", "/domains/one.test", map[string]any{"whole_domain": true})
	d = p.want(200, "PATCH", "/domains/one.test", map[string]any{"recipient_delimiter": "+-"})
	if d["recipient_delimiter"] != "+-" || d["whole_domain"] != true {
		t.Errorf("after the PATCH: %v", d)
	}
	status, body := p.do("PATCH", "/domains/one.test", map[string]any{"recipient_delimiter": "."})
	if detail, _ := body["detail"].(string); status != 400 || !strings.Contains(detail, "+ - _ =") {
		t.Errorf("a bad delimiter: %d %v", status, body)
	}
	if d := p.want(200, "PATCH", "/domains/one.test", map[string]any{"recipient_delimiter": ""}); d["recipient_delimiter"] != "" {
		t.Errorf("delimiter off: %v", d)
	}

	d = p.want(201, "POST", "/domains", map[string]any{"name": "Bücher.test"})
	if d["name"] != "xn--bcher-kva.test" || d["display_name"] != "bücher.test" {
		t.Errorf("new IDN domain: %v", d)
	}
	if d := p.want(200, "GET", "/domains/"+url.PathEscape("bücher.test"), nil); d["name"] != "xn--bcher-kva.test" {
		t.Errorf("by its U-label: %v", d)
	}

	ctx := context.Background()
	a, err := w.srv.Store.Account(ctx, "alice@one.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.srv.Store.AppendLog(ctx, store.LogEvent{Status: msglog.Stored, MessageID: "tag@x", Rcpt: "alice+news@one.test",
		Account: a.Address, DomainID: a.DomainID, Detail: store.Inbox}); err != nil {
		t.Fatal(err)
	}
	items := w.c.as(w.c1).want(200, "GET", "/log?address=alice@one.test&status=stored", nil)["items"].([]any)
	found := false
	for _, it := range items {
		if ev := it.(map[string]any); ev["message_id"] == "tag@x" {
			found = true
			if ev["rcpt"] != "alice+news@one.test" || ev["account"] != "alice@one.test" {
				t.Errorf("record %v", ev)
			}
		}
	}
	if !found {
		t.Errorf("the sub-address's record is not found by alice@: %v", items)
	}
}
