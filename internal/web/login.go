package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// Authenticator checks a sign-in: the service's *auth.Authenticator, the
// one IMAP and submission use, so that a guess counts against the same
// throttles whichever door it tries.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password, remoteIP string) (auth.Credential, error)
}

// UserStore is what user sign-in reads and writes.
type UserStore interface {
	Account(ctx context.Context, address string) (store.Account, error)
	AccountByID(ctx context.Context, id int64) (store.Account, error)
	AppendLog(ctx context.Context, events ...store.LogEvent) error
}

// Message-log kinds of sign-ins (package msglog owns them).
const (
	logLogin       = msglog.Login
	logLoginFailed = msglog.LoginFailed
)

// UserSignIn serves the webmail's sign-in page at /login and sign-out at
// POST /logout, and registers the user principal: a session of a
// removed or disabled account stops working at its next request.
func (s *Server) UserSignIn(authn Authenticator, users UserStore) {
	s.sessions.Register(PrincipalUser, "/login", func(ctx context.Context, id int64) (string, error) {
		a, err := users.AccountByID(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("account %d removed: %w", id, ErrPrincipalGone)
		case err != nil:
			return "", err
		case !a.Enabled:
			return "", fmt.Errorf("account %s disabled: %w", a.Address, ErrPrincipalGone)
		}
		return a.Address, nil
	})
	l := &userLogin{srv: s, authn: authn, users: users}
	s.mux.HandleFunc("GET /login", l.form)
	s.mux.HandleFunc("POST /login", l.submit)
	s.mux.HandleFunc("POST /logout", l.logout)
}

type userLogin struct {
	srv   *Server
	authn Authenticator
	users UserStore
	links SignInLinks
}

type loginData struct {
	Address string
	Next    string
	Error   string
	Token   string // a one-time sign-in link's, offered as a button
}

// SignInLinks redeems the one-time sign-in links that administrators
// create for users (admin.Service).
type SignInLinks interface {
	ConsumeSignInLink(ctx context.Context, token string) (store.Account, error)
}

// UserSignInLinks serves /login/link: GET shows the link's page, and only
// the POST of its button spends the link, so that a mail scanner that
// fetches every URL of a message cannot use it up.
func (s *Server) UserSignInLinks(links SignInLinks, users UserStore) {
	l := &userLogin{srv: s, users: users, links: links}
	s.mux.HandleFunc("GET /login/link", l.linkForm)
	s.mux.HandleFunc("POST /login/link", l.linkSubmit)
}

func (l *userLogin) linkForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 256 {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	// The token stays out of Referer (no-referrer) and of this page's
	// links; the page itself is not cached.
	w.Header().Set("Cache-Control", "no-store")
	l.srv.layout.loginPage.Render(w, r, http.StatusOK, View{Title: "Sign in", App: "login", Data: loginData{Next: "/", Token: token}})
}

func (l *userLogin) linkSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ip := RemoteIP(r)
	a, err := l.links.ConsumeSignInLink(r.Context(), r.PostFormValue("token"))
	if err != nil {
		l.srv.log.Info("webmail sign-in link refused", "remote", ip, "err", err)
		l.srv.layout.loginPage.Render(w, r, http.StatusUnauthorized, View{Title: "Sign in", App: "login",
			Data: loginData{Next: "/", Error: "This sign-in link was used already, has expired or is not valid. Sign in with your password, or ask your administrator for a new link."}})
		return
	}
	if _, err := l.srv.sessions.Start(w, r, PrincipalUser, a.ID); err != nil {
		l.srv.log.Error("start web session", "err", err)
		Error(w, r, http.StatusServiceUnavailable, "Sign-in is unavailable right now. Try again in a moment.")
		return
	}
	l.logEvent(r.Context(), logLogin, a, ip)
	l.srv.log.Info("webmail sign-in by link", "remote", ip, "user", a.Address)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (l *userLogin) form(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := UserFrom(r.Context()); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	l.srv.layout.loginPage.Render(w, r, http.StatusOK, View{Title: "Sign in", App: "login", Data: loginData{Next: next}})
}

