package sqlite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestGroupRunsRequestsWhileBodiesSync: while a group waits for its
// bodies to be synced before it may commit, the writer runs the requests
// queued meanwhile in that group rather than waiting idle. Requests that
// may run again run outside savepoints: when one of them fails, those
// before it run again, and its failure undoes only itself. The others
// run last, once no more requests join; a request that must run alone
// ends the joining and runs next, on its own.
func TestGroupRunsRequestsWhileBodiesSync(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	a := bob(t, s)
	ctx := t.Context()
	var mu sync.Mutex
	runs := map[string][]*tx{}
	ran := make(chan string, 16)
	request := func(name string, fail bool) func(*tx) error {
		return func(t *tx) error {
			mu.Lock()
			runs[name] = append(runs[name], t)
			mu.Unlock()
			ran <- name
			if err := subscribe(t, a.ID, name); err != nil {
				return err
			}
			if fail {
				return errors.New(name + " fails after its insert")
			}
			return nil
		}
	}
	release := make(chan struct{})
	waitRun := func(what string) {
		t.Helper()
		select {
		case name := <-ran:
			if name != what {
				t.Fatalf("%s ran, want %s", name, what)
			}
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatalf("%s did not run while the group's body was syncing", what)
		}
	}
	answers := map[string]chan error{}
	for _, name := range []string{"first", "joined", "failed", "other", "alone"} {
		answers[name] = make(chan error, 1)
	}
	go func() {
		answers["first"] <- s.writeRerun(ctx, 0, func() error { <-release; return nil }, request("first", false))
	}()
	waitRun("first")
	go func() { answers["joined"] <- s.writeRerun(ctx, 0, nil, request("joined", false)) }()
	waitRun("joined")
	go func() { answers["failed"] <- s.writeRerun(ctx, 0, nil, request("failed", true)) }()
	waitRun("failed")
	waitRun("first") // again, after the failure, in a savepoint
	waitRun("joined")
	notYet := func(why string) {
		t.Helper()
		select {
		case name := <-ran:
			close(release)
			t.Fatalf("%s ran %s", name, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
	go func() { answers["other"] <- s.write(ctx, request("other", false)) }()
	notYet("while requests could still join")
	// A request that must run alone ends the joining: the other runs,
	// in the group, and the bulk one waits for the group's commit.
	go func() { answers["alone"] <- s.writeAlone(ctx, request("alone", false)) }()
	waitRun("other")
	notYet("while the group waited for its body")
	close(release)
	for name, c := range answers {
		err := <-c
		if want := name == "failed"; (err != nil) != want {
			t.Errorf("%s answered %v", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	final := runs["first"][len(runs["first"])-1]
	for name, n := range map[string]int{"first": 2, "joined": 2, "failed": 1, "other": 1, "alone": 1} {
		if len(runs[name]) != n {
			t.Errorf("%s ran %d times, want %d", name, len(runs[name]), n)
		}
	}
	if runs["joined"][1] != final || runs["other"][0] != final {
		t.Error("the requests queued while the body synced ran in another transaction")
	}
	if runs["alone"][0] == final {
		t.Error("the bulk request ran in the group's transaction")
	}
	have := subscribed(t, s, a.ID)
	for name := range answers {
		if have[name] != (name != "failed") {
			t.Errorf("subscription %q kept: %v", name, have[name])
		}
	}
}

// TestGroupRerunsAfterBareFailure: requests that may run again run
// outside savepoints, first in their group; when one of them fails, the
// transaction is rolled back and those before it run again, each in a
// savepoint. Randomized: many concurrent requests of both kinds, some
// failing after their insert, some with a body to sync. Every request
// gets its own answer, exactly the successful ones' rows remain, and a
// request that may not run again ran once.
func TestGroupRerunsAfterBareFailure(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	s := openWith(t, t.TempDir(), Options{SyncDelay: time.Millisecond})
	defer s.Close()
	a := bob(t, s)
	ctx := t.Context()
	const n = 600
	type plan struct {
		rerun, fails bool
		sync         time.Duration // how long its body takes to sync; 0: none
		pause        time.Duration // before the next request
	}
	plans := make([]plan, n)
	for i := range plans {
		plans[i] = plan{rerun: rng.IntN(3) > 0, fails: rng.IntN(6) == 0}
		if rng.IntN(2) == 0 {
			plans[i].sync = time.Duration(1+rng.IntN(500)) * time.Microsecond
		}
		if rng.IntN(4) == 0 {
			plans[i].pause = time.Duration(rng.IntN(300)) * time.Microsecond
		}
	}
	runs := make([]atomic.Int32, n)
	errFail := errors.New("request fails after its insert")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			fn := func(t *tx) error {
				runs[i].Add(1)
				if err := subscribe(t, a.ID, "r"+strconv.Itoa(i)); err != nil {
					return err
				}
				if p.fails {
					return fmt.Errorf("request %d: %w", i, errFail)
				}
				return nil
			}
			var sync func() error
			if p.sync > 0 {
				sync = func() error { time.Sleep(p.sync); return nil }
			}
			if p.rerun {
				errs[i] = s.writeRerun(ctx, 0, sync, fn)
			} else {
				errs[i] = s.writeSynced(ctx, sync, fn)
			}
		})
		time.Sleep(p.pause)
	}
	wg.Wait()
	have := subscribed(t, s, a.ID)
	reran := 0
	for i, p := range plans {
		switch {
		case p.fails && !errors.Is(errs[i], errFail):
			t.Errorf("request %d (rerun %v) answered %v, want its own failure", i, p.rerun, errs[i])
		case p.fails && errs[i].Error() != fmt.Sprintf("request %d: %v", i, errFail):
			t.Errorf("request %d answered another's failure: %v", i, errs[i])
		case !p.fails && errs[i] != nil:
			t.Errorf("request %d (rerun %v): %v", i, p.rerun, errs[i])
		}
		if have["r"+strconv.Itoa(i)] == p.fails {
			t.Errorf("request %d (fails %v): row kept %v", i, p.fails, !p.fails)
		}
		switch r := runs[i].Load(); {
		case r == 0:
			t.Errorf("request %d never ran", i)
		case r > 1 && !p.rerun:
			t.Errorf("request %d, which may not run again, ran %d times", i, r)
		case r > 1:
			reran++
		}
	}
	t.Logf("%d requests, %d ran again after another's failure, %d commits", n, reran, s.commits.Load())
}

// TestDeliverAllRerunRandomized: deliveries run outside savepoints and
// run again when another delivery of their group fails. Many concurrent
// deliveries, some to a mailbox that does not exist (they fail after the
// body row is written), some repeating an earlier Message-ID and body
// (the duplicate rule keeps one): each answer is the delivery's own, and
// the mailboxes hold exactly one message per Message-ID delivered, with
// counters that agree.
func TestDeliverAllRerunRandomized(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	s := openWith(t, t.TempDir(), Options{SyncDelay: 2 * time.Millisecond})
	defer s.Close()
	ctx := t.Context()
	accts := users(t, s, 4)
	const n = 400
	type plan struct {
		acct    int
		msgid   int
		missing bool
	}
	plans := make([]plan, n)
	for i := range plans {
		plans[i] = plan{acct: rng.IntN(len(accts)), msgid: rng.IntN(60), missing: rng.IntN(8) == 0}
	}
	out := make([][]store.Delivered, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				p := plans[i]
				raw := fmt.Sprintf("From: a@remote.test\r\nSubject: m%d\r\nMessage-ID: <m%d@remote.test>\r\n\r\nbody %d\r\n", p.msgid, p.msgid, p.msgid)
				d := store.NewDelivery([]byte(raw), time.Now())
				mailbox := store.Inbox
				if p.missing {
					mailbox = "Missing"
				}
				d.Copies = []store.Copy{{AccountID: accts[p.acct].ID, Mailbox: mailbox}}
				var res [][]store.Delivered
				if res, errs[i] = s.DeliverAll(ctx, d); errs[i] == nil {
					out[i] = res[0]
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	// want[acct][msgid]: the UID of the message kept.
	want := make([]map[int]uint32, len(accts))
	for i := range want {
		want[i] = map[int]uint32{}
	}
	for i, p := range plans {
		if p.missing {
			if !errors.Is(errs[i], store.ErrNotFound) {
				t.Errorf("delivery %d to a missing mailbox answered %v", i, errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		uid := out[i][0].UID
		if have, ok := want[p.acct][p.msgid]; ok && have != uid {
			t.Errorf("delivery %d: <m%d> of account %d is UID %d and %d", i, p.msgid, p.acct, have, uid)
		}
		want[p.acct][p.msgid] = uid
	}
	for ai, a := range accts {
		mb, err := s.Mailbox(ctx, a.ID, store.Inbox)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := s.Messages(ctx, a.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(want[ai]) || int(mb.Messages) != len(msgs) {
			t.Errorf("account %d: %d messages, counter %d, want %d", ai, len(msgs), mb.Messages, len(want[ai]))
		}
		for _, m := range msgs {
			var id int
			if _, err := fmt.Sscanf(m.MessageID, "m%d@remote.test", &id); err != nil {
				t.Fatalf("message %q: %v", m.MessageID, err)
			}
			if want[ai][id] != m.UID {
				t.Errorf("account %d: <m%d> is UID %d, deliveries answered %d", ai, id, m.UID, want[ai][id])
			}
		}
	}
}

// subscribe is the write of the writer tests' requests: a subscription
// row, which subscribed finds.
func subscribe(t *tx, account int64, name string) error {
	_, err := t.Exec("INSERT INTO subscriptions (account_id, name) VALUES (?, ?)", account, name)
	return err
}

// subscribed is the set of the account's subscriptions: the rows the
// tests' requests insert.
func subscribed(t *testing.T, s *Store, account int64) map[string]bool {
	t.Helper()
	subs, err := s.Subscriptions(t.Context(), account)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, name := range subs {
		have[name] = true
	}
	return have
}

// TestSettleRunsAgainWithWhatItTook: a settle runs outside a savepoint
// (writeRerun); when a request after it in its group fails there, the
// group is rolled back and the settle runs again, with the settles it
// took the first time: take is called once, and the entry is settled
// and its record logged once.
func TestSettleRunsAgainWithWhatItTook(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	a := bob(t, s)
	ctx := t.Context()
	raw := []byte("From: bob@example.test\r\nMessage-ID: <settle-again@x>\r\nSubject: settled once\r\n\r\nhello\r\n")
	d := store.NewDelivery(raw, time.Now())
	d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound = []store.Outbound{{AccountID: a.ID, MailFrom: a.Address, Rcpt: "carol@remote.test"}}
	if _, err := s.DeliverAll(ctx, d); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ClaimQueue(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("claimed %d entries (%v), want 1", len(entries), err)
	}
	e := entries[0]

	// The first request holds the group open (its body syncs until
	// released), so that the settle and the failing request join it.
	release := make(chan struct{})
	first := make(chan error, 1)
	firstRan := make(chan struct{}, 4)
	go func() {
		first <- s.writeRerun(ctx, 0, func() error { <-release; return nil }, func(t *tx) error {
			firstRan <- struct{}{}
			return nil
		})
	}()
	<-firstRan
	var takes atomic.Int32
	taken := make(chan struct{})
	settled := make(chan error, 1)
	go func() {
		settled <- s.SettleQueueFrom(ctx, func() ([]store.QueueSettle, []store.LogEvent) {
			if takes.Add(1) == 1 {
				close(taken)
			}
			return []store.QueueSettle{{ID: e.ID, Outcome: store.QueueDelivered}},
				[]store.LogEvent{{Time: time.Now(), Status: msglog.Delivered, MessageID: e.MessageID, Subject: e.Subject,
					MailFrom: e.MailFrom, Rcpt: e.Rcpt, DomainID: e.DomainID, Detail: "250 2.0.0 settled once"}}
		})
	}()
	select {
	case <-taken:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the settle did not run while the group's body synced")
	}
	failedRan := make(chan struct{})
	failed := make(chan error, 1)
	go func() {
		failed <- s.writeRerun(ctx, 0, nil, func(t *tx) error {
			defer close(failedRan)
			if err := subscribe(t, a.ID, "fails"); err != nil {
				return err
			}
			return errors.New("fails after its insert")
		})
	}()
	select {
	case <-failedRan:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the failing request did not run while the group's body synced")
	}
	// The settle ran again after the rollback, before the failing
	// request's answer; the group commits once the body is released.
	close(release)
	if err := <-failed; err == nil {
		t.Error("the failing request succeeded")
	}
	if err := <-first; err != nil {
		t.Errorf("first request: %v", err)
	}
	if err := <-settled; err != nil {
		t.Fatalf("settle: %v", err)
	}
	if n := takes.Load(); n != 1 {
		t.Errorf("take called %d times, want 1", n)
	}
	if left, err := s.QueueEntries(ctx, store.QueueQuery{}); err != nil || len(left) != 0 {
		t.Errorf("queue holds %d entries after the settle (%v), want none", len(left), err)
	}
	events, err := s.SearchLog(ctx, store.LogQuery{Address: "carol@remote.test"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Status == msglog.Delivered {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d delivered records in the log, want 1: %+v", n, events)
	}
	if subscribed(t, s, a.ID)["fails"] {
		t.Error("the failed request's row was kept")
	}
}
