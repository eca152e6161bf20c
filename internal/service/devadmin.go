package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// DevAdmin is the provider administrator `serve --dev` creates for the
// console.
const DevAdmin = "admin@example.test"

// DevAdminBootstrap makes sure the dev provider administrator exists and
// returns its sign-in state, like DevBootstrap for the demo address: the
// generated password is kept in the data directory (dev-admin-password)
// and reported only while it still works.
func DevAdminBootstrap(ctx context.Context, adm *admin.Service, dataDir string) (DevLogin, error) {
	pwFile := filepath.Join(dataDir, "dev-admin-password")
	st := adm.Store()
	a, err := st.AdminByEmail(ctx, DevAdmin)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return DevLogin{}, err
	}
	if err == nil {
		if b, rerr := os.ReadFile(pwFile); rerr == nil {
			return devAdminLogin(a, strings.TrimSpace(string(b)))
		}
	}
	password := auth.NewToken()[:16]
	if errors.Is(err, store.ErrNotFound) {
		_, err = adm.AddAdmin(ctx, admin.CLI(), DevAdmin, password, store.RoleProvider, 0)
	} else {
		// The password file is gone: give the admin a new one.
		err = adm.SetAdminPassword(ctx, admin.CLI(), a.ID, password)
	}
	if err != nil {
		return DevLogin{}, fmt.Errorf("dev administrator: %w", err)
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return DevLogin{}, fmt.Errorf("save dev administrator password: %w", err)
	}
	return DevLogin{Password: password}, nil
}

func devAdminLogin(a store.Admin, kept string) (DevLogin, error) {
	l := DevLogin{Disabled: a.Disabled}
	if err := checkKept(&l, a.PasswordHash, kept); err != nil {
		return l, fmt.Errorf("check dev administrator password: %w", err)
	}
	return l, nil
}

// DescribeAdmin says the dev administrator's state in one line.
func (l DevLogin) DescribeAdmin() string {
	s := l.Password
	if l.Changed {
		s = "changed with xtramail admin passwd (not the one in dev-admin-password)"
	}
	if l.Disabled {
		s += "; the administrator is disabled (xtramail admin enable " + DevAdmin + ")"
	}
	return s
}
