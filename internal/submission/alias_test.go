package submission_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
)

// TestFromAliases: an alias the administrator allowed (submission
// from_aliases) may be the envelope sender and the From address of its
// user only; anything else is 550 5.7.1 with words that say why.
func TestFromAliases(t *testing.T) {
	const sales = "sales@example.test"
	srv := start(t, func(c *config.Config) {
		c.Submission.FromAliases = map[string][]string{"Alice@Example.test": {"Sales@example.test"}}
	})
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if got := send(c, sales, []string{outsider}, msg(sales, outsider, "alias1@x", "")); got != "ok" {
		t.Fatalf("alice as %s: %s", sales, got)
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["alias1@x"]; !ok {
		t.Errorf("no Sent copy of the alias message")
	}
	// Her own envelope with the alias in From, too.
	if got := send(c, alice, []string{outsider}, msg(sales, outsider, "alias2@x", "")); got != "ok" {
		t.Errorf("alice with From %s: %s", sales, got)
	}
	// Not another address.
	err := c.Mail("boss@example.test", nil)
	if code(err) != "550 5.7.1" || !strings.Contains(err.(*smtp.SMTPError).Message, "alias") {
		t.Errorf("alice as boss@: %v, want 550 5.7.1 naming aliases", err)
	}
	c.Reset()
	if got := send(c, alice, []string{outsider}, msg("boss@example.test", outsider, "alias3@x", "")); got != "550 5.7.1" {
		t.Errorf("alice with From boss@: %s, want 550 5.7.1", got)
	}

	// The alias is alice's, not bob's.
	b := dial(t, srv)
	if err := b.Auth(sasl.NewPlainClient("", bob, bobPw)); err != nil {
		t.Fatal(err)
	}
	if got := send(b, sales, []string{outsider}, msg(sales, outsider, "alias4@x", "")); got != "550 5.7.1" {
		t.Errorf("bob as %s: %s, want 550 5.7.1", sales, got)
	}
}
