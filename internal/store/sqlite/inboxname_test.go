package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInboxChildrenMigrated opens a database in which earlier versions
// stored children of INBOX under another spelling ("inbox/Old"): the
// upgrade names them INBOX/..., where every front end looks; one whose
// INBOX/... name is taken, by that name or another spelling of it, gets
// its id after the name.
func TestInboxChildrenMigrated(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	a := bob(t, s)
	ids := map[string]int64{}
	for _, name := range []string{"Old", "Taken", "INBOX/Taken", "Twice1", "Twice2"} {
		mb, err := s.CreateMailbox(ctx, a.ID, name, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = mb.ID
	}
	before, err := s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "xtramail.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE mailboxes SET name = 'inbox/Old' WHERE name = 'Old'`,
		`UPDATE mailboxes SET name = 'Inbox/Taken' WHERE name = 'Taken'`,
		`UPDATE mailboxes SET name = 'inbox/Twice' WHERE name = 'Twice1'`,
		`UPDATE mailboxes SET name = 'iNBOX/Twice' WHERE name = 'Twice2'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The upgrade's step, run as opening an earlier database runs it
	// (steps after it cannot run twice).
	step := slices.IndexFunc(migrations, func(m string) bool {
		return strings.Contains(m, "UPDATE mailboxes SET name = 'INBOX' || substr(name, 6)")
	})
	if step < 0 {
		t.Fatal("no migration step renames inbox/... mailboxes")
	}
	if _, err := db.Exec(migrations[step]); err != nil {
		t.Fatalf("migration step %d: %v", step, err)
	}
	db.Close()

	s = open(t, dir)
	defer s.Close()
	mbs, err := s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mb := range mbs {
		names = append(names, mb.Name)
	}
	for _, want := range []string{"INBOX/Old", "INBOX/Taken",
		fmt.Sprintf("INBOX/Taken (%d)", ids["Taken"]),
		fmt.Sprintf("INBOX/Twice (%d)", ids["Twice1"]),
		fmt.Sprintf("INBOX/Twice (%d)", ids["Twice2"])} {
		if !slices.Contains(names, want) {
			t.Errorf("after the upgrade: mailboxes %q, want %q among them", names, want)
		}
	}
	if len(names) != len(before) {
		t.Errorf("after the upgrade: %q, want as many as the %d before", names, len(before))
	}
}
