package web

import (
	"crypto/subtle"
	"mime"
	"net/http"
)

// Cross-site request forgery has two defences here, each enough alone
// against today's browsers and both kept so that a gap in one (an old
// browser without Sec-Fetch-Site, a same-site sub-domain taken over) is
// covered by the other:
//
//  1. http.CrossOriginProtection refuses state-changing requests that
//     the browser marks as cross-origin (Sec-Fetch-Site, else Origin).
//  2. Every state-changing request that comes with a session cookie
//     carries the session's own token, in the form field "csrf" or the
//     header X-CSRF-Token (htmx sends the header: static/app.js reads
//     it from <meta name="csrf-token">). A request with no session
//     (an API call with "Authorization: Bearer", the sign-in form) has
//     no token to carry: it is not acting with a session's authority.

// CSRFField is the form field that carries the session token.
const CSRFField = "csrf"

// CSRFHeader is the header that carries the session token.
const CSRFHeader = "X-CSRF-Token"

func crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Error(w, r, http.StatusForbidden, "This request came from another site and was refused.")
	}))
	return cop.Handler(next)
}

// csrfToken refuses a state-changing request made with a session whose
// token it does not carry.
func csrfToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ses := SessionFrom(r.Context())
		if ses == nil || safeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get(CSRFHeader)
		if got == "" {
			got = formToken(r)
		}
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ses.CSRF)) != 1 {
			Error(w, r, http.StatusForbidden, "This form has expired. Reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// formToken reads the token from a form body. A multipart body is parsed
// (up to 32 MiB in memory, the rest in temporary files): uploads should
// send the header instead, which is read first.
func formToken(r *http.Request) string {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		return r.FormValue(CSRFField)
	}
	return ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
