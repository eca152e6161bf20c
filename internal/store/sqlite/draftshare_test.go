package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
)

// recordingBlobs is the real file blob store, remembering which objects
// were put and not deleted since: what is on disk.
type recordingBlobs struct {
	*fs.Store
	mu   sync.Mutex
	live map[string]bool
}

func (r *recordingBlobs) Put(ctx context.Context, rd io.Reader, size int64) (string, error) {
	key, err := r.Store.Put(ctx, rd, size)
	if err == nil {
		r.mu.Lock()
		r.live[key] = true
		r.mu.Unlock()
	}
	return key, err
}

func (r *recordingBlobs) PutDeferred(ctx context.Context, rd io.Reader, size int64) (string, func() error, error) {
	key, sync, err := r.Store.PutDeferred(ctx, rd, size)
	if err == nil {
		r.mu.Lock()
		r.live[key] = true
		r.mu.Unlock()
	}
	return key, sync, err
}

func (r *recordingBlobs) Delete(ctx context.Context, key string) error {
	err := r.Store.Delete(ctx, key)
	if err == nil {
		r.mu.Lock()
		delete(r.live, key)
		r.mu.Unlock()
	}
	return err
}

// openRecording opens a store in a new directory with its bodies on
// recordingBlobs, closed when the test ends.
func openRecording(t testing.TB) (*Store, *recordingBlobs) {
	t.Helper()
	dir := t.TempDir()
	fsb, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingBlobs{Store: fsb, live: map[string]bool{}}
	s, err := Open(filepath.Join(dir, "xtramail.db"), rec, Options{})
	if err != nil {
		fsb.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		fsb.Close()
	})
	return s, rec
}

func (r *recordingBlobs) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.live {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDraftVersionsShareBlobsNeverLoseOne: random runs of draft versions
// saved whole or sharing ranges with the version they replace (one or
// two ranges, anywhere, also ranges of versions that were themselves in
// pieces), copies of drafts into INBOX (one body, two messages),
// expunges, restarts of the store, and at the end a purge of everything.
// After each step every message's body reads back byte for byte, whole
// and at random offsets; every blob a body refers to is still on disk
// (nothing acknowledged is lost, whatever version or copy went); and
// every blob on disk is referred to by a body (a blob no body refers to
// any more is deleted: no leak). At the end nothing is left.
// Seeds 0 to 3 every run, and one from the time (its subtest is named
// after it, to run again).
func TestDraftVersionsShareBlobsNeverLoseOne(t *testing.T) {
	for _, seed := range []uint64{0, 1, 2, 3, uint64(time.Now().UnixNano())} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { draftSharingRun(t, seed) })
	}
}

