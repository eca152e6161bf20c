package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

const (
	alice    = "alice@example.test"
	alicePwd = "correct horse battery"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t, envOptions{mount: func(w *web.Server) {
		w.Handle("GET /test/strict", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Security-Policy", "default-src 'none'")
			fmt.Fprint(rw, "strict")
		}))
	}})
	b := e.browser()
	for _, path := range []string{"/login", "/", "/no/such/page", "/static/app.css", "/static/nope.css"} {
		resp, _ := b.get(path)
		h := resp.Header
		for name, want := range map[string]string{
			"Content-Security-Policy":    e.Web.CSP(),
			"X-Content-Type-Options":     "nosniff",
			"Referrer-Policy":            "no-referrer",
			"Strict-Transport-Security":  "max-age=63072000; includeSubDomains",
			"Cross-Origin-Opener-Policy": "same-origin",
			"X-Frame-Options":            "DENY",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("GET %s (%s): %s = %q, want %q", path, resp.Status, name, got, want)
			}
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("GET %s: %s, want HTTP/2", path, resp.Proto)
		}
	}
	if csp := e.Web.CSP(); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q: want frame-ancestors 'none' and nothing unsafe", csp)
	}
	// A handler's stricter policy for itself is kept.
	resp, body := b.get("/test/strict")
	if got := resp.Header.Get("Content-Security-Policy"); got != "default-src 'none'" || body != "strict" {
		t.Errorf("handler's own CSP: %q (body %q)", got, body)
	}
	// An unknown page is a clear 404 page, not the mux's plain text.
	e.addUser(alice, alicePwd)
	b.signIn(alice, alicePwd)
	resp, body = b.get("/no/such/page")
	if resp.StatusCode != 404 || !strings.Contains(body, "There is nothing here") || !strings.Contains(body, "<main") {
		t.Errorf("404 page: %s\n%s", resp.Status, body)
	}
}

func TestSignInSignOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	acct := e.addUser(alice, alicePwd)
	b := e.browser()

	// Not signed in: the page sends the browser to sign in, and back.
	resp, _ := b.get("/?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2F%3Fx%3D1" {
		t.Fatalf("GET / signed out: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body := b.get("/login")
	if resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) || !strings.Contains(body, `autocomplete="current-password"`) {
		t.Fatalf("sign-in page: %s\n%s", resp.Status, body)
	}

	resp, body = b.do("POST", "/login", url.Values{"address": {alice}, "password": {"wrong"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong address or password") || b.cookie() != "" {
		t.Fatalf("wrong password: %s, cookie %q\n%s", resp.Status, b.cookie(), body)
	}
	if strings.Contains(body, "wrong") && strings.Contains(body, `value="wrong"`) {
		t.Errorf("the page repeats the wrong password")
	}

	resp, _ = b.do("POST", "/login", url.Values{"address": {"Alice@Example.test"}, "password": {alicePwd}, "next": {"/?x=1"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?x=1" {
		t.Fatalf("sign in: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == web.CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" ||
		cookie.Domain != "" || len(cookie.Value) < 40 {
		t.Fatalf("session cookie %+v: want __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain, a long random value", cookie)
	}
	// The store keeps a hash of the id, never the id.
	list, err := e.Store.PrincipalSessions(context.Background(), store.PrincipalUser, acct.ID)
	if err != nil || len(list) != 1 || bytes.Contains(list[0].IDHash, []byte(cookie.Value)) || len(list[0].IDHash) != 32 {
		t.Fatalf("stored sessions %v, %v", list, err)
	}
	resp, body = b.get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, alice) || !strings.Contains(body, `action="/logout"`) {
		t.Fatalf("signed-in page: %s\n%s", resp.Status, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("signed-in page Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	token := b.csrf()

	// Both sign-ins are in the message log, as IMAP's are.
	evs, err := e.Store.SearchLog(context.Background(), store.LogQuery{Address: alice})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, ev := range evs {
		statuses = append(statuses, string(ev.Status)+" "+ev.RemoteIP+" "+ev.Detail)
	}
	got := strings.Join(statuses, "; ")
	if !strings.Contains(got, "login 127.0.0.1 webmail sign-in") || !strings.Contains(got, "login-failed 127.0.0.1 webmail sign-in failed") {
		t.Errorf("message log: %s", got)
	}

	// Sign out; the old cookie, replayed, is refused.
	old := b.cookie()
	resp, _ = b.do("POST", "/logout", url.Values{"csrf": {token}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body = b.get("/login")
	if !strings.Contains(body, "You are signed out.") {
		t.Errorf("no flash after sign-out:\n%s", body)
	}
	replay := e.browser()
	u, _ := url.Parse(e.URL)
	replay.jar.SetCookies(u, []*http.Cookie{{Name: web.CookieName, Value: old, Path: "/", Secure: true}})
	resp, _ = replay.get("/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("signed-out session's cookie: %s, want a redirect to sign in", resp.Status)
	}
	if list, _ := e.Store.PrincipalSessions(context.Background(), store.PrincipalUser, acct.ID); len(list) != 0 {
		t.Errorf("%d sessions left after sign-out", len(list))
	}
}

func TestSignInNextStaysOnSite(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addUser(alice, alicePwd)
	// Browsers drop tabs and newlines from a URL before reading it, so
	// "/\t/evil.example" is "//evil.example", another host.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "x",
		"/\t/evil.example/", "/\n/evil.example", "/\r/evil.example", "\t//evil.example", "/\x0b/evil.example", "/%2e%2e/\t/evil.example"} {
		b := e.browser()
		resp, _ := b.do("POST", "/login", url.Values{"address": {alice}, "password": {alicePwd}, "next": {next}}, nil)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("next=%q: %s → %q, want /", next, resp.Status, loc)
		}
		// Signed in, the sign-in page sends the browser on at once.
		resp, _ = b.do("GET", "/login?next="+url.QueryEscape(next), nil, nil)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("signed in, GET /login?next=%q: %s → %q, want /", next, resp.Status, loc)
		}
	}
}

// TestLocalPath: the one check of a destination a request names.
func TestLocalPath(t *testing.T) {
	for _, c := range []struct{ p, within, want string }{
		{"/mail/3?x=1#a", "/", "/mail/3?x=1#a"},
		{"/console/log?q=a%20b", "/console/", "/console/log?q=a%20b"},
		{"/console/", "/console/", "/console/"},
		{"/", "/console/", "def"},
		{"/console", "/console/", "def"},
		{"/console/../login", "/console/", "def"},
		{"/console/%2e%2e/login", "/console/", "def"},
		{"/console/../\t/evil.example/", "/console/", "def"},
		{"/\t/evil.example", "/", "def"},
		{"/ok\x7f", "/", "def"},
		{"//evil.example", "/", "def"},
		{"/\\evil.example", "/", "def"},
		{"https://evil.example/", "/", "def"},
		{"", "/", "def"},
	} {
		if got := web.LocalPath(c.p, c.within, "def"); got != c.want {
			t.Errorf("LocalPath(%q, %q) = %q, want %q", c.p, c.within, got, c.want)
		}
	}
}

func TestCSRF(t *testing.T) {
	var reached int
	e := newEnv(t, envOptions{mount: func(w *web.Server) {
		w.Handle("POST /test/change", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			reached++
			fmt.Fprint(rw, "changed")
		}))
	}})
	e.addUser(alice, alicePwd)
	b := e.browser()
	token := b.signIn(alice, alicePwd)
	for _, tc := range []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
	}{
		{"no token", url.Values{"a": {"1"}}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {token + "x"}}, nil, http.StatusForbidden},
		{"other header", nil, map[string]string{"X-CSRF-Token": "nope"}, http.StatusForbidden},
		{"form token", url.Values{"csrf": {token}}, nil, http.StatusOK},
		{"header token", nil, map[string]string{"X-CSRF-Token": token}, http.StatusOK},
		{"cross-origin with token", url.Values{"csrf": {token}},
			map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-origin Origin only", url.Values{"csrf": {token}}, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-origin fetch", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
	} {
		before := reached
		resp, body := b.do("POST", "/test/change", tc.form, tc.hdr)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s, want %d\n%s", tc.name, resp.Status, tc.status, body)
		}
		if ran := reached > before; ran != (tc.status == 200) {
			t.Errorf("%s: handler ran %v", tc.name, ran)
		}
	}
	// A bearer-token request without a cookie (the API's) carries no
	// session token and is not refused for it.
	api := e.browser()
	resp, _ := api.do("POST", "/test/change", nil, map[string]string{"Authorization": "Bearer xyz", "Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Errorf("bearer request without cookie: %s", resp.Status)
	}
	// The htmx header path: a 403 for htmx is a fragment, not a page.
	resp, body := b.do("POST", "/test/change", nil, map[string]string{"HX-Request": "true"})
	if resp.StatusCode != 403 || strings.Contains(body, "<html") {
		t.Errorf("htmx without token: %s\n%s", resp.Status, body)
	}
}

func TestSessionIdleAndAbsoluteTimeout(t *testing.T) {
	e := newEnv(t, envOptions{idle: 30 * time.Minute, max: 2 * time.Hour})
	e.addUser(alice, alicePwd)

	// Idle: 29 minutes apart is fine, 30 is not.
	b := e.browser()
	b.signIn(alice, alicePwd)
	e.Clock.Advance(29 * time.Minute)
	if resp, _ := b.get("/"); resp.StatusCode != 200 {
		t.Fatalf("after 29 idle minutes: %s", resp.Status)
	}
	e.Clock.Advance(29 * time.Minute) // the request above moved LastSeen
	if resp, _ := b.get("/"); resp.StatusCode != 200 {
		t.Fatalf("29 minutes after the last request: %s", resp.Status)
	}
	e.Clock.Advance(30 * time.Minute)
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 30 idle minutes: %s, want a redirect to sign in", resp.Status)
	}

	// Absolute: used every 20 minutes, it still ends after 2 hours.
	b = e.browser()
	b.signIn(alice, alicePwd)
	for i := range 5 {
		e.Clock.Advance(20 * time.Minute)
		if resp, _ := b.get("/"); resp.StatusCode != 200 {
			t.Fatalf("active session at %d min: %s", (i+1)*20, resp.Status)
		}
	}
	e.Clock.Advance(20 * time.Minute) // 120 minutes
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("active session after 2 hours: %s, want a redirect to sign in", resp.Status)
	}
	if n, err := e.Store.PrincipalSessions(context.Background(), store.PrincipalUser, 1); err != nil || len(n) != 0 {
		t.Errorf("expired sessions still stored: %d, %v", len(n), err)
	}
}

func TestSignInThrottled(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addUser(alice, alicePwd)
	b := e.browser()
	var throttled *http.Response
	for i := range 30 {
		resp, body := b.do("POST", "/login", url.Values{"address": {alice}, "password": {fmt.Sprint("guess", i)}}, nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = resp
			if !strings.Contains(body, "Too many failed sign-ins") {
				t.Errorf("throttled page:\n%s", body)
			}
			break
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i, resp.Status)
		}
	}
	if throttled == nil {
		t.Fatal("30 wrong passwords in a row were never throttled")
	}
	if ra := throttled.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// Throttled means unchecked: the right password is refused too,
	// from this IP, until time passes.
	resp, _ := b.do("POST", "/login", url.Values{"address": {alice}, "password": {alicePwd}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while throttled: %s", resp.Status)
	}
	e.Clock.Advance(time.Hour)
	b.signIn(alice, alicePwd)
	if !strings.Contains(e.Log.String(), "webmail sign-in throttled") {
		t.Error("throttling not logged")
	}
}

func TestDisabledOrRemovedAccountSignedOut(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	e.addUser(alice, alicePwd)
	e.addUser("bob@example.test", "bob password 1")
	a, b := e.browser(), e.browser()
	a.signIn(alice, alicePwd)
	b.signIn("bob@example.test", "bob password 1")

	if err := e.Store.SetEnabled(ctx, alice, false); err != nil {
		t.Fatal(err)
	}
	if resp, _ := a.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disabled account's session: %s, want a redirect to sign in", resp.Status)
	}
	// Enabled again, the old session stays gone.
	if err := e.Store.SetEnabled(ctx, alice, true); err != nil {
		t.Fatal(err)
	}
	if resp, _ := a.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("re-enabled account's old session: %s, want it ended", resp.Status)
	}
	if err := e.Store.DeleteAccount(ctx, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	resp, _ := b.do("GET", "/", nil, map[string]string{"HX-Request": "true"})
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") != "/login" {
		t.Fatalf("removed account's htmx request: %s, HX-Redirect %q", resp.Status, resp.Header.Get("HX-Redirect"))
	}
}

func TestEndOthers(t *testing.T) {
	e := newEnv(t, envOptions{mount: func(w *web.Server) {
		w.Handle("POST /test/end-others", w.Sessions().Require(web.PrincipalUser, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			n, err := w.Sessions().EndOthers(r)
			if err != nil {
				web.Error(rw, r, 500, "failed")
				return
			}
			fmt.Fprint(rw, n)
		})))
	}})
	e.addUser(alice, alicePwd)
	e.addUser("bob@example.test", "bob password 1")
	phone, laptop, tablet, bob := e.browser(), e.browser(), e.browser(), e.browser()
	phone.signIn(alice, alicePwd)
	tablet.signIn(alice, alicePwd)
	bob.signIn("bob@example.test", "bob password 1")
	token := laptop.signIn(alice, alicePwd)
	resp, body := laptop.do("POST", "/test/end-others", url.Values{"csrf": {token}}, nil)
	if resp.StatusCode != 200 || body != "2" {
		t.Fatalf("end others: %s %q", resp.Status, body)
	}
	for name, br := range map[string]*browser{"phone": phone, "tablet": tablet} {
		if resp, _ := br.get("/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s after sign out everywhere else: %s", name, resp.Status)
		}
	}
	for name, br := range map[string]*browser{"laptop": laptop, "bob": bob} {
		if resp, _ := br.get("/"); resp.StatusCode != 200 {
			t.Errorf("%s after alice's sign out everywhere else: %s", name, resp.Status)
		}
	}
}

