// Package sqlitetest opens SQLite stores for other packages' tests, laid
// out as the service lays out its data directory: the database at
// xtramail.db and the message bodies (a blob/fs store) under blobs.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// Open opens (creating if needed) the store kept in dir. Closing it is
// the caller's: a test that reopens the store, or runs it in a child
// process, decides when.
func Open(t testing.TB, dir string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	blobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "xtramail.db"), blobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// New opens a store in a new temporary directory, closed when the test
// ends.
func New(t testing.TB) *sqlite.Store {
	t.Helper()
	st := Open(t, t.TempDir(), sqlite.Options{})
	t.Cleanup(func() { st.Close() })
	return st
}
