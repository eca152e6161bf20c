package service

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
)

// TestAccountLookup checks how store accounts become sign-in credentials:
// unknown addresses and addresses without a password are refused like a
// wrong password, never as a server error.
func TestAccountLookup(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	st, err := OpenStore(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.CreateDomain(ctx, "example.test", 0)
	hash, _ := auth.HashParams("right password", auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	st.CreateAccount(ctx, "bob@example.test", hash)
	st.CreateAccount(ctx, "nopass@example.test", "")
	a := auth.NewAuthenticator(AccountLookup(st), auth.Options{})
	if _, err := a.Authenticate(ctx, "Bob@example.test", "right password", "192.0.2.1"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, c := range []struct{ user, pass string }{
		{"bob@example.test", "wrong"},
		{"nobody@example.test", "x"},
		{"nopass@example.test", "anything"},
		{"not an address", "x"},
	} {
		if _, err := a.Authenticate(ctx, c.user, c.pass, "192.0.2.2"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q): %v, want ErrInvalidCredentials", c.user, err)
		}
	}
}
