package web

import (
	"bytes"
	"crypto/subtle"
	"io"
	"mime"
	"mime/multipart"
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

// formToken reads the token from a form body. A multipart body is not
// parsed whole (ParseMultipartForm would hold up to 32 MiB of uploads in
// memory before the handler runs): see multipartToken.
func formToken(r *http.Request) string {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		return r.FormValue(CSRFField)
	case "multipart/form-data":
		return multipartToken(r, params["boundary"])
	}
	return ""
}

// tokenWithin is how far into a multipart body the token must be.
const tokenWithin = 64 << 10

// multipartToken reads the token from a multipart body's fields up to
// it, and gives the handler the whole body back (r.Body replays what was
// read), so that the handler can stream the uploads that follow into
// storage. Browsers send fields in document order (HTML's form data set)
// and every form puts the token first ({{template "csrf"}}), so only
// that much is read and kept: a body without the token in its first
// 64 KiB is refused.
func multipartToken(r *http.Request, boundary string) string {
	if boundary == "" {
		return ""
	}
	body := r.Body
	var seen bytes.Buffer
	mr := multipart.NewReader(io.TeeReader(io.LimitReader(body, tokenWithin), &seen), boundary)
	token := ""
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FormName() == CSRFField && p.FileName() == "" {
			b, _ := io.ReadAll(io.LimitReader(p, 1024))
			token = string(b)
			break
		}
	}
	r.Body = replayBody{io.MultiReader(bytes.NewReader(seen.Bytes()), body), body}
	return token
}

// replayBody is a request body whose first bytes were read already and
// are given again.
type replayBody struct {
	io.Reader
	io.Closer
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
