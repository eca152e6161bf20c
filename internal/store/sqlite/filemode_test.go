package sqlite

import (
	"bytes"
	"github.com/xtramail/xtramail/internal/disktest"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatabaseFilesPrivate: under the usual umask 022, a new store's
// database, -wal and -shm are the service user's alone (0600), and no
// file or directory the store made is open to others. SQLite creates a
// new database 0644 less the umask and gives the -wal and -shm the main
// file's bits: before, all three were 0644 and any local user could copy
// the TOTP secrets, DKIM keys and password hashes in them (probe 38c).
func TestDatabaseFilesPrivate(t *testing.T) {
	for _, umask := range []int{0o022, 0o002, 0} {
		dir := filepath.Join(t.TempDir(), "data")
		var s *Store
		disktest.WithUmask(umask, func() {
			s = open(t, dir)
			bob(t, s) // the WAL holds a commit
		})
		db := filepath.Join(dir, "xtramail.db")
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("umask %04o: %v", umask, err)
			}
			if got := fi.Mode().Perm(); got != dbFileMode {
				t.Errorf("umask %04o: %s is %04o, want %04o", umask, filepath.Base(p), got, dbFileMode)
			}
		}
		assertNotOthers(t, dir)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatabaseFilesMadePrivate: a database an older version left 0644,
// with its -wal and -shm, is narrowed to 0600 when a store opens it (the
// CLI beside the running server, or the server restarted), and the log
// names each file changed.
func TestDatabaseFilesMadePrivate(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir)
	defer first.Close()
	bob(t, first)
	db := filepath.Join(dir, "xtramail.db")
	old := []string{db, db + "-wal", db + "-shm"}
	for _, p := range old {
		if err := os.Chmod(p, 0o664); err != nil {
			t.Fatal(err)
		}
	}
	var logged bytes.Buffer
	second := openWith(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	defer second.Close()
	for _, p := range old {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != dbFileMode {
			t.Errorf("%s left %04o, want %04o", filepath.Base(p), got, dbFileMode)
		}
		if !strings.Contains(logged.String(), "path="+p+" was=0664 now=0600") {
			t.Errorf("log does not say %s was changed: %s", p, logged.String())
		}
	}
	// The second store works on the narrowed files.
	if _, err := second.CreateDomain(t.Context(), "example.org", 0); err != nil {
		t.Fatal(err)
	}
}

// assertNotOthers fails the test for every file or directory under dir
// (dir too) with any bit for others, and for a database file with any
// bit for the group.
func assertNotOthers(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm()
		if mode&0o007 != 0 {
			t.Errorf("%s is %04o: open to other users", p, mode)
		}
		if strings.HasPrefix(d.Name(), "xtramail.db") && mode&0o070 != 0 {
			t.Errorf("%s is %04o: open to the group", p, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