func TestUnauthenticatedAnswers(t *testing.T) {
	e := newEnv(t, envOptions{mount: func(w *web.Server) {
		w.Mount("/api/", w.Sessions().Require(web.PrincipalUser, http.NotFoundHandler()))
	}})
	b := e.browser()
	resp, body := b.do("GET", "/api/v1/domains", nil, nil)
	var p web.Problem
	if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(body), &p) != nil || p.Status != 401 {
		t.Errorf("API without a session: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	resp, _ = b.do("GET", "/", nil, map[string]string{"Accept": "application/json"})
	if resp.StatusCode != 401 {
		t.Errorf("JSON request without a session: %s", resp.Status)
	}
	// A stale cookie: treated as none, and cleared.
	u, _ := url.Parse(e.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: web.CookieName, Value: "made-up", Path: "/", Secure: true}})
	resp, _ = b.get("/")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("made-up cookie: %s", resp.Status)
	}
	// Signing in with a stale cookie works (the sign-in form has no
	// session, so no token).
	e.addUser(alice, alicePwd)
	b.jar.SetCookies(u, []*http.Cookie{{Name: web.CookieName, Value: "made-up", Path: "/", Secure: true}})
	b.signIn(alice, alicePwd)
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, envOptions{mount: func(w *web.Server) {
		w.Handle("GET /test/panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("secret internal detail")
		}))
	}})
	b := e.browser()
	resp, body := b.get("/test/panic")
	if resp.StatusCode != 500 || strings.Contains(body, "secret internal detail") || strings.Contains(body, "goroutine") ||
		!strings.Contains(body, "Something went wrong") {
		t.Fatalf("panic answer: %s\n%s", resp.Status, body)
	}
	if l := e.Log.String(); !strings.Contains(l, "secret internal detail") || !strings.Contains(l, "web_test.go") {
		t.Errorf("panic not logged with its stack:\n%s", l)
	}
	// The server goes on.
	if resp, _ := b.get("/login"); resp.StatusCode != 200 {
		t.Errorf("after a panic: %s", resp.Status)
	}
}

