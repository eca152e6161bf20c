package sqlite

import (
	"fmt"
	"testing"
)

// TestWriterPreparesRepeatedQueries: a query the writer runs a second
// time is prepared after that commit and used from then on, a query run
// once is not, and queries made with varying text never grow the cache
// past its bound (issue 13, speed: statements compiled at every use were
// 12-17% of the writer's CPU).
func TestWriterPreparesRepeatedQueries(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	const q = "UPDATE domains SET retention_days = retention_days WHERE id = ?"
	run := func(query string) {
		t.Helper()
		if err := s.write(ctx, func(t *tx) error { _, err := t.Exec(query, 1); return err }); err != nil {
			t.Fatal(err)
		}
	}
	prepared := func(query string) bool {
		t.Helper()
		var ok bool
		// Read on the writer goroutine, which owns the cache.
		if err := s.write(ctx, func(t *tx) error { _, ok = t.stmts.prepared[query]; return nil }); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	run(q)
	if prepared(q) {
		t.Fatal("prepared after one use")
	}
	run(q)
	if !prepared(q) {
		t.Fatal("not prepared after two uses")
	}
	run(q) // through the prepared statement
	for i := range 2 * maxPrepared {
		varying := fmt.Sprintf("UPDATE domains SET retention_days = retention_days WHERE id = ? AND %d = %d", i, i)
		run(varying)
		run(varying)
	}
	var n int
	if err := s.write(ctx, func(t *tx) error { n = len(t.stmts.prepared); return nil }); err != nil {
		t.Fatal(err)
	}
	if n > maxPrepared {
		t.Errorf("%d statements kept, bound %d", n, maxPrepared)
	}
	if !prepared(q) {
		t.Error("a prepared statement was dropped")
	}
}
