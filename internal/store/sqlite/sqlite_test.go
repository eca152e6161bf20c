package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

func open(t testing.TB, dir string) *Store { return openWith(t, dir, Options{}) }

// openWith opens the store kept in dir with opts (laid out as
// sqlitetest.Open lays it out, which this package cannot import).
func openWith(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	blobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "xtramail.db"), blobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// benchStore opens a store in the benchmark's own directory, closed when
// the benchmark ends.
func benchStore(b *testing.B) *Store {
	s := open(b, b.TempDir())
	b.Cleanup(func() { s.Close() })
	return s
}

// bob makes the domain example.test and its account bob@example.test, to
// whom the tests' and benchmarks' mail goes.
func bob(tb testing.TB, s *Store) store.Account {
	tb.Helper()
	ctx := tb.Context()
	if _, err := s.CreateDomain(ctx, "example.test", 0); err != nil {
		tb.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// users makes the domain example.test and n accounts u0@ to u<n-1>@ in
// it.
func users(tb testing.TB, s *Store, n int) []store.Account {
	tb.Helper()
	ctx := tb.Context()
	if _, err := s.CreateDomain(ctx, "example.test", 0); err != nil {
		tb.Fatal(err)
	}
	var accts []store.Account
	for i := range n {
		a, err := s.CreateAccount(ctx, fmt.Sprintf("u%d@example.test", i), "")
		if err != nil {
			tb.Fatal(err)
		}
		accts = append(accts, a)
	}
	return accts
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
	// The syncer may be syncing what the store's background work wrote
	// while the test looks: synced is read under the syncer's lock.
	var synced []string
	s := openWith(t, dir, Options{syncDir: func(d string) error { synced = append(synced, d); return syncDir(d) }})
	defer s.Close()
	wal := func(f func()) {
		s.wal.mu.Lock()
		defer s.wal.mu.Unlock()
		f()
	}
	count := func() (n int, dirs []string) {
		wal(func() { n, dirs = len(synced), slices.Clone(synced) })
		return n, dirs
	}
	ctx := t.Context()
	if _, err := s.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	if n, dirs := count(); n != 1 || dirs[0] != dir {
		t.Fatalf("directories synced after the first write: %q, want [%q]", dirs, dir)
	}
	if _, err := s.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	if n, dirs := count(); n != 1 {
		t.Fatalf("directory synced again for the same WAL file: %q", dirs)
	}
	// SQLite replaced the WAL file (as after the last connection closed):
	// the new file's entry must be synced as well.
	wal(func() {
		s.wal.f.Close()
		s.wal.f = nil
	})
	if _, err := s.CreateDomain(ctx, "example.net", 0); err != nil {
		t.Fatal(err)
	}
	if n, dirs := count(); n != 2 {
		t.Fatalf("reopened WAL: directories synced %q, want a second sync", dirs)
	}
}

// TestMigrationKeepsIDsAndStopsReuse opens a database made by the first
// schema (ids without AUTOINCREMENT), with rows in it: the rebuild keeps
// every row and id, and the id of a mailbox deleted after the upgrade is
// not given again (issue 11).
func TestMigrationKeepsIDsAndStopsReuse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xtramail.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0],
		"PRAGMA user_version = 1",
		"INSERT INTO domains VALUES (5, 'example.test', 30, 0)",
		"INSERT INTO accounts VALUES (7, 5, 'bob@example.test', '', 1, 0)",
		"INSERT INTO mailboxes (id, account_id, name, special_use, uidvalidity) VALUES (3, 7, 'INBOX', '', 100), (4, 7, 'Trash', '\\Trash', 101), (9, 7, 'Old', '', 102)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := open(t, dir)
	defer s.Close()
	ctx := t.Context()
	mbs, err := s.Mailboxes(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, mb := range mbs {
		ids = append(ids, mb.ID)
	}
	if !slices.Equal(ids, []int64{3, 9, 4}) {
		t.Fatalf("mailbox ids after migration %v, want [3 9 4]", ids)
	}
	if err := s.DeleteMailbox(ctx, 7, "Old"); err != nil {
		t.Fatal(err)
	}
	mb, err := s.CreateMailbox(ctx, 7, "New", "")
	if err != nil {
		t.Fatal(err)
	}
	if mb.ID <= 9 {
		t.Fatalf("new mailbox got id %d after deleting 9", mb.ID)
	}
	if a, err := s.CreateAccount(ctx, "eve@example.test", ""); err != nil || a.ID <= 7 {
		t.Fatalf("new account %+v, %v", a, err)
	}
	var fk int
	if err := s.w.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign keys after migration: %d, %v", fk, err)
	}
}

// TestExpungeDeletedUsesIndex guards the cost of IMAP EXPUNGE on a large
// mailbox: the \Deleted test runs in the writer's transaction, so it must
// read the partial index of deleted messages, not every live row.
func TestExpungeDeletedUsesIndex(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	acct, mb := bulkMailbox(t, s, 2000, 100)
	got, _, err := s.ExpungeDeleted(t.Context(), acct, mb, []store.UIDRange{{First: 1, Last: 1000}, {First: 1500, Last: 1600}})
	if err != nil || len(got) != 12 || got[0] != 100 || got[10] != 1500 || got[11] != 1600 {
		t.Fatalf("ExpungeDeleted = %v, %v; want the 12 deleted UIDs 100..1000, 1500 and 1600", got, err)
	}
	plan := queryPlan(t, s, "SELECT id FROM messages INDEXED BY messages_deleted WHERE mailbox_id = ? AND "+liveDeleted+" AND uid BETWEEN 1 AND 5 ORDER BY uid", mb)
	if len(plan) == 0 || !strings.Contains(strings.Join(plan, "; "), "messages_deleted") {
		t.Fatalf("ExpungeDeleted's query plan %q does not use messages_deleted", plan)
	}
}

// queryPlan returns the lines of EXPLAIN QUERY PLAN for a query, read
// on the store's read pool.
func queryPlan(t testing.TB, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("plan of %s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