func (l *userLogin) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	addr := strings.TrimSpace(r.PostFormValue("address"))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	ip := RemoteIP(r)
	fail := func(status int, msg string) {
		l.srv.layout.loginPage.Render(w, r, status, View{Title: "Sign in", App: "login",
			Data: loginData{Address: addr, Next: next, Error: msg}})
	}
	log := l.srv.log.With("remote", ip, "user", addr)
	cred, err := l.authn.Authenticate(r.Context(), addr, password, ip)
	var thr *auth.ThrottledError
	switch {
	case err == nil:
	case errors.As(err, &thr):
		log.Info("webmail sign-in throttled", "retry_after", thr.RetryAfter)
		w.Header().Set("Retry-After", fmt.Sprint(int(thr.RetryAfter.Seconds())+1))
		fail(http.StatusTooManyRequests, "Too many failed sign-ins. Wait a few minutes and try again.")
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		log.Info("webmail sign-in failed", "err", err)
		// Only for addresses we hold: the record is scoped to their
		// tenant, and guessed names do not fill the log.
		if a, lerr := l.users.Account(r.Context(), addr); lerr == nil {
			l.logEvent(r.Context(), logLoginFailed, a, ip)
		}
		fail(http.StatusUnauthorized, "Wrong address or password.")
		return
	default:
		log.Error("webmail sign-in could not be checked", "err", err)
		fail(http.StatusServiceUnavailable, "Sign-in is unavailable right now. Try again in a moment.")
		return
	}
	if _, err := l.srv.sessions.Start(w, r, PrincipalUser, cred.AccountID); err != nil {
		log.Error("start web session", "err", err)
		fail(http.StatusServiceUnavailable, "Sign-in is unavailable right now. Try again in a moment.")
		return
	}
	if a, err := l.users.AccountByID(r.Context(), cred.AccountID); err == nil {
		l.logEvent(r.Context(), logLogin, a, ip)
	}
	log.Info("webmail sign-in")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (l *userLogin) logEvent(ctx context.Context, status store.LogStatus, a store.Account, ip string) {
	detail := "webmail sign-in"
	if status == logLoginFailed {
		detail = "webmail sign-in failed"
	}
	err := l.users.AppendLog(ctx, store.LogEvent{Time: l.srv.cfg.Now(), Status: status, Rcpt: a.Address,
		RemoteIP: ip, Detail: detail, DomainID: a.DomainID})
	if err != nil {
		l.srv.log.Warn("message log", "status", status, "err", err)
	}
}

func (l *userLogin) logout(w http.ResponseWriter, r *http.Request) {
	if err := l.srv.sessions.End(w, r); err != nil {
		l.srv.log.Error("end web session", "err", err)
		Error(w, r, http.StatusServiceUnavailable, "Signing out failed. Try again in a moment.")
		return
	}
	SetFlash(w, "You are signed out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination on this site (LocalPath).
func safeNext(next string) string { return LocalPath(next, "/", "/") }

// LocalPath returns p when it is a path of this site under within ("/"
// for any, "/console/" for the console's pages), else def: the one check
// of every destination a request names ("next" after sign-in, "back"
// after an action), so that none is an open redirect. Refused: a URL
// with a scheme or host; "//host" and "/\host", which browsers read as
// another host; any control character, since browsers drop tabs and
// newlines from a URL before reading it ("/\t/evil.example" becomes
// "//evil.example", WHATWG URL, basic URL parser); and dot segments that
// climb out of within.
func LocalPath(p, within, def string) string {
	if !strings.HasPrefix(p, within) || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return def
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < ' ' || c == 0x7f || c == '\\' {
			return def
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return def
	}
	// u.Path has %2e decoded, which browsers take as a dot too.
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, within) {
		return def
	}
	return p
}

// home is the page at "/" until the webmail is mounted there.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		NotFound(w, r)
		return
	}
	s.layout.homePage.Render(w, r, http.StatusOK, View{Title: "Home", App: "webmail"})
}
