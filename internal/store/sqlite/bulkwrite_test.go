package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// TestBulkWritesRunAlone: a request written with writeAlone is a group
// of its own, outside any savepoint (inside one, SQLite's sub-journal
// made a request's cost grow with the square of its size), and its
// failure undoes it and nothing else, while many small requests are
// grouped around it.
func TestBulkWritesRunAlone(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	a := bob(t, s)
	ctx := t.Context()
	var mu sync.Mutex
	groups := map[*tx][]string{} // the requests each transaction ran
	insert := func(t *tx, name string) error {
		mu.Lock()
		groups[t] = append(groups[t], name)
		mu.Unlock()
		return subscribe(t, a.ID, name)
	}
	errBulk := errors.New("bulk request fails after its insert")
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 300 {
		wg.Go(func() {
			errs <- s.write(ctx, func(t *tx) error { return insert(t, "small"+strconv.Itoa(i)) })
		})
		if i%30 != 0 {
			continue
		}
		wg.Go(func() {
			name := "bulk" + strconv.Itoa(i)
			err := s.writeAlone(ctx, func(t *tx) error {
				if _, err := t.Exec("RELEASE req"); err == nil {
					return fmt.Errorf("%s ran inside the savepoint req", name)
				}
				if err := insert(t, name); err != nil {
					return err
				}
				if i == 150 {
					return errBulk
				}
				return nil
			})
			if i == 150 {
				if !errors.Is(err, errBulk) {
					err = fmt.Errorf("the failing bulk request answered %v", err)
				} else {
					err = nil
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	shared := 0
	for _, names := range groups {
		for _, n := range names {
			if n[:4] == "bulk" && len(names) != 1 {
				t.Fatalf("%s shared its transaction with %v", n, names)
			}
		}
		if len(names) > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("no two small requests were grouped: the test did not load the writer")
	}
	got := subscribed(t, s, a.ID)
	for i := range 300 {
		if !got["small"+strconv.Itoa(i)] {
			t.Errorf("small%d lost", i)
		}
		if i%30 == 0 && got["bulk"+strconv.Itoa(i)] != (i != 150) {
			t.Errorf("bulk%d stored: %v", i, got["bulk"+strconv.Itoa(i)])
		}
	}
}

// BenchmarkBulkMove measures one MOVE of a whole mailbox of n messages
// (an IMAP client's "move all", a webmail select-all) in us/message,
// which must not grow with n.
func BenchmarkBulkMove(b *testing.B) {
	for _, n := range []int{2_000, 8_000, 32_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := benchStore(b)
			acct, mb := bulkMailbox(b, s, n, 0)
			ctx := context.Background()
			other, err := s.CreateMailbox(ctx, acct, "Other", "")
			if err != nil {
				b.Fatal(err)
			}
			uids, err := s.UIDs(ctx, acct, mb)
			if err != nil {
				b.Fatal(err)
			}
			from, to := mb, other.ID
			b.ResetTimer()
			for range b.N {
				moved, err := s.Move(ctx, acct, from, uids, to)
				if err != nil || len(moved) != n {
					b.Fatal(len(moved), err)
				}
				uids = uids[:0]
				for _, c := range moved {
					uids = append(uids, c.To)
				}
				from, to = to, from
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "us/message")
		})
	}
}
