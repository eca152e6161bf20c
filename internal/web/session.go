package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Principal kinds: who a session signs in.
const (
	PrincipalUser  = store.PrincipalUser  // a protected address (webmail)
	PrincipalAdmin = store.PrincipalAdmin // an administrator (console)
)

// CookieName is the session cookie's name. The __Host- prefix makes the
// browser refuse it unless it is Secure, has Path=/ and no Domain, so
// that no other host under the same domain can set or shadow it (RFC
// 6265bis section 4.1.3.2).
const CookieName = "__Host-xtramail"

// ErrPrincipalGone is what a PrincipalCheck returns when the principal may
// no longer use its sessions (removed, disabled): the session ends.
var ErrPrincipalGone = errors.New("web: principal disabled or removed")

// Principal is who a session belongs to.
type Principal struct {
	Kind string // PrincipalUser or PrincipalAdmin
	ID   int64  // the account's or administrator's id
	Name string // for display: the address, the administrator's e-mail
}

// Session is the signed-in session of a request (SessionFrom).
type Session struct {
	Principal Principal
	// CSRF is the token that state-changing requests carry in the form
	// field "csrf" or the header X-CSRF-Token.
	CSRF     string
	Created  time.Time
	LastSeen time.Time
	idHash   []byte
}

// PrincipalCheck is asked, on every request that comes with a session of
// its kind, whether the principal may still use it, and for its display
// name. It returns an error wrapping ErrPrincipalGone to end the session
// (a disabled or removed account), any other error for a failure to
// check (the request is answered 503 and the session kept).
type PrincipalCheck func(ctx context.Context, id int64) (name string, err error)

// SessionsConfig configures Sessions.
type SessionsConfig struct {
	// Idle ends a session after this long without a request; Max after
	// this long whatever its use. Zero: 8 hours and 7 days.
	Idle, Max time.Duration
	// Now is the clock (time.Now when nil); tests inject one.
	Now func() time.Time
}

// Sessions starts, finds and ends server-side sessions. The store keeps
// them by the SHA-256 of the random id in the cookie.
type Sessions struct {
	st    store.Sessions
	idle  time.Duration
	max   time.Duration
	now   func() time.Time
	kinds map[string]kind

	// wakeMu guards wake: the long-lived responses (Server.Hold) of each
	// principal, woken when this process ends one of its sessions so
	// that they re-check theirs at once.
	wakeMu sync.Mutex
	wake   map[principalKey]map[chan struct{}]struct{}
}

type principalKey struct {
	kind string
	id   int64
}

type kind struct {
	signIn string // the sign-in page pages redirect to
	check  PrincipalCheck
}

// NewSessions returns a session manager over st. Register each principal
// kind before serving.
func NewSessions(st store.Sessions, cfg SessionsConfig) *Sessions {
	if cfg.Idle <= 0 {
		cfg.Idle = 8 * time.Hour
	}
	if cfg.Max <= 0 {
		cfg.Max = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{st: st, idle: cfg.Idle, max: cfg.Max, now: cfg.Now, kinds: map[string]kind{},
		wake: map[principalKey]map[chan struct{}]struct{}{}}
}

// Register says how sessions of a kind are checked on each request and
// where a page that needs one sends a browser without it (its sign-in
// page, e.g. "/login" or "/console/login"). Register before serving.
func (s *Sessions) Register(principalKind, signInPath string, check PrincipalCheck) {
	s.kinds[principalKind] = kind{signIn: signInPath, check: check}
}

type sessionKey struct{}

// SessionFrom returns the request's session, or nil without one.
func SessionFrom(ctx context.Context) *Session {
	ses, _ := ctx.Value(sessionKey{}).(*Session)
	return ses
}

// PrincipalFrom returns who the request is signed in as, when the session
// is of the given kind.
func PrincipalFrom(ctx context.Context, principalKind string) (Principal, bool) {
	ses := SessionFrom(ctx)
	if ses == nil || ses.Principal.Kind != principalKind {
		return Principal{}, false
	}
	return ses.Principal, true
}

// UserFrom returns the signed-in webmail user (Principal.ID is the
// account id): the principal that every store call of the webmail names.
func UserFrom(ctx context.Context) (Principal, bool) { return PrincipalFrom(ctx, PrincipalUser) }

// AdminFrom returns the signed-in console administrator.
func AdminFrom(ctx context.Context) (Principal, bool) { return PrincipalFrom(ctx, PrincipalAdmin) }

// CSRFToken returns the request's session token ("" without a session),
// for forms and the page's meta tag.
func CSRFToken(ctx context.Context) string {
	if ses := SessionFrom(ctx); ses != nil {
		return ses.CSRF
	}
	return ""
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// Start signs the browser in as the principal: a new session with a new
// random id (never the one the request came with: no fixation), stored,
// and its cookie set on w. A session the request had is ended. It returns
// the new session; the current request's context still has the old one.
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, principalKind string, principalID int64) (*Session, error) {
	if _, ok := s.kinds[principalKind]; !ok {
		return nil, fmt.Errorf("start session: principal kind %q not registered", principalKind)
	}
	if old := SessionFrom(r.Context()); old != nil {
		if err := s.st.DeleteSession(r.Context(), old.idHash); err != nil {
			return nil, fmt.Errorf("end previous session: %w", err)
		}
		s.ended(old.Principal.Kind, old.Principal.ID)
	}
	id := randomToken()
	now := s.now()
	ss := store.Session{
		IDHash: hashID(id), Kind: principalKind, PrincipalID: principalID, CSRF: randomToken(),
		Created: now, LastSeen: now, RemoteIP: RemoteIP(r), UserAgent: truncate(r.UserAgent(), 200),
	}
	if err := s.st.CreateSession(r.Context(), ss); err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	http.SetCookie(w, s.cookie(id, s.max))
	return &Session{Principal: Principal{Kind: principalKind, ID: principalID}, CSRF: ss.CSRF,
		Created: now, LastSeen: now, idHash: ss.IDHash}, nil
}

// End signs the request's session out (deleted from the store, cookie
// cleared). Without a session it only clears the cookie.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, s.cookie("", -1))
	if ses := SessionFrom(r.Context()); ses != nil {
		if err := s.st.DeleteSession(r.Context(), ses.idHash); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		s.ended(ses.Principal.Kind, ses.Principal.ID)
	}
	return nil
}

