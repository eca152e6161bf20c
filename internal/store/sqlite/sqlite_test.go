package sqlite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	blobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "xtramail.db"), blobs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

// TestPathWithURIChars checks that a data directory whose name holds
// characters special in SQLite URIs opens the right file.
func TestPathWithURIChars(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a#b?c%d")
	s := open(t, dir)
	if _, err := s.CreateDomain(t.Context(), "example.test", 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "xtramail.db")); err != nil {
		t.Fatal(err)
	}
}
