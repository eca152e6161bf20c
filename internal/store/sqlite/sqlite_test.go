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

// TestWALDirectorySynced guards issue 12 part 5: with synchronous=NORMAL
// nothing syncs the directory entry of a new WAL file until the first
// checkpoint, so the first acknowledged write must also sync the data
// directory, and a WAL file recreated later (a new inode) again.
func TestWALDirectorySynced(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	var synced []string
	s.wal.syncDir = func(d string) error { synced = append(synced, d); return syncDir(d) }
	ctx := t.Context()
	if _, err := s.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Fatalf("directories synced after the first write: %q, want [%q]", synced, dir)
	}
	if _, err := s.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 {
		t.Fatalf("directory synced again for the same WAL file: %q", synced)
	}
	// SQLite replaced the WAL file (as after the last connection closed):
	// the new file's entry must be synced as well.
	s.wal.f.Close()
	s.wal.f = nil
	if _, err := s.CreateDomain(ctx, "example.net", 0); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 2 {
		t.Fatalf("reopened WAL: directories synced %q, want a second sync", synced)
	}
}
