package console

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// pendingSignIns hold browsers between the password and the second
// factor. The web layer's sessions know two kinds, user and admin, and an
// admin session must not exist before the code is right, so this state
// is the console's own: a random id in a cookie of its own
// (Secure, HttpOnly, SameSite=Strict, __Host-), mapped in memory to the
// administrator, for pendingTTL. Memory is enough for five minutes: a
// restart in between asks for the password again. (Behind a load
// balancer without sticky sessions the code must reach the node that
// took the password; a third session kind in the store would lift that.)
type pendingSignIns struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]pendingSignIn
}

type pendingSignIn struct {
	adminID int64
	created time.Time
}

// pendingCookie names the cookie; the __Host- prefix pins it to this
// host, Secure and Path=/ (RFC 6265bis section 4.1.3.2).
const pendingCookie = "__Host-xtramail-console-2fa"

// pendingMax bounds the map: password guesses never get here, so only
// right passwords fill it.
const pendingMax = 10000

func newPendingSignIns(now func() time.Time) *pendingSignIns {
	return &pendingSignIns{now: now, m: map[string]pendingSignIn{}}
}

// start remembers that adminID gave the right password and sets the
// cookie on w.
func (ps *pendingSignIns) start(w http.ResponseWriter, adminID int64) {
	b := make([]byte, 32)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	now := ps.now()
	ps.mu.Lock()
	for k, p := range ps.m {
		if now.Sub(p.created) > pendingTTL {
			delete(ps.m, k)
		}
	}
	if len(ps.m) >= pendingMax {
		for k := range ps.m { // full of live ones: drop any
			delete(ps.m, k)
			break
		}
	}
	ps.m[id] = pendingSignIn{adminID: adminID, created: now}
	ps.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: id, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(pendingTTL / time.Second)})
}

// get returns the administrator of the request's pending sign-in, if it
// has a live one.
func (ps *pendingSignIns) get(r *http.Request) (int64, bool) {
	c, err := r.Cookie(pendingCookie)
	if err != nil {
		return 0, false
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p, ok := ps.m[c.Value]
	if !ok || ps.now().Sub(p.created) > pendingTTL {
		delete(ps.m, c.Value)
		return 0, false
	}
	return p.adminID, true
}

// end forgets the request's pending sign-in and clears its cookie.
func (ps *pendingSignIns) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(pendingCookie); err == nil {
		ps.mu.Lock()
		delete(ps.m, c.Value)
		ps.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
