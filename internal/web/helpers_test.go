package web_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
	"github.com/xtramail/xtramail/internal/tlsutil"
	"github.com/xtramail/xtramail/internal/web"
)

// env is a web server on a real TLS listener over a real SQLite store,
// with an injected clock.
type env struct {
	t     *testing.T
	URL   string // https://127.0.0.1:PORT
	Store store.Store
	Web   *web.Server
	Clock *clocktest.Clock
	Log   *logBuf
	roots *tls.Config
}

type envOptions struct {
	idle, max time.Duration
	// mount adds test routes before serving.
	mount func(w *web.Server)
}

var testParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	st := sqlitetest.New(t)
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	authn := auth.NewAuthenticator(func(ctx context.Context, user string) (auth.Credential, error) {
		a, err := st.Account(ctx, user)
		if err != nil || a.PasswordHash == "" {
			return auth.Credential{}, auth.ErrUnknownUser
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled}, nil
	}, auth.Options{Now: clk.Now})
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sessions := web.NewSessions(st, web.SessionsConfig{Idle: o.idle, Max: o.max, Now: clk.Now})
	w := web.New(web.Config{TLS: srvTLS, Now: clk.Now}, sessions, log)
	w.UserSignIn(authn, st)
	if o.mount != nil {
		o.mount(w)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go w.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &env{t: t, URL: "https://" + ln.Addr().String(), Store: st, Web: w, Clock: clk, Log: lb,
		roots: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
}

// addUser protects an address with a password.
func (e *env) addUser(addr, password string) store.Account {
	e.t.Helper()
	h, err := auth.HashParams(password, testParams)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.Store.CreateAccount(context.Background(), addr, h)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects.
type browser struct {
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{
		Jar:       jar,
		Timeout:   time.Minute,
		Transport: &http.Transport{TLSClientConfig: e.roots.Clone(), ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// do sends a request and returns the response with its body read.
func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(data)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, nil, nil) }

// signIn signs in and fails the test unless it worked; it returns the
// CSRF token of the new session, read from the page.
func (b *browser) signIn(addr, password string) string {
	b.e.t.Helper()
	resp, body := b.do("POST", "/login", url.Values{"address": {addr}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("sign in as %s: %s\n%s", addr, resp.Status, body)
	}
	return b.csrf()
}

// csrf reads the session's token from the meta tag of a signed-in page.
func (b *browser) csrf() string {
	b.e.t.Helper()
	resp, body := b.get("/")
	if resp.StatusCode != http.StatusOK {
		b.e.t.Fatalf("GET / after sign-in: %s", resp.Status)
	}
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(body, marker)
	if i < 0 {
		b.e.t.Fatalf("no csrf meta tag in:\n%s", body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// cookie returns the session cookie's value in the jar ("" without one).
func (b *browser) cookie() string {
	u, _ := url.Parse(b.e.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == web.CookieName {
			return c.Value
		}
	}
	return ""
}

// logBuf collects the server's log.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
