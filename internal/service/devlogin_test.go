package service

import (
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// TestDevLoginKeptPassword: the dev banner shows the kept password while
// it still opens the account or administrator, says that it changed
// once it does not, and fails on a hash it cannot read.
func TestDevLoginKeptPassword(t *testing.T) {
	hash, err := auth.HashParams("kept password", auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		login func(hash, kept string) (DevLogin, error)
	}{
		{"address", func(hash, kept string) (DevLogin, error) {
			return devLogin(store.Account{Enabled: true, PasswordHash: hash}, kept)
		}},
		{"administrator", func(hash, kept string) (DevLogin, error) {
			return devAdminLogin(store.Admin{PasswordHash: hash}, kept)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if l, err := tc.login(hash, "kept password"); err != nil || l != (DevLogin{Password: "kept password"}) {
				t.Errorf("kept password still set: %+v, %v", l, err)
			}
			if l, err := tc.login(hash, "another password"); err != nil || l != (DevLogin{Changed: true}) {
				t.Errorf("password changed since: %+v, %v", l, err)
			}
			if l, err := tc.login("not a hash", "kept password"); err == nil || l.Password != "" {
				t.Errorf("unreadable hash: %+v, %v, want an error and no password shown", l, err)
			}
		})
	}
}