func TestStaticAssetsAndGzip(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	resp, body := b.get("/login")
	if resp.Header.Get("Content-Encoding") != "" {
		// Go's transport asks for gzip itself and decodes it; check
		// what it got.
		t.Logf("page Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	if !resp.Uncompressed {
		t.Errorf("page not gzipped for a client that accepts it")
	}
	re := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
	var total int
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		u := m[1]
		if !regexp.MustCompile(`\.[0-9a-f]{12}\.[a-z]+$`).MatchString(u) {
			t.Errorf("asset URL %s is not content-hashed", u)
		}
		req, _ := http.NewRequest("GET", e.URL+u, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		r, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %s, Cache-Control %q", u, r.Status, r.Header.Get("Cache-Control"))
		}
		if strings.HasSuffix(u, ".js") || strings.HasSuffix(u, ".css") {
			if r.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("GET %s: not gzipped", u)
			} else if _, err := gzip.NewReader(bytes.NewReader(raw)); err != nil {
				t.Errorf("GET %s: bad gzip: %v", u, err)
			}
			total += len(raw)
		}
		// Revalidation by ETag.
		req, _ = http.NewRequest("GET", e.URL+u, nil)
		req.Header.Set("If-None-Match", r.Header.Get("ETag"))
		if r2, err := b.c.Do(req); err != nil || r2.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match: %v %v", u, r2.Status, err)
		} else {
			r2.Body.Close()
		}
	}
	t.Logf("JS+CSS of the sign-in page: %d bytes compressed", total)
	if total == 0 || total > 100<<10 {
		t.Errorf("JS+CSS of a page: %d bytes compressed, want some and under 100 KiB", total)
	}
	if resp, _ := b.get("/static/app.css"); resp.StatusCode != 404 {
		t.Errorf("unhashed asset name: %s, want 404", resp.Status)
	}
}

