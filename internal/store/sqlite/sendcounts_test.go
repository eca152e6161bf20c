package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestSendCountsMigrated: a store whose sends predate send_counts counts
// them after the upgrade, per account.
func TestSendCountsMigrated(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "xtramail.db"))
	if err != nil {
		t.Fatal(err)
	}
	for v := range slices.Index(migrations, sendCountsSchema) {
		if err := migrateStep(db, v); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UnixMilli()
	for i := range 7 {
		acct := 1 + i%2 // 4 for account 1, 3 for account 2
		if _, err := db.Exec("INSERT INTO sends (account_id, time, expires) VALUES (?, ?, ?)", acct, now-int64(i), now+3600000); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := open(t, dir)
	defer s.Close()
	for acct, want := range map[int64]int{1: 4, 2: 3, 3: 0} {
		n, oldest, err := s.SendsSince(t.Context(), acct, time.UnixMilli(now-time.Hour.Milliseconds()))
		if err != nil || n != want || (want > 0) != !oldest.IsZero() {
			t.Errorf("account %d after the upgrade: SendsSince = %d, %s, %v; want %d", acct, n, oldest, err, want)
		}
	}
}

// TestSendCountsAgreeRandomized: through random sends under random limits
// at a moving clock (backwards too), purges and the removal of accounts,
// SendsSince and the limit's verdict agree with a plain count of the
// sends rows, for every account and many windows.
func TestSendCountsAgreeRandomized(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	accts := users(t, s, 4)
	plain := func(acct int64, since time.Time) (int, time.Time) {
		t.Helper()
		var n int
		var oldest sql.NullInt64
		if err := s.w.QueryRow("SELECT count(*), min(time) FROM sends WHERE account_id = ? AND time >= ?", acct, since.UnixMilli()).
			Scan(&n, &oldest); err != nil {
			t.Fatal(err)
		}
		if !oldest.Valid {
			return n, time.Time{}
		}
		return n, time.UnixMilli(oldest.Int64)
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	sent := 0
	for step := range 1500 {
		now = now.Add(time.Duration(rng.IntN(240)-20) * time.Second) // sometimes back
		a := accts[rng.IntN(len(accts))]
		switch r := rng.IntN(100); {
		case r < 80:
			l := &store.SendLimit{AccountID: a.ID, Max: 1 + rng.IntN(40), Window: time.Duration(1+rng.IntN(90)) * time.Minute}
			want, oldest := plain(a.ID, now.Add(-l.Window))
			d := store.NewDelivery(fmt.Appendf(nil, "Message-ID: <%d@x>\r\nSubject: s\r\n\r\nbody\r\n", step), now)
			d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Sent}}
			d.Limit = l
			_, err := s.Deliver(ctx, d)
			var le *store.SendLimitError
			switch {
			case want < l.Max && err == nil:
				sent++
			case want >= l.Max && errors.As(err, &le):
				if !le.RetryAt.Equal(oldest.Add(l.Window)) {
					t.Fatalf("step %d: RetryAt %s, want %s", step, le.RetryAt, oldest.Add(l.Window))
				}
			default:
				t.Fatalf("step %d: %d sends in a window of %s, limit %d: %v", step, want, l.Window, l.Max, err)
			}
		case r < 90:
			if _, err := s.Purge(ctx, now, time.Time{}, 1+rng.IntN(10)); err != nil {
				t.Fatal(err)
			}
		default:
			// Rows of an account deleted behind the store's back, as
			// an account's removal would.
			if _, err := s.w.Exec("DELETE FROM sends WHERE account_id = ? AND rowid % 3 = 0", a.ID); err != nil {
				t.Fatal(err)
			}
		}
		for _, b := range accts {
			since := now.Add(-time.Duration(rng.IntN(120)) * time.Minute)
			if rng.IntN(8) == 0 {
				since = time.Time{}
			}
			n, oldest, err := s.SendsSince(ctx, b.ID, since)
			wn, woldest := plain(b.ID, since)
			if err != nil || n != wn || !oldest.Equal(woldest) {
				t.Fatalf("step %d: SendsSince(%s, %s) = %d, %s, %v; the rows say %d, %s", step, b.Address, since, n, oldest, err, wn, woldest)
			}
		}
	}
	if sent == 0 {
		t.Fatal("no send passed: the test checked only refusals")
	}
	t.Logf("%d sends stored", sent)
}
