package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestLogSubjectsMigrated opens a database made before the message log's
// subjects had their own index, with records in it: after the upgrade
// its subjects are found by word as before, each record once.
func TestLogSubjectsMigrated(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "xtramail.db"))
	if err != nil {
		t.Fatal(err)
	}
	step := slices.Index(migrations, logSubjectsSchema)
	for v := range step {
		if err := migrateStep(db, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO msglog (time, status, message_id, subject) VALUES (1, 'submitted', 'a@x', 'Gravel delivery'),
			(2, 'queued', 'a@x', 'Gravel delivery'), (3, 'captured', 'b@x', 'Sand and gravel'), (4, 'login', '', '')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := open(t, dir)
	defer s.Close()
	ctx := t.Context()
	for q, want := range map[string][]int64{"gravel": {3, 2, 1}, "sand": {3}, "delivery": {2, 1}, "login": nil} {
		evs, err := s.SearchLog(ctx, store.LogQuery{Subject: q})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range evs {
			got = append(got, e.Time.UnixMilli())
		}
		if !slices.Equal(got, want) {
			t.Errorf("SearchLog(%q) after the upgrade: records at %v, want %v", q, got, want)
		}
	}
}

// TestLogSubjectsPurgedWithRecords: the retention purge of the message
// log deletes a message's record and its words with the last event that
// names it, and keeps those still named, so neither table outgrows the
// log.
func TestLogSubjectsPurgedWithRecords(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	old := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var events []store.LogEvent
	for i := range 50 {
		at := old
		if i%10 == 0 {
			at = old.AddDate(0, 1, 0) // kept
		}
		subject := "Subject number " + string(rune('A'+i%25))
		for _, k := range []store.LogStatus{msglog.Submitted, msglog.Stored, msglog.Queued, msglog.Delivered} {
			events = append(events, store.LogEvent{Time: at, Status: k, MessageID: fmt.Sprintf("m%d@x", i), Subject: subject})
		}
	}
	if err := s.AppendLog(ctx, events...); err != nil {
		t.Fatal(err)
	}
	counts := func() (subjects, words int) {
		t.Helper()
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM msglog_messages").Scan(&subjects); err != nil {
			t.Fatal(err)
		}
		// Every subject has the word "number".
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM msglog_subject_fts WHERE msglog_subject_fts MATCH 'number'").Scan(&words); err != nil {
			t.Fatal(err)
		}
		return subjects, words
	}
	if n, w := counts(); n != 50 || w != 50 {
		t.Fatalf("before the purge: %d records, %d indexed, want 50 each (one per message)", n, w)
	}
	// Small passes, as the retention worker makes them.
	for {
		res, err := s.Purge(ctx, old.AddDate(0, 1, 0), old.AddDate(0, 0, 1), 30)
		if err != nil {
			t.Fatal(err)
		}
		if res.Events == 0 {
			break
		}
	}
	// Kept: i = 0, 10, 20, 30, 40.
	if n, w := counts(); n != 5 || w != 5 {
		t.Errorf("after the purge: %d records, %d indexed, want 5", n, w)
	}
	evs, err := s.SearchLog(ctx, store.LogQuery{Subject: "number"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 20 {
		t.Errorf("after the purge, %d records found, want 20", len(evs))
	}
}
