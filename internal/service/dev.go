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

// DevBootstrap makes sure the demo domain and address exist and returns
// the demo password. The password is kept in the data directory so that it
// stays the same across restarts.
func DevBootstrap(ctx context.Context, st store.Store, dataDir string) (string, error) {
	pwFile := filepath.Join(dataDir, "dev-password")
	if _, err := st.Domain(ctx, DevDomain); errors.Is(err, store.ErrNotFound) {
		if _, err := st.CreateDomain(ctx, DevDomain, 0); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if b, err := os.ReadFile(pwFile); err == nil {
		if _, err := st.Account(ctx, DevAddress); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	password := auth.NewToken()[:16]
	hash, err := auth.Hash(password)
	if err != nil {
		return "", err
	}
	if _, err := st.CreateAccount(ctx, DevAddress, hash); errors.Is(err, store.ErrExists) {
		err = st.SetPassword(ctx, DevAddress, hash)
		if err == nil {
			err = st.SetEnabled(ctx, DevAddress, true)
		}
		if err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save dev password: %w", err)
	}
	return password, nil
}
