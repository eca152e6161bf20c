package store

import (
	"context"
	"time"
)

// Principal kinds of a web session.
const (
	// PrincipalUser is a protected address signed in to the webmail; its
	// PrincipalID is the Account's id.
	PrincipalUser = "user"
	// PrincipalAdmin is an administrator signed in to the console; its
	// PrincipalID is the administrator's id (package admin).
	PrincipalAdmin = "admin"
)

// Session is one server-side web session. The store knows it only by a
// hash of the id in the browser's cookie (IDHash), so that a copy of the
// database does not hand out live sessions.
type Session struct {
	IDHash []byte // SHA-256 of the cookie's session id
	// Kind is PrincipalUser or PrincipalAdmin; PrincipalID names the
	// account or administrator.
	Kind        string
	PrincipalID int64
	// CSRF is the per-session token that every state-changing request
	// made with the session's cookie must carry.
	CSRF      string
	Created   time.Time
	LastSeen  time.Time // moved forward by TouchSession
	RemoteIP  string    // where it was started, for "your sessions" lists
	UserAgent string
}

// Sessions keeps web sessions. Expiry is the caller's decision (the web
// layer compares Created and LastSeen with its configured timeouts and
// deletes what has expired): the store only keeps and finds them, and
// drops them in bulk with PurgeSessions.
type Sessions interface {
	// CreateSession stores s. An IDHash already present is ErrExists.
	CreateSession(ctx context.Context, s Session) error
	// Session finds a session by the hash of its id: ErrNotFound when it
	// was never created or has been deleted.
	Session(ctx context.Context, idHash []byte) (Session, error)
	// TouchSession sets LastSeen (ErrNotFound for a deleted session).
	TouchSession(ctx context.Context, idHash []byte, lastSeen time.Time) error
	// DeleteSession removes one session; deleting one that is not there
	// is not an error (sign-out twice, from two tabs).
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteSessions removes every session of a principal except the one
	// whose hash is keep (nil: all of them) and returns how many went:
	// "sign out everywhere else", and "password changed: other sessions
	// out".
	DeleteSessions(ctx context.Context, kind string, principalID int64, keep []byte) (int, error)
	// PrincipalSessions lists a principal's sessions, newest first.
	PrincipalSessions(ctx context.Context, kind string, principalID int64) ([]Session, error)
	// PurgeSessions removes sessions created before createdBefore or
	// last seen before seenBefore, and returns how many went.
	PurgeSessions(ctx context.Context, createdBefore, seenBefore time.Time) (int, error)
}