func draftSharingRun(t *testing.T, seed uint64) {
	ctx := context.Background()
	dir := t.TempDir()
	rec := &recordingBlobs{live: map[string]bool{}}
	var s *Store
	reopen := func() {
		if s != nil {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rec.Store.Close()
		}
		fsb, err := fs.Open(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		rec.Store = fsb
		if s, err = Open(filepath.Join(dir, "xtramail.db"), rec, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	reopen()
	defer func() { s.Close() }()
	acct := bob(t, s)
	drafts := must1[store.Mailbox](t)(s.Mailbox(ctx, acct.ID, store.Drafts))
	inbox := must1[store.Mailbox](t)(s.Mailbox(ctx, acct.ID, store.Inbox))

	r := rand.New(rand.NewPCG(seed, 14))
	content := map[int64][]byte{} // message id → its body, every message stored
	var live []int64              // drafts that can be replaced
	message := func(text string, file []byte) []byte {
		return []byte(fmt.Sprintf("From: bob@example.test\r\nSubject: %s\r\nContent-Type: text/plain\r\n\r\n%s\r\n%s\r\n", text, text, file))
	}
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(r.IntN(26))
		}
		return b
	}
	save := func(replaces int64, raw []byte, shared []store.SharedRange) {
		t.Helper()
		d := store.NewDelivery(raw, time.Now())
		dl, err := s.SaveDraftSharing(ctx, acct.ID, replaces, d, shared)
		if err != nil {
			t.Fatalf("save draft replacing %d sharing %+v: %v", replaces, shared, err)
		}
		if replaces != 0 {
			delete(content, replaces)
			live = slices.DeleteFunc(live, func(id int64) bool { return id == replaces })
		}
		content[dl.MessageID] = raw
		live = append(live, dl.MessageID)
	}

	check := func(step string) {
		t.Helper()
		// Every message reads back whole and by range.
		for id, want := range content {
			m, err := s.Message(ctx, acct.ID, id)
			if err != nil {
				t.Fatalf("%s: message %d: %v", step, id, err)
			}
			rc, err := s.OpenBody(ctx, acct.ID, m.BodyID)
			if err != nil {
				t.Fatalf("%s: open body of %d: %v", step, id, err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, want) {
				rc.Close()
				t.Fatalf("%s: body of %d reads %d bytes (%v), want its %d", step, id, len(got), err, len(want))
			}
			if ra, ok := rc.(io.ReaderAt); ok {
				for range 4 {
					off := r.IntN(len(want))
					n := 1 + r.IntN(len(want)-off)
					buf := make([]byte, n)
					if k, err := ra.ReadAt(buf, int64(off)); k != n || (err != nil && err != io.EOF) || !bytes.Equal(buf, want[off:off+n]) {
						t.Fatalf("%s: body of %d at %d+%d: %d bytes, %v", step, id, off, n, k, err)
					}
				}
			} else {
				t.Fatalf("%s: the body of %d does not read at offsets", step, id)
			}
			rc.Close()
		}
		// The blobs the bodies refer to are exactly those on disk.
		keys, err := collect("keys", scanOne[string])(s.query(ctx, "SELECT blob_key FROM bodies"))
		if err != nil {
			t.Fatal(err)
		}
		var referred []string
		for _, k := range keys {
			ks, err := blobKeys(k)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				if !slices.Contains(referred, k) {
					referred = append(referred, k)
				}
			}
		}
		slices.Sort(referred)
		onDisk := rec.keys()
		for _, k := range referred {
			if !slices.Contains(onDisk, k) {
				t.Fatalf("%s: blob %s of a stored body was deleted", step, k)
			}
		}
		for _, k := range onDisk {
			if !slices.Contains(referred, k) {
				t.Fatalf("%s: blob %s is on disk with no body referring to it", step, k)
			}
		}
	}

	save(0, message("first", randomBytes(100_000)), nil)
	check("first draft")
	for step := range 60 {
		name := ""
		switch k := r.IntN(10); {
		case k < 5 && len(live) > 0: // an autosave keeping one or two ranges
			old := live[r.IntN(len(live))]
			prev := content[old]
			prefix := message(fmt.Sprintf("v%d", step), randomBytes(r.IntN(300)))
			raw := append([]byte{}, prefix...)
			var shared []store.SharedRange
			for range 1 + r.IntN(2) {
				a := r.IntN(len(prev))
				b := a + 1 + r.IntN(len(prev)-a)
				shared = append(shared, store.SharedRange{Off: int64(len(raw)), Len: int64(b - a), SrcOff: int64(a)})
				raw = append(raw, prev[a:b]...)
				raw = append(raw, randomBytes(r.IntN(50))...)
			}
			save(old, raw, shared)
			name = fmt.Sprintf("step %d: share %+v of %d", step, shared, old)
		case k < 6 && len(live) > 0: // an autosave written whole
			old := live[r.IntN(len(live))]
			save(old, message(fmt.Sprintf("whole %d", step), randomBytes(1000)), nil)
			name = fmt.Sprintf("step %d: replace %d whole", step, old)
		case k < 7: // a new draft
			save(0, message(fmt.Sprintf("new %d", step), randomBytes(50_000)), nil)
			name = fmt.Sprintf("step %d: new draft", step)
		case k < 8 && len(live) > 0: // a draft copied into INBOX: one body, two messages
			id := live[r.IntN(len(live))]
			m := must1[store.Message](t)(s.Message(ctx, acct.ID, id))
			cp, err := s.Copy(ctx, acct.ID, drafts.ID, []uint32{m.UID}, inbox.ID)
			if err != nil || len(cp) != 1 {
				t.Fatalf("copy: %v %v", cp, err)
			}
			msgs := must1[[]store.Message](t)(s.Messages(ctx, acct.ID, inbox.ID))
			for _, x := range msgs {
				if x.UID == cp[0].To {
					content[x.ID] = content[id]
				}
			}
			name = fmt.Sprintf("step %d: copy %d to INBOX", step, id)
		case k < 9 && len(live) > 1: // a draft expunged over IMAP: in Deleted, still read
			id := live[r.IntN(len(live))]
			if err := s.Expunge(ctx, acct.ID, drafts.ID, []int64{id}); err != nil {
				t.Fatal(err)
			}
			live = slices.DeleteFunc(live, func(x int64) bool { return x == id })
			name = fmt.Sprintf("step %d: expunge %d", step, id)
		default:
			reopen()
			name = fmt.Sprintf("step %d: restart", step)
		}
		check(name)
	}
	// Everything purged: no blob left.
	for {
		res, err := s.Purge(ctx, time.Now().Add(400*24*time.Hour), time.Now(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if res.Messages == 0 && res.Bodies == 0 {
			break
		}
	}
	clear(content)
	check("purged")
	if left := rec.keys(); len(left) != 0 {
		t.Errorf("%d blobs left after everything was purged", len(left))
	}
}

// must1 returns a function that fails t on an error and returns the
// value, for must1[T](t)(call()).
func must1[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
