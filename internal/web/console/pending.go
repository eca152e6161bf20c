package console

import (
	"net/http"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
)

// A browser between the password and the second factor holds the id of
// its pending sign-in (admin.SignInResult.Pending) in a cookie of its
// own. The web layer's sessions know two kinds, user and admin, and an
// admin session must not exist before the second factor is right, so
// this is not one of them. What the id stands for is in the store
// (admin.PendingSignIn), so that the code may reach any node and a
// restart in between loses nothing.

// pendingCookie names the cookie; the __Host- prefix pins it to this
// host, Secure and Path=/ (RFC 6265bis section 4.1.3.2).
const pendingCookie = "__Host-xtramail-console-2fa"

// holdPending gives the browser its pending sign-in's id.
func holdPending(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: id, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(admin.PendingTTL / time.Second)})
}

// pendingID is the request's pending sign-in id, "" when it has none.
func pendingID(r *http.Request) string {
	c, err := r.Cookie(pendingCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// dropPending clears the cookie.
func dropPending(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