// EndOthers ends every other session of the request's principal ("sign
// out everywhere else"; after a password change) and says how many.
func (s *Sessions) EndOthers(r *http.Request) (int, error) {
	ses := SessionFrom(r.Context())
	if ses == nil {
		return 0, errors.New("end other sessions: no session")
	}
	defer s.ended(ses.Principal.Kind, ses.Principal.ID)
	return s.st.DeleteSessions(r.Context(), ses.Principal.Kind, ses.Principal.ID, ses.idHash)
}

// EndAll ends every session of a principal: an administrator disabled the
// account or set its password.
func (s *Sessions) EndAll(ctx context.Context, principalKind string, principalID int64) (int, error) {
	defer s.ended(principalKind, principalID)
	return s.st.DeleteSessions(ctx, principalKind, principalID, nil)
}

// watch returns a channel that receives when this process ends a session
// of ses's principal (which may be another of its sessions: the receiver
// re-checks its own), and the function that stops the watch.
func (s *Sessions) watch(ses *Session) (<-chan struct{}, func()) {
	k := principalKey{ses.Principal.Kind, ses.Principal.ID}
	ch := make(chan struct{}, 1)
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wake[k] == nil {
		s.wake[k] = map[chan struct{}]struct{}{}
	}
	s.wake[k][ch] = struct{}{}
	return ch, func() {
		s.wakeMu.Lock()
		defer s.wakeMu.Unlock()
		delete(s.wake[k], ch)
		if len(s.wake[k]) == 0 {
			delete(s.wake, k)
		}
	}
}

// ended wakes the watchers of a principal whose session(s) this process
// just ended. It never blocks: a watcher already woken has a check to
// come.
func (s *Sessions) ended(principalKind string, principalID int64) {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	for ch := range s.wake[principalKey{principalKind, principalID}] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Sessions) cookie(value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// touchEvery is how stale LastSeen may get before a request writes it:
// one write a minute per active session, not one per request.
func (s *Sessions) touchEvery() time.Duration { return min(time.Minute, s.idle/8) }

// middleware finds the request's session, if its cookie names a live
// one, and puts it in the context. An expired session, or one whose
// principal is gone, is deleted and its cookie cleared; the request goes
// on without a session.
func (s *Sessions) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		if err != nil || c.Value == "" || strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		ses, err := s.lookup(r.Context(), c.Value, !Background(r))
		switch {
		case errors.Is(err, store.ErrNotFound):
			http.SetCookie(w, s.cookie("", -1))
		case err != nil:
			Error(w, r, http.StatusServiceUnavailable, "Sign-in cannot be checked right now. Try again in a moment.")
			return
		default:
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, ses))
		}
		next.ServeHTTP(w, r)
	})
}