func TestRedirectListener(t *testing.T) {
	acme := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { fmt.Fprint(rw, "token-for-", r.URL.Path) })
	sessions := web.NewSessions(nil, web.SessionsConfig{})
	w := web.New(web.Config{HTTPSPort: "8443", ACME: acme}, sessions, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go w.ServeRedirect(ln)
	defer w.Shutdown(context.Background())
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/inbox?folder=Sent", nil)
	req.Host = "mail.example.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://mail.example.test:8443/inbox?folder=Sent" {
		t.Errorf("redirect: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = c.Get("http://" + ln.Addr().String() + "/.well-known/acme-challenge/abc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "token-for-/.well-known/acme-challenge/abc" {
		t.Errorf("ACME challenge answered %q", body)
	}
}

func TestShutdownEndsLongResponses(t *testing.T) {
	started := make(chan struct{})
	var w *web.Server
	e := newEnv(t, envOptions{mount: func(s *web.Server) {
		w = s
		s.Handle("GET /test/stream", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/event-stream")
			http.NewResponseController(rw).Flush()
			close(started)
			select {
			case <-s.Closing():
			case <-r.Context().Done():
			}
		}))
	}})
	b := e.browser()
	done := make(chan error, 1)
	go func() {
		resp, err := b.c.Get(e.URL + "/test/stream")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("shutdown with a stream open: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("stream ended with %v", err)
	}
}
