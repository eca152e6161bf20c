package service

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/api"
	"github.com/xtramail/xtramail/internal/web/mailconfig"
	"github.com/xtramail/xtramail/internal/web/webmail"
)

// newWeb builds the HTTPS server and mounts its sub-apps: the webmail's
// sign-in now; the webmail, console and API as they come. acme answers
// HTTP-01 challenges on the redirect listener (nil without ACME).
func newWeb(cfg *config.Config, addr net.Addr, tlsCfg *tls.Config, acme http.Handler, st store.Store, authn *auth.Authenticator, sessions *web.Sessions, adm *admin.Service,
	compose webmail.ComposeOptions, searchMemory *imapmsg.SearchMemory, clk clock.Clock, log *slog.Logger) *web.Server {
	httpsPort := "443"
	if addr != nil { // the port bound, also for ":0"
		if _, p, err := net.SplitHostPort(addr.String()); err == nil {
			httpsPort = p
		}
	}
	w := web.New(web.Config{
		TLS:               tlsCfg,
		ReadHeaderTimeout: cfg.Web.ReadHeaderTimeout.Duration,
		ReadTimeout:       cfg.Web.ReadTimeout.Duration,
		WriteTimeout:      cfg.Web.WriteTimeout.Duration,
		IdleTimeout:       cfg.Web.IdleTimeout.Duration,
		HTTPSPort:         httpsPort,
		ACME:              acme,
	}, sessions, log)
	w.UserSignIn(authn, st)
	w.Mount("/", webmail.New(webmail.Options{Web: w, Store: st, Logger: log.With("app", "webmail"), Compose: compose,
		UndoDelete: cfg.Webmail.UndoDelete.Duration, Now: clk.Now, SearchMemory: searchMemory}))
	w.UserSignInLinks(adm, st)
	// Mail apps' set-up documents (Thunderbird's autoconfig, Outlook's
	// Autodiscover) for the protected domains, before any sign-in.
	mailconfig.NewHandler(compose.Client, st, log.With("app", "mailconfig")).Register(w.Handle)
	w.Mount("/api/", api.New(adm, log.With("app", "api")))
	mountConsole(w, adm, clk, log)
	return w
}

// forgetAddress is what the admin service does after it changed an
// address: the authenticators' cached credentials go, and so do the
// address's web sessions.
func forgetAddress(st store.Store, authn *auth.Authenticator, sessions *web.Sessions, log *slog.Logger) func(address string) {
	return func(address string) {
		authn.Forget(address)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if a, err := st.Account(ctx, address); err == nil {
			if _, err := sessions.EndAll(ctx, web.PrincipalUser, a.ID); err != nil {
				log.Warn("end web sessions of a changed address", "address", address, "err", err)
			}
		}
	}
}