// lookup returns the live session of a cookie value: ErrNotFound for none
// (never was, signed out, expired, principal gone). touch says whether the
// request is use of the session that moves its idle timeout on.
func (s *Sessions) lookup(ctx context.Context, id string, touch bool) (*Session, error) {
	return s.find(ctx, hashID(id), touch)
}

// Live says whether ses, found at the start of a request, is still live:
// nil, or an error wrapping store.ErrNotFound once it has ended (signed
// out, ended by a password change or an administrator, expired, its
// principal disabled or removed), or any other error for a failure to
// check. It is the check of every request's session, without counting as
// use of it: a long-lived response asks it again and again (Server.Hold)
// and must not keep its session from going idle.
func (s *Sessions) Live(ctx context.Context, ses *Session) error {
	_, err := s.find(ctx, ses.idHash, false)
	return err
}

// find is the one check of a session, by the hash of its id: the
// request's (lookup) and a long-lived response's (Live).
func (s *Sessions) find(ctx context.Context, h []byte, touch bool) (*Session, error) {
	ss, err := s.st.Session(ctx, h)
	if err != nil {
		return nil, err
	}
	now := s.now()
	k, known := s.kinds[ss.Kind]
	if !known || now.Sub(ss.Created) >= s.max || now.Sub(ss.LastSeen) >= s.idle {
		if err := s.st.DeleteSession(ctx, h); err != nil {
			return nil, err
		}
		s.ended(ss.Kind, ss.PrincipalID)
		return nil, fmt.Errorf("session expired: %w", store.ErrNotFound)
	}
	name, err := k.check(ctx, ss.PrincipalID)
	if errors.Is(err, ErrPrincipalGone) {
		if err := s.st.DeleteSession(ctx, h); err != nil {
			return nil, err
		}
		s.ended(ss.Kind, ss.PrincipalID)
		return nil, fmt.Errorf("session of a %s that is gone: %w", ss.Kind, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("check %s %d: %w", ss.Kind, ss.PrincipalID, err)
	}
	if touch && now.Sub(ss.LastSeen) >= s.touchEvery() {
		if err := s.st.TouchSession(ctx, h, now); err != nil {
			return nil, err
		}
		ss.LastSeen = now
	}
	return &Session{Principal: Principal{Kind: ss.Kind, ID: ss.PrincipalID, Name: name}, CSRF: ss.CSRF,
		Created: ss.Created, LastSeen: ss.LastSeen, idHash: h}, nil
}

// BackgroundHeader marks a request that a page's script makes by itself
// (re-reading a list after a live update), not at the user's hand.
const BackgroundHeader = "X-Xtramail-Background"

// Background reports a request that is not the user's use of the session,
// so that it does not move the session's idle timeout on: an open tab that
// only follows new mail is signed out after the idle time like any other.
// Those are a live-update stream's (EventSource asks for
// text/event-stream, and reconnects by itself) and the page's own fetches
// marked with BackgroundHeader. Claiming it can only shorten a session.
func Background(r *http.Request) bool {
	return r.Header.Get("Accept") == "text/event-stream" || r.Header.Get(BackgroundHeader) != ""
}

// Require passes requests signed in as principalKind to h. Others get
// 401 when they are htmx or JSON requests (a script cannot follow a
// redirect to a sign-in page usefully; htmx is told where to go in
// HX-Redirect), and pages a redirect to the kind's sign-in page that
// comes back here afterwards.
func (s *Sessions) Require(principalKind string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := PrincipalFrom(r.Context(), principalKind); ok {
			h.ServeHTTP(w, r)
			return
		}
		signIn := s.kinds[principalKind].signIn
		if signIn == "" {
			signIn = "/login"
		}
		if r.Header.Get("HX-Request") == "true" {
			w.Header().Set("HX-Redirect", signIn)
		}
		if r.Header.Get("HX-Request") == "true" || wantsJSON(r) {
			Error(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			Error(w, r, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		http.Redirect(w, r, signIn+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// purgeLoop deletes expired sessions every 10 minutes until ctx ends
// (each is also refused, and deleted, at its next request).
func (s *Sessions) purgeLoop(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		now := s.now()
		if n, err := s.st.PurgeSessions(ctx, now.Add(-s.max), now.Add(-s.idle)); err != nil && ctx.Err() == nil {
			log.Warn("purge expired web sessions", "err", err)
		} else if n > 0 {
			log.Debug("purged expired web sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RemoteIP is the client's address (no proxy headers are trusted).
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// wantsJSON reports a request from a script that reads JSON: the API, or
// a client that accepts JSON and not HTML.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "json") && !strings.Contains(a, "text/html")
}
