package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestPurgeAndAccountRemovalKeepSharedBlobs: a draft version in pieces
// refers to the blob of a body that other messages still use (the
// message it was copied from into Drafts, and another account's copy of
// the same delivery). Retention purging the original, then removing the
// draft's account, must each leave every body still stored whole, and
// only the last user's going deletes the blob (nothing leaks either).
func TestPurgeAndAccountRemovalKeepSharedBlobs(t *testing.T) {
	ctx := context.Background()
	s, rec := openRecording(t)
	bobAcct := bob(t, s)
	alice, err := s.CreateAccount(ctx, "alice@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	file := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	raw := func(subject string) []byte {
		return fmt.Appendf(nil, "From: carol@example.test\r\nSubject: %s\r\nContent-Type: text/plain\r\n\r\n%s\r\n", subject, file)
	}
	// readsBack checks that account's message id still reads raw whole.
	readsBack := func(step string, accountID, id int64, want []byte) {
		t.Helper()
		m, err := s.Message(ctx, accountID, id)
		if err != nil {
			t.Fatalf("%s: message %d: %v", step, id, err)
		}
		rc, err := s.OpenBody(ctx, accountID, m.BodyID)
		if err != nil {
			t.Fatalf("%s: open body of %d: %v", step, id, err)
		}
		defer rc.Close()
		if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: body of %d reads %d bytes (%v), want %d", step, id, len(got), err, len(want))
		}
	}
	// draftSharing copies bob's INBOX message into Drafts, then saves a
	// new version of that draft keeping its file where it is stored.
	draftSharing := func(msg store.Delivered, src []byte) (int64, []byte) {
		t.Helper()
		drafts := must1[store.Mailbox](t)(s.Mailbox(ctx, bobAcct.ID, store.Drafts))
		cp, err := s.Copy(ctx, bobAcct.ID, msg.MailboxID, []uint32{msg.UID}, drafts.ID)
		if err != nil || len(cp) != 1 {
			t.Fatalf("copy into Drafts: %v %v", cp, err)
		}
		var draftID int64
		for _, m := range must1[[]store.Message](t)(s.Messages(ctx, bobAcct.ID, drafts.ID)) {
			if m.UID == cp[0].To {
				draftID = m.ID
			}
		}
		head := []byte("From: bob@example.test\r\nSubject: Re\r\nContent-Type: text/plain\r\n\r\n")
		body := append(slices.Clip(head), src[len(src)-len(file)-2:]...)
		shared := []store.SharedRange{{Off: int64(len(head)), Len: int64(len(file)), SrcOff: int64(len(src) - len(file) - 2)}}
		dl, err := s.SaveDraftSharing(ctx, bobAcct.ID, draftID, store.NewDelivery(body, time.Now()), shared)
		if err != nil {
			t.Fatalf("save draft sharing: %v", err)
		}
		return dl.MessageID, body
	}
	deliver := func(raw []byte, received time.Time, to ...int64) []store.Delivered {
		t.Helper()
		d := store.NewDelivery(raw, received)
		for _, a := range to {
			d.Copies = append(d.Copies, store.Copy{AccountID: a, Mailbox: store.Inbox})
		}
		dl, err := s.Deliver(ctx, d)
		if err != nil || len(dl) != len(to) {
			t.Fatalf("deliver: %v %v", dl, err)
		}
		return dl
	}

	// Retention: the original is past the window, the draft made from
	// it is not.
	oldRaw := raw("old")
	old := deliver(oldRaw, time.Now().Add(-60*24*time.Hour), bobAcct.ID)[0]
	draft1, draft1Raw := draftSharing(old, oldRaw)
	blobsBefore := rec.keys()
	for {
		res, err := s.Purge(ctx, time.Now(), time.Time{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if res.Messages == 0 {
			break
		}
	}
	if _, err := s.Message(ctx, bobAcct.ID, old.MessageID); err == nil {
		t.Fatal("the 60-day-old message was not purged")
	}
	readsBack("after purge", bobAcct.ID, draft1, draft1Raw)
	if got := rec.keys(); !slices.Equal(got, blobsBefore) {
		t.Fatalf("purge of the original deleted a blob the draft uses: %v, before %v", got, blobsBefore)
	}

	// Account removal: one delivery to alice and bob, bob's draft shares
	// its file, then bob goes.
	sharedRaw := raw("shared")
	both := deliver(sharedRaw, time.Now(), alice.ID, bobAcct.ID)
	draftSharing(both[1], sharedRaw)
	if err := s.DeleteAccount(ctx, bobAcct.Address); err != nil {
		t.Fatal(err)
	}
	readsBack("after bob's removal", alice.ID, both[0].MessageID, sharedRaw)
	if n := len(rec.keys()); n != 1 {
		t.Fatalf("after bob's removal %d blobs are on disk, want alice's one", n)
	}

	// The last user going deletes it.
	if err := s.DeleteAccount(ctx, alice.Address); err != nil {
		t.Fatal(err)
	}
	if left := rec.keys(); len(left) != 0 {
		t.Fatalf("%d blobs left after every account was removed: %v", len(left), left)
	}
}

// TestDraftSharingEverythingLeavesNoBlob: a new version whose every byte
// is shared with the version it replaces writes an empty blob for its
// new bytes that no body refers to: it must not stay on disk.
func TestDraftSharingEverythingLeavesNoBlob(t *testing.T) {
	ctx := context.Background()
	s, rec := openRecording(t)
	acct := bob(t, s)
	raw := []byte("From: bob@example.test\r\nSubject: same\r\nContent-Type: text/plain\r\n\r\nsame text\r\n")
	v1, err := s.SaveDraft(ctx, acct.ID, 0, store.NewDelivery(raw, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.SaveDraftSharing(ctx, acct.ID, v1.MessageID, store.NewDelivery(raw, time.Now()),
		[]store.SharedRange{{Off: 0, Len: int64(len(raw)), SrcOff: 0}})
	if err != nil {
		t.Fatal(err)
	}
	m := must1[store.Message](t)(s.Message(ctx, acct.ID, v2.MessageID))
	rc, err := s.OpenBody(ctx, acct.ID, m.BodyID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("the shared version reads %q (%v)", got, err)
	}
	if keys := rec.keys(); len(keys) != 1 {
		t.Fatalf("%d blobs on disk for one draft of one body, want 1: %v", len(keys), keys)
	}
}
