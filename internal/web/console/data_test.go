package console_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/service"
)

// Every test of the package starts the whole service on a new data
// directory. Under -race, running the store's schema migrations on each
// new database was the largest part of the package's CPU (about 30% of
// the non-browser tests', in modernc's SQLite parser under the race
// detector): so the migrations run once per test binary, into a
// template directory, and each server starts on a copy of it: the same
// empty, current database as a fresh one.
var template = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "xtramail-console-template-")
	if err != nil {
		return "", err
	}
	cfg := config.Default()
	cfg.Data = dir
	st, err := service.OpenStore(&cfg, nil)
	if err != nil {
		return dir, err
	}
	return dir, st.Close()
})

// removeTemplate deletes the template directory, if one was made (after
// every test has run).
func removeTemplate() {
	if dir, _ := template(); dir != "" {
		os.RemoveAll(dir)
	}
}

// freshData returns a new data directory for t holding a copy of the
// template: an empty store with the current schema.
func freshData(t testing.TB) string {
	t.Helper()
	src, err := template()
	if err != nil {
		t.Fatalf("template data directory: %v", err)
	}
	dst := t.TempDir()
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
	if err != nil {
		t.Fatalf("copy the template data directory: %v", err)
	}
	return dst
}
