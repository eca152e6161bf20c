package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// Demo address of `serve --dev`.
const (
	DevDomain  = "example.test"
	DevAddress = "demo@example.test"
)

// DevLogin is the current sign-in state of the demo address, as the dev
// banner reports it.
type DevLogin struct {
	// Password is the demo password, when it is still the one kept in
	// the data directory; empty when an administrator changed it.
	Password string
	Changed  bool // changed since (xtramail user passwd)
	NoPass   bool // removed: no password is set
	Disabled bool // continuity is off for the address
}

// Describe says the state in one line for the banner.
func (l DevLogin) Describe() string {
	var s string
	switch {
	case l.NoPass:
		s = "none set (xtramail user passwd " + DevAddress + " --password-stdin)"
	case l.Changed:
		s = "changed with xtramail user passwd (not the one in dev-password)"
	default:
		s = l.Password
	}
	if l.Disabled {
		s += "; the address is disabled (xtramail user enable " + DevAddress + ")"
	}
	return s
}

// DevBootstrap makes sure the demo domain and address exist and returns
// the demo address's sign-in state. The generated password is kept in the
// data directory so that it stays the same across restarts; the state is
// read from the store, so that a password changed since is never shown as
// if it still worked.
func DevBootstrap(ctx context.Context, st store.Store, dataDir string) (DevLogin, error) {
	pwFile := filepath.Join(dataDir, "dev-password")
	if _, err := st.Domain(ctx, DevDomain); errors.Is(err, store.ErrNotFound) {
		if _, err := st.CreateDomain(ctx, DevDomain, 0); err != nil {
			return DevLogin{}, err
		}
	} else if err != nil {
		return DevLogin{}, err
	}
	if b, err := os.ReadFile(pwFile); err == nil {
		a, err := st.Account(ctx, DevAddress)
		if err == nil {
			return devLogin(a, strings.TrimSpace(string(b)))
		}
		if !errors.Is(err, store.ErrNotFound) {
			return DevLogin{}, err
		}
	}
	password := auth.NewToken()[:16]
	hash, err := auth.Hash(password)
	if err != nil {
		return DevLogin{}, err
	}
	if _, err := st.CreateAccount(ctx, DevAddress, hash); errors.Is(err, store.ErrExists) {
		err = st.SetPassword(ctx, DevAddress, hash)
		if err == nil {
			err = st.SetEnabled(ctx, DevAddress, true)
		}
		if err != nil {
			return DevLogin{}, err
		}
	} else if err != nil {
		return DevLogin{}, err
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return DevLogin{}, fmt.Errorf("save dev password: %w", err)
	}
	return DevLogin{Password: password}, nil
}

// devLogin compares the kept password with the account's current hash.
func devLogin(a store.Account, kept string) (DevLogin, error) {
	l := DevLogin{Disabled: !a.Enabled}
	if a.PasswordHash == "" {
		l.NoPass = true
		return l, nil
	}
	if err := checkKept(&l, a.PasswordHash, kept); err != nil {
		return l, fmt.Errorf("check dev password: %w", err)
	}
	return l, nil
}

// checkKept puts in l kept, the password in the data directory, while it
// still opens hash; once someone has changed it, only that it changed.
func checkKept(l *DevLogin, hash, kept string) error {
	ok, err := auth.Verify(hash, kept)
	if err != nil {
		return err
	}
	if ok {
		l.Password = kept
	} else {
		l.Changed = true
	}
	return nil
}
