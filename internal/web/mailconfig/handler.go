package mailconfig

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// Domains is the part of the store the handler asks: whether a domain is
// protected here (store.ErrNotFound when not).
type Domains interface {
	Domain(ctx context.Context, name string) (store.Domain, error)
}

// Handler serves Thunderbird's autoconfig and Outlook's Autodiscover to
// anyone: an app asks before it has a password.
//
// What it tells and what it does not:
//   - A domain not protected here is a plain 404, whatever the address:
//     the app then tries its other ways (its provider database, the
//     domain's own server) instead of sending the user's password for a
//     mailbox this server does not hold. The domains served are no
//     secret: their DNS (autoconfig.<domain>, MX) points here.
//   - For a protected domain every address gets the same answer, an
//     address that exists or not, enabled or not: no account is looked
//     up, so neither the answer nor its timing says which exist.
//     Autoconfig's document names no address at all (the app puts in
//     the one typed); Autodiscover's repeats the one the request gave.
//   - No password, hash or token is in any answer.
//   - A request body is read up to 16 KiB, then refused (413).
type Handler struct {
	srv     Server
	domains Domains
	log     *slog.Logger
}

// NewHandler returns the handler for srv's settings, serving the domains
// that domains knows.
func NewHandler(srv Server, domains Domains, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{srv: srv, domains: domains, log: log}
}

// Register gives handle the paths that apps ask, with their handlers
// (web.Server.Handle). Outlook's path is asked in both spellings; the
// web layer's mux is case-sensitive.
func (h *Handler) Register(handle func(pattern string, h http.Handler)) {
	handle("/.well-known/autoconfig/mail/config-v1.1.xml", http.HandlerFunc(h.autoconfig))
	handle("/mail/config-v1.1.xml", http.HandlerFunc(h.autoconfig))
	handle("/autodiscover/autodiscover.xml", http.HandlerFunc(h.autodiscover))
	handle("/Autodiscover/Autodiscover.xml", http.HandlerFunc(h.autodiscover))
}

// autoconfig serves GET /mail/config-v1.1.xml?emailaddress=... (on
// autoconfig.<domain>) and /.well-known/autoconfig/mail/config-v1.1.xml
// (on the domain itself). The domain is the address's, else the host's
// with "autoconfig." taken off (an app that sends no address).
func (h *Handler) autoconfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Use GET.", http.StatusMethodNotAllowed)
		return
	}
	var domain string
	if a := r.URL.Query().Get("emailaddress"); a != "" {
		addr, err := store.NormalizeAddress(a)
		if err != nil {
			http.Error(w, "emailaddress is not an email address.", http.StatusBadRequest)
			return
		}
		domain = store.DomainOf(addr)
	} else {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		d, err := store.NormalizeDomain(strings.TrimPrefix(strings.ToLower(host), "autoconfig."))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		domain = d
	}
	h.answer(w, r, "autoconfig", domain, func() ([]byte, error) { return Autoconfig(h.srv, domain) })
}

// autodiscover serves POST /autodiscover/autodiscover.xml.
func (h *Handler) autodiscover(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Use POST with an Autodiscover request.", http.StatusMethodNotAllowed)
		return
	}
	a, schema, err := readAutodiscoverRequest(r.Body)
	switch {
	case errors.Is(err, errTooLarge):
		http.Error(w, "The request is too large.", http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, errRequest):
		http.Error(w, "The body is not an Autodiscover request.", http.StatusBadRequest)
		return
	case err != nil:
		return // the client went away mid-body
	}
	addr, err := store.NormalizeAddress(a)
	if err != nil {
		http.Error(w, "EMailAddress is not an email address.", http.StatusBadRequest)
		return
	}
	if schema != "" && schema != OutlookSchema {
		// ActiveSync (an Exchange account on a phone) is not served
		// here: not found, so that the device tries its next way.
		http.NotFound(w, r)
		return
	}
	h.answer(w, r, "autodiscover", store.DomainOf(addr), func() ([]byte, error) { return Autodiscover(h.srv, addr) })
}

// answer serves the XML document that doc makes, when domain is served
// here.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, what, domain string, doc func() ([]byte, error)) {
	if !h.served(w, r, what, domain) {
		return
	}
	b, err := doc()
	if err != nil {
		h.log.Error("make "+what, "domain", domain, "err", err)
		http.Error(w, "Mail app settings are not available.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Write(b)
}

// served answers 404 and reports false when domain is not protected here
// or the settings are not complete (IMAP or submission off).
func (h *Handler) served(w http.ResponseWriter, r *http.Request, what, domain string) bool {
	if !h.srv.Complete() {
		http.NotFound(w, r)
		return false
	}
	_, err := h.domains.Domain(r.Context(), domain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.log.Debug(what+" for a domain not served", "domain", domain)
		http.NotFound(w, r)
		return false
	case err != nil:
		if r.Context().Err() == nil {
			h.log.Error(what+": look the domain up", "domain", domain, "err", err)
		}
		http.Error(w, "Mail app settings are not available now. Try again later.", http.StatusServiceUnavailable)
		return false
	}
	h.log.Debug(what, "domain", domain)
	return true
}
