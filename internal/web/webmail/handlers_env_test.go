package webmail

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
	"github.com/xtramail/xtramail/internal/web"
)

// webEnv is the webmail mounted on a real web server (TLS listener,
// sessions, CSRF) over a real SQLite store, with bob and eve able to sign
// in.
type webEnv struct {
	t        *testing.T
	URL      string
	st       store.Store
	bob, eve store.Account
	roots    *tls.Config
	app      *app // the webmail mounted
}

const testPassword = "correct horse battery"

func newWebEnv(t *testing.T) *webEnv {
	t.Helper()
	return newWebEnvWith(t, webEnvOptions{})
}

// webEnvOptions change a webEnv from the defaults.
type webEnvOptions struct {
	sessions  web.SessionsConfig // the clock, idle and max of sessions
	heartbeat time.Duration      // of live-update streams (0: the const)
}

func newWebEnvWith(t *testing.T, o webEnvOptions) *webEnv {
	t.Helper()
	st, bob, eve := testStore(t)
	ctx := context.Background()
	h, err := auth.HashParams(testPassword, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.Account{bob, eve} {
		if err := st.SetPassword(ctx, a.Address, h); err != nil {
			t.Fatal(err)
		}
	}
	authn := auth.NewAuthenticator(func(ctx context.Context, user string) (auth.Credential, error) {
		a, err := st.Account(ctx, user)
		if err != nil || a.PasswordHash == "" {
			return auth.Credential{}, auth.ErrUnknownUser
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled}, nil
	}, auth.Options{})
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	w := web.New(web.Config{TLS: srvTLS, Now: o.sessions.Now}, web.NewSessions(st, o.sessions), log)
	w.UserSignIn(authn, st)
	// Passwords: the settings page can change a password here too.
	wm := New(Options{Web: w, Store: st, Logger: log, Compose: ComposeOptions{Passwords: authn}}).(*app)
	if o.heartbeat > 0 {
		wm.heartbeat = o.heartbeat
	}
	w.Mount("/", wm)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go w.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.Shutdown(ctx)
	})
	return &webEnv{t: t, URL: "https://" + ln.Addr().String(), st: st, bob: bob, eve: eve,
		roots: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, app: wm}
}

// client is one browser: its own cookies, redirects not followed.
type client struct {
	e    *webEnv
	c    *http.Client
	csrf string
}

func (e *webEnv) signIn(a store.Account) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{e: e, c: &http.Client{Jar: jar, Timeout: 2 * time.Minute,
		Transport:     &http.Transport{TLSClientConfig: e.roots.Clone(), ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, body := c.do("POST", "/login", url.Values{"address": {a.Address}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %s\n%s", a.Address, resp.Status, body)
	}
	_, page := c.get("/")
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(page, marker)
	if i < 0 {
		e.t.Fatalf("no CSRF token on the inbox page:\n%s", page)
	}
	c.csrf = page[i+len(marker):]
	c.csrf = c.csrf[:strings.IndexByte(c.csrf, '"')]
	return c
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.e.t.Helper()
	return c.doHeader(method, path, form, nil)
}

// fragment GETs path as htmx does (HX-Request), for the pieces of a page
// that the scripts ask for: without the header the same URL answers a
// whole page, for a link followed without script.
func (c *client) fragment(path string) (*http.Response, string) {
	c.e.t.Helper()
	return c.doHeader("GET", path, nil, http.Header{"Hx-Request": {"true"}})
}

func (c *client) doHeader(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		if c.csrf != "" {
			form.Set("csrf", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, string(data)
}

func (c *client) get(path string) (*http.Response, string) { return c.do("GET", path, nil) }

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	return c.do("POST", path, form)
}

// stream opens a live-update stream and returns its lines.
func (c *client) stream(ctx context.Context) (*http.Response, *bufio.Reader, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.e.URL+"/events", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	return resp, bufio.NewReader(resp.Body), nil
}
