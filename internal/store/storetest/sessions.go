package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testSessions covers web sessions: found only by the hash they were
// created with, touched, deleted one at a time and per principal (keeping
// one), listed per principal, and purged by age.
func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	hash := func(id string) []byte { h := sha256.Sum256([]byte(id)); return h[:] }
	mk := func(id, kind string, principal int64, created time.Time) store.Session {
		return store.Session{IDHash: hash(id), Kind: kind, PrincipalID: principal, CSRF: "csrf-" + id,
			Created: created, LastSeen: created, RemoteIP: "192.0.2.1", UserAgent: "test"}
	}
	a1 := mk("a1", store.PrincipalUser, 7, t0)
	a2 := mk("a2", store.PrincipalUser, 7, t0.Add(time.Minute))
	a3 := mk("a3", store.PrincipalUser, 7, t0.Add(2*time.Minute))
	b1 := mk("b1", store.PrincipalUser, 8, t0)
	// The same id number as a user, but an administrator: another principal.
	adm := mk("adm", store.PrincipalAdmin, 7, t0)
	for _, ses := range []store.Session{a1, a2, a3, b1, adm} {
		if err := s.CreateSession(ctx, ses); err != nil {
			t.Fatalf("create session: %v", err)
		}
	}
	if err := s.CreateSession(ctx, a1); !errors.Is(err, store.ErrExists) {
		t.Fatalf("create a session twice: %v, want ErrExists", err)
	}
	for _, bad := range []store.Session{
		{Kind: store.PrincipalUser, PrincipalID: 1, CSRF: "x"},
		{IDHash: hash("k"), Kind: "robot", PrincipalID: 1, CSRF: "x"},
		{IDHash: hash("k"), Kind: store.PrincipalUser, PrincipalID: 1},
	} {
		if err := s.CreateSession(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("create invalid session %+v: %v, want ErrInvalid", bad, err)
		}
	}

	got := must(s.Session(ctx, hash("a1")))
	if !bytes.Equal(got.IDHash, a1.IDHash) || got.Kind != a1.Kind || got.PrincipalID != 7 || got.CSRF != "csrf-a1" ||
		!got.Created.Equal(t0) || !got.LastSeen.Equal(t0) || got.RemoteIP != "192.0.2.1" || got.UserAgent != "test" {
		t.Fatalf("session read back as %+v, want %+v", got, a1)
	}
	// The id itself (as opposed to its hash) finds nothing.
	if _, err := s.Session(ctx, []byte("a1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session by raw id: %v, want ErrNotFound", err)
	}

	t1 := t0.Add(10 * time.Minute)
	if err := s.TouchSession(ctx, hash("a1"), t1); err != nil {
		t.Fatal(err)
	}
	// An older touch (a slow request finishing late) never moves it back.
	if err := s.TouchSession(ctx, hash("a1"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := must(s.Session(ctx, hash("a1"))); !got.LastSeen.Equal(t1) || !got.Created.Equal(t0) {
		t.Fatalf("after touch: created %v last seen %v, want %v and %v", got.Created, got.LastSeen, t0, t1)
	}
	if err := s.TouchSession(ctx, hash("nope"), t1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch a missing session: %v, want ErrNotFound", err)
	}

	list := must(s.PrincipalSessions(ctx, store.PrincipalUser, 7))
	if len(list) != 3 || !bytes.Equal(list[0].IDHash, a3.IDHash) || !bytes.Equal(list[2].IDHash, a1.IDHash) {
		t.Fatalf("sessions of user 7: %d, want a3, a2, a1", len(list))
	}

	// Sign out everywhere else: a2 stays, a1 and a3 go; nobody else's.
	if n := must(s.DeleteSessions(ctx, store.PrincipalUser, 7, hash("a2"))); n != 2 {
		t.Fatalf("delete other sessions: %d deleted, want 2", n)
	}
	for id, want := range map[string]bool{"a1": false, "a2": true, "a3": false, "b1": true, "adm": true} {
		_, err := s.Session(ctx, hash(id))
		if want && err != nil || !want && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s after deleting user 7's others: %v (want kept: %v)", id, err, want)
		}
	}
	// Without one to keep: all of the principal's.
	if n := must(s.DeleteSessions(ctx, store.PrincipalUser, 7, nil)); n != 1 {
		t.Fatalf("delete all sessions: %d deleted, want 1", n)
	}
	if _, err := s.Session(ctx, hash("a2")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a2 after deleting all: %v", err)
	}

	if err := s.DeleteSession(ctx, hash("b1")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, hash("b1")); err != nil {
		t.Fatalf("delete a deleted session: %v, want nil", err)
	}
	if _, err := s.Session(ctx, hash("b1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v, want ErrNotFound", err)
	}

	// Purge: by creation (absolute timeout) and by last use (idle).
	old := mk("old", store.PrincipalUser, 9, t0.Add(-48*time.Hour))
	idle := mk("idle", store.PrincipalUser, 9, t0.Add(-time.Hour))
	fresh := mk("fresh", store.PrincipalUser, 9, t0)
	for _, ses := range []store.Session{old, idle, fresh} {
		if err := s.CreateSession(ctx, ses); err != nil {
			t.Fatal(err)
		}
	}
	n := must(s.PurgeSessions(ctx, t0.Add(-24*time.Hour), t0.Add(-30*time.Minute)))
	if n != 2 {
		t.Fatalf("purge: %d sessions, want 2 (old and idle)", n)
	}
	if _, err := s.Session(ctx, hash("fresh")); err != nil {
		t.Fatalf("fresh session after purge: %v", err)
	}
	if _, err := s.Session(ctx, hash("adm")); err != nil {
		t.Fatalf("admin session after purge: %v", err)
	}
}
