package service

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/xtramail/xtramail/internal/admin"
)

// sealKeyFile names the file of the data directory that holds the key
// sealing imported passwords until they are hashed (admin.Options.SealKey).
// It is apart from the database, so that a copy of the database (a
// backup, a support bundle) reveals no pending password; nodes sharing
// a database share this file too.
const sealKeyFile = "password-seal.key"

// LoadSealKey reads the data directory's seal key, making it (0600) on
// the first start (or the first command of the CLI that needs it).
func LoadSealKey(data string) ([]byte, error) {
	path := filepath.Join(data, sealKeyFile)
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != admin.SealKeySize {
			return nil, fmt.Errorf("password seal key %s: %d bytes, want %d", path, len(key), admin.SealKeySize)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read password seal key: %w", err)
	}
	key = make([]byte, admin.SealKeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	// O_EXCL: two processes starting at once keep one key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadSealKey(data)
	}
	if err != nil {
		return nil, fmt.Errorf("create password seal key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write password seal key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write password seal key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write password seal key: %w", err)
	}
	return key, nil
}
