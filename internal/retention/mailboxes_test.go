package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/blob"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

// TestEveryMailboxRolls: the window applies to every copy of an account,
// wherever it is (INBOX, Sent, Trash, a folder of the user's own) and
// whether or not the user deleted it (restorable until the window ends),
// and to no copy before its time.
func TestEveryMailboxRolls(t *testing.T) {
	st := sqlitetest.New(t)
	ctx := context.Background()
	st.CreateDomain(ctx, "example.test", 7)
	a, err := st.CreateAccount(ctx, "a@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateMailbox(ctx, a.ID, "Projects/2026", ""); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	mailboxes := []string{store.Inbox, store.Sent, store.Trash, "Projects/2026"}
	for i, mb := range mailboxes {
		for day := range 2 {
			raw := fmt.Appendf(nil, "Subject: %s %d\r\nMessage-ID: <%d.%d@x>\r\n\r\nbody\r\n", mb, day, i, day)
			d := store.NewDelivery(raw, start.Add(time.Duration(day)*24*time.Hour))
			d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: mb}}
			dl, err := st.Deliver(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if day == 0 {
				// The user deleted the older one: restorable, then gone.
				if err := st.Expunge(ctx, a.ID, dl[0].MailboxID, []int64{dl[0].MessageID}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	count := func() (live, deleted int) {
		for _, name := range mailboxes {
			mb, err := st.Mailbox(ctx, a.ID, name)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := st.Messages(ctx, a.ID, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			ex, err := st.Expunged(ctx, a.ID, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			live, deleted = live+len(ms), deleted+len(ex)
		}
		return live, deleted
	}
	now := start
	w := &Worker{Store: st, Log: slog.New(slog.DiscardHandler), Batch: 3, LogDays: 90, Now: func() time.Time { return now }}
	for _, step := range []struct {
		at            time.Duration // after start
		live, deleted int
	}{
		{7*24*time.Hour - time.Minute, 4, 4}, // nothing is 7 days old yet
		{7*24*time.Hour + time.Minute, 4, 0}, // day 0's copies, deleted or not, everywhere
		{8*24*time.Hour + time.Minute, 0, 0},
	} {
		now = start.Add(step.at)
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if live, deleted := count(); live != step.live || deleted != step.deleted {
			t.Fatalf("at +%v: %d live and %d deleted copies, want %d and %d", step.at, live, deleted, step.live, step.deleted)
		}
	}
}

// recordingBlobs records the keys put and deleted; with fail set, its
// Delete fails, as a purge cut off by a crash after its transaction
// committed would leave its blobs.
type recordingBlobs struct {
	blob.Store
	fail         bool
	put, deleted *[]string
}

func (b recordingBlobs) Put(ctx context.Context, r io.Reader, size int64) (string, error) {
	k, err := b.Store.Put(ctx, r, size)
	*b.put = append(*b.put, k)
	return k, err
}

func (b recordingBlobs) Delete(ctx context.Context, key string) error {
	if b.fail {
		return errors.New("disk went away")
	}
	*b.deleted = append(*b.deleted, key)
	return b.Store.Delete(ctx, key)
}

// TestPurgeResumesAfterRestart: bodies whose blobs could not be deleted
// when their messages were purged are deleted by a later pass of a
// restarted service, and a blob shared by copies in two domains goes only
// with the last of them.
func TestPurgeResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func(wrap func(blob.Store) blob.Store) *sqlite.Store {
		b, err := fs.Open(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(filepath.Join(dir, "x.db"), wrap(b), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	var put, deleted []string
	st := open(func(b blob.Store) blob.Store { return recordingBlobs{b, true, &put, &deleted} })
	st.CreateDomain(ctx, "short.test", 2)
	st.CreateDomain(ctx, "long.test", 10)
	s, _ := st.CreateAccount(ctx, "s@short.test", "")
	l, _ := st.CreateAccount(ctx, "l@long.test", "")
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	d := store.NewDelivery([]byte("Subject: shared\r\nMessage-ID: <s@x>\r\n\r\nshared body\r\n"), start)
	d.Copies = []store.Copy{{AccountID: s.ID, Mailbox: store.Inbox}, {AccountID: l.ID, Mailbox: store.Inbox}}
	shared, err := st.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	d = store.NewDelivery([]byte("Subject: own\r\nMessage-ID: <o@x>\r\n\r\nown body\r\n"), start)
	d.Copies = []store.Copy{{AccountID: s.ID, Mailbox: store.Inbox}}
	own, err := st.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	msg := func(st *sqlite.Store, acct, id int64) store.Message {
		m, err := st.Message(ctx, acct, id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	sharedBody, ownBody := msg(st, l.ID, shared[1].MessageID).BodyID, msg(st, s.ID, own[0].MessageID).BodyID
	if len(put) != 2 {
		t.Fatalf("blobs put: %q", put)
	}
	sharedKey, ownKey := put[0], put[1]

	now := start.Add(3 * 24 * time.Hour)
	w := &Worker{Store: st, Log: slog.New(slog.DiscardHandler), Batch: 500, LogDays: 90, Now: func() time.Time { return now }}
	if r, err := w.RunOnce(ctx); err != nil || r.Messages != 2 {
		t.Fatalf("first pass: %+v, %v", r, err)
	}
	if _, err := st.Message(ctx, s.ID, own[0].MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("short.test's copy after its window: %v", err)
	}
	st.Close()

	// The restarted service deletes what the first pass could not, and
	// the long domain's copy of the shared body is still whole.
	st = open(func(b blob.Store) blob.Store { return recordingBlobs{b, false, &put, &deleted} })
	defer st.Close()
	w.Store = st
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	rc, err := st.OpenBody(ctx, l.ID, sharedBody)
	if err != nil {
		t.Fatalf("shared body while long.test keeps its copy: %v", err)
	}
	rc.Close()
	if _, err := st.OpenBody(ctx, s.ID, ownBody); err == nil {
		t.Fatal("purged body still readable")
	}
	if !slices.Equal(deleted, []string{ownKey}) {
		t.Errorf("blobs deleted after the restart: %q, want the purged body's %q", deleted, ownKey)
	}
	now = start.Add(11 * 24 * time.Hour)
	if r, err := w.RunOnce(ctx); err != nil || r.Messages != 1 || r.Bodies != 1 {
		t.Fatalf("last copy of the shared body: %+v, %v", r, err)
	}
	if _, err := st.OpenBody(ctx, l.ID, sharedBody); err == nil {
		t.Fatal("shared body readable after its last copy went")
	}
	if !slices.Equal(deleted, []string{ownKey, sharedKey}) {
		t.Errorf("blobs deleted: %q", deleted)
	}
}
