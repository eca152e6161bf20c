package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

const sessionCols = "id_hash, kind, principal_id, csrf, created, last_seen, remote_ip, user_agent"

func scanSession(sc scanner) (store.Session, error) {
	var s store.Session
	var created, seen int64
	err := sc.Scan(&s.IDHash, &s.Kind, &s.PrincipalID, &s.CSRF, &created, &seen, &s.RemoteIP, &s.UserAgent)
	s.Created, s.LastSeen = time.UnixMilli(created), time.UnixMilli(seen)
	return s, err
}

func checkSession(s store.Session) error {
	switch {
	case len(s.IDHash) == 0:
		return fmt.Errorf("session without id hash: %w", store.ErrInvalid)
	case s.Kind != store.PrincipalUser && s.Kind != store.PrincipalAdmin:
		return fmt.Errorf("session kind %q: %w", s.Kind, store.ErrInvalid)
	case s.CSRF == "":
		return fmt.Errorf("session without CSRF token: %w", store.ErrInvalid)
	}
	return nil
}

func (s *Store) CreateSession(ctx context.Context, ses store.Session) error {
	if err := checkSession(ses); err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		_, err := t.Exec("INSERT INTO web_sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			ses.IDHash, ses.Kind, ses.PrincipalID, ses.CSRF, ses.Created.UnixMilli(), ses.LastSeen.UnixMilli(),
			ses.RemoteIP, ses.UserAgent)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("create session: %w", store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	})
}

func (s *Store) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	ses, err := scanSession(s.queryRow(ctx, "SELECT "+sessionCols+" FROM web_sessions WHERE id_hash = ?", idHash))
	if err != nil {
		return store.Session{}, notFound(err, "session")
	}
	return ses, nil
}

func (s *Store) TouchSession(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	return s.updateOne(ctx, "session", "UPDATE web_sessions SET last_seen = max(last_seen, ?) WHERE id_hash = ?",
		lastSeen.UnixMilli(), idHash)
}

func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM web_sessions WHERE id_hash = ?", idHash); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}

func (s *Store) DeleteSessions(ctx context.Context, kind string, principalID int64, keep []byte) (int, error) {
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.Exec("DELETE FROM web_sessions WHERE kind = ? AND principal_id = ? AND id_hash != ?",
			kind, principalID, append([]byte{}, keep...))
		if err != nil {
			return fmt.Errorf("delete sessions of %s %d: %w", kind, principalID, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

func (s *Store) PrincipalSessions(ctx context.Context, kind string, principalID int64) ([]store.Session, error) {
	return collect(fmt.Sprintf("list sessions of %s %d", kind, principalID), scanSession)(
		s.query(ctx, "SELECT "+sessionCols+" FROM web_sessions WHERE kind = ? AND principal_id = ? ORDER BY created DESC", kind, principalID))
}

func (s *Store) PurgeSessions(ctx context.Context, createdBefore, seenBefore time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.Exec("DELETE FROM web_sessions WHERE created < ? OR last_seen < ?",
			createdBefore.UnixMilli(), seenBefore.UnixMilli())
		if err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
