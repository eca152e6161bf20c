// Package api is xtramail's REST API under /api/v1: the console's
// operations for scripts, over the admin package, which does every
// permission check and audit record. Requests authenticate with an API
// token ("Authorization: Bearer xtm_..."), created in the console or with
// `xtramail token create`; a token acts with its administrator's role and
// subtree. Bodies are JSON; errors are RFC 9457 problem details, naming
// the field for bad input (400). An object outside the token's subtree is
// 404, exactly as a missing one. Lists are paged by an opaque cursor:
// {"items": [...], "next": "..."}; pass next back as ?cursor= until it is
// empty.
//
// The OpenAPI 3.1 document (openapi.json, written by hand) is served at
// /api/v1/openapi.json; the tests drive every route over HTTP and check
// each request and response against it, and fail when a route exists
// that the document lacks.
package api

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// API serves /api/v1.
type API struct {
	adm    *admin.Service
	log    *slog.Logger
	mux    *http.ServeMux
	routes []string
}

// New returns the API over adm; mount it at "/api/".
func New(adm *admin.Service, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &API{adm: adm, log: log, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(openAPI)
	})
	a.routes = append(a.routes, "GET "+Prefix+"/openapi.json")
	a.register()
	return a
}

// Routes lists every route as "METHOD /api/v1/path/{param}", for the
// test that holds them against the OpenAPI document.
func (a *API) Routes() []string { return append([]string(nil), a.routes...) }

// handle registers an authenticated route.
func (a *API) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, p admin.Principal) error) {
	method, path, _ := strings.Cut(pattern, " ")
	full := method + " " + Prefix + path
	a.routes = append(a.routes, full)
	a.mux.HandleFunc(full, func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if err := h(w, r, p); err != nil {
			a.fail(w, r, err)
		}
	})
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Unknown paths and methods are problem details too, not the mux's
	// plain text.
	if _, pattern := a.mux.Handler(r); pattern == "" {
		if !strings.HasPrefix(r.URL.Path, Prefix+"/") {
			web.WriteProblem(w, web.Problem{Status: http.StatusNotFound, Detail: "The API is under " + Prefix + "."})
			return
		}
		web.WriteProblem(w, web.Problem{Status: http.StatusNotFound, Detail: "No such resource or method."})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.mux.ServeHTTP(w, r)
}

// authenticate finds the token's principal, or answers 401.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (admin.Principal, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="xtramail"`)
		web.WriteProblem(w, web.Problem{Status: http.StatusUnauthorized, Detail: "Send an API token: Authorization: Bearer xtm_..."})
		return admin.Principal{}, false
	}
	p, err := a.adm.AuthenticateToken(r.Context(), strings.TrimSpace(token), web.RemoteIP(r))
	if err != nil {
		if !errors.Is(err, admin.ErrUnauthenticated) {
			a.log.Error("API token check", "err", err)
			web.WriteProblem(w, web.Problem{Status: http.StatusServiceUnavailable, Detail: "Tokens cannot be checked right now."})
			return admin.Principal{}, false
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="xtramail", error="invalid_token"`)
		web.WriteProblem(w, web.Problem{Status: http.StatusUnauthorized, Detail: "The token is unknown, revoked or expired."})
		return admin.Principal{}, false
	}
	return p.WithIP(web.RemoteIP(r)), true
}

// fail maps an operation's error to its answer: the one place that
// turns the admin and store error kinds into HTTP.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *admin.FieldError
	var be *badInput
	switch {
	case errors.As(err, &be):
		web.WriteProblem(w, web.Problem{Status: http.StatusBadRequest, Title: "Bad input", Detail: be.msg, Field: be.field})
	case errors.As(err, &fe):
		web.WriteProblem(w, web.Problem{Status: http.StatusBadRequest, Title: "Bad input", Detail: fe.Msg, Field: fe.Field})
	case errors.Is(err, store.ErrNotFound):
		web.WriteProblem(w, web.Problem{Status: http.StatusNotFound, Detail: "Not found."})
	case errors.Is(err, admin.ErrForbidden):
		web.WriteProblem(w, web.Problem{Status: http.StatusForbidden, Detail: "Your role may not do this."})
	case errors.Is(err, admin.ErrUnauthenticated):
		web.WriteProblem(w, web.Problem{Status: http.StatusUnauthorized, Detail: "Not authenticated."})
	case errors.Is(err, store.ErrExists):
		web.WriteProblem(w, web.Problem{Status: http.StatusConflict, Detail: "It exists already."})
	case errors.Is(err, admin.ErrNoSystemSender):
		web.WriteProblem(w, web.Problem{Status: http.StatusConflict, Detail: "This service has no sender address for its own mail: set [web] system_sender in its configuration."})
	case errors.Is(err, admin.ErrNoRelay):
		web.WriteProblem(w, web.Problem{Status: http.StatusConflict, Detail: "The address's domain names no relay host to redeliver to: set it first."})
	case errors.Is(err, store.ErrNotEmpty):
		web.WriteProblem(w, web.Problem{Status: http.StatusConflict, Detail: "It is not empty: remove what it holds first."})
	case errors.Is(err, store.ErrInvalid):
		web.WriteProblem(w, web.Problem{Status: http.StatusBadRequest, Title: "Bad input", Detail: "The input is not valid."})
	default:
		a.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		web.WriteProblem(w, web.Problem{Status: http.StatusInternalServerError, Detail: "Something went wrong on our side. It has been logged."})
	}
}

// badInput is a 400 found by the API itself (JSON, query parameters).
type badInput struct{ field, msg string }

func (e *badInput) Error() string { return e.field + ": " + e.msg }

func bad(field, format string, args ...any) error {
	return &badInput{field: field, msg: fmt.Sprintf(format, args...)}
}

// decode reads a JSON body into v: unknown fields and trailing data are
// errors naming what is wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return bad(te.Field, "must be %s", te.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return bad(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		case errors.Is(err, io.EOF):
			return bad("body", "a JSON object is required")
		}
		return bad("body", "not valid JSON: %v", err)
	}
	if dec.More() {
		return bad("body", "one JSON object only")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// page is every list's envelope.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}
