// Package api is xtramail's REST API under /api/v1: the console's
// operations for scripts, over the admin package, which does every
// permission check and audit record. Requests authenticate with an API
// token ("Authorization: Bearer xtm_..."), created in the console or with
// `xtramail token create`; a token acts with its administrator's role and
// subtree. Bodies are JSON (another type is 415, over 1 MiB 413); errors
// are RFC 9457 problem details, naming the field for bad input (400: a
// body field, or a query parameter the route does not take or a bad
// value of one it does); a method a resource lacks is 405 with Allow. An
// object outside the token's subtree is 404, exactly as a missing one. Lists are paged by an opaque cursor:
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
	"mime"
	"net/http"
	"net/url"
	"slices"
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
	query  map[string][]string // each route's query parameters
}

// New returns the API over adm; mount it at "/api/".
func New(adm *admin.Service, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &API{adm: adm, log: log, mux: http.NewServeMux(), query: map[string][]string{}}
	a.route("GET /openapi.json", nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(openAPI)
	})
	a.register()
	return a
}

// Routes lists every route as "METHOD /api/v1/path/{param}", for the
// test that holds them against the OpenAPI document.
func (a *API) Routes() []string { return append([]string(nil), a.routes...) }

// Query lists the query parameters that a route of Routes takes; any
// other is answered 400 naming it.
func (a *API) Query(route string) []string { return append([]string(nil), a.query[route]...) }

// route registers h for pattern ("GET /path", under Prefix), taking the
// query parameters named. It is the one way routes are made, so every
// route refuses a parameter it does not take (a misspelt filter, an
// option of another route) with a 400 naming it, rather than answering
// as if it had not been sent: a 200 with the whole log for ?domain=, an
// import that quietly generates nothing for ?generate=. A parameter a
// handler reads but its route does not name is refused too, so its tests
// find it.
func (a *API) route(pattern string, query []string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	full := method + " " + Prefix + path
	a.routes = append(a.routes, full)
	a.query[full] = query
	a.mux.HandleFunc(full, func(w http.ResponseWriter, r *http.Request) {
		if err := onlyQuery(r, query); err != nil {
			a.fail(w, r, err)
			return
		}
		h(w, r)
	})
}

// onlyQuery refuses a query that does not parse, or that has a
// parameter other than those named; the first of them in order is named.
func onlyQuery(r *http.Request, names []string) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return bad("query", "not a valid query string")
	}
	var unknown []string
	for k := range q {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if len(names) == 0 {
		return bad(unknown[0], "unknown query parameter: this resource takes none")
	}
	return bad(unknown[0], "unknown query parameter: this resource takes %s", strings.Join(names, ", "))
}

// maxBody bounds a JSON request body; a longer one is 413.
const maxBody = 1 << 20

// handle registers an authenticated route whose body is at most maxBody
// and that takes the query parameters named (route).
func (a *API) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, p admin.Principal) error, query ...string) {
	a.handleBody(pattern, maxBody, h, query...)
}

// handleBody registers an authenticated route whose body is at most
// limit bytes: a longer one is answered 413 (Content Length Too Large,
// RFC 9110 section 15.5.14), never cut short and read as if whole. It
// takes the query parameters named (route).
func (a *API) handleBody(pattern string, limit int64, h func(w http.ResponseWriter, r *http.Request, p admin.Principal) error, query ...string) {
	a.route(pattern, query, a.authenticated(limit, h))
}

// authenticated answers 401 for a request without a valid token, then
// limits the body.
func (a *API) authenticated(limit int64, h func(w http.ResponseWriter, r *http.Request, p admin.Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if r.ContentLength > limit {
			a.fail(w, r, &http.MaxBytesError{Limit: limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := h(w, r, p); err != nil {
			a.fail(w, r, err)
		}
	}
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Unknown paths and methods are problem details too, not the mux's
	// plain text.
	if _, pattern := a.mux.Handler(r); pattern == "" {
		if !strings.HasPrefix(r.URL.Path, Prefix+"/") {
			web.WriteProblem(w, web.Problem{Status: http.StatusNotFound, Detail: "The API is under " + Prefix + "."})
			return
		}
		allow := a.allowed(r)
		switch {
		case len(allow) == 0:
			web.WriteProblem(w, web.Problem{Status: http.StatusNotFound, Detail: "No such resource."})
		case r.Method == http.MethodOptions:
			w.Header().Set("Allow", strings.Join(append(allow, http.MethodOptions), ", "))
			w.WriteHeader(http.StatusNoContent)
		default:
			// RFC 9110 section 15.5.6: a 405 names the methods that work.
			w.Header().Set("Allow", strings.Join(allow, ", "))
			web.WriteProblem(w, web.Problem{Status: http.StatusMethodNotAllowed,
				Detail: "This resource answers " + strings.Join(allow, ", ") + "."})
		}
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.mux.ServeHTTP(w, r)
}

// allowed lists the methods that r's path has routes for.
func (a *API) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		rm := r.Clone(r.Context())
		rm.Method = m
		if _, pattern := a.mux.Handler(rm); pattern != "" {
			out = append(out, m)
		}
	}
	return out
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
	var big *http.MaxBytesError
	var media *unsupportedMedia
	var links *admin.SignInLinkLimitError
	switch {
	case errors.As(err, &big):
		web.WriteProblem(w, web.Problem{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The body is longer than this resource takes (%d bytes).", big.Limit)})
	case errors.As(err, &media):
		// RFC 5789 section 2.2 and RFC 9110 section 15.5.16: say what
		// is taken instead.
		switch r.Method {
		case http.MethodPatch:
			w.Header().Set("Accept-Patch", media.want)
		case http.MethodPost:
			w.Header().Set("Accept-Post", media.want)
		}
		web.WriteProblem(w, web.Problem{Status: http.StatusUnsupportedMediaType, Detail: "Send the body as " + media.want + "."})
	case errors.As(err, &be):
		web.WriteProblem(w, web.Problem{Status: http.StatusBadRequest, Title: "Bad input", Detail: be.msg, Field: be.field})
	case errors.As(err, &fe):
		web.WriteProblem(w, web.Problem{Status: http.StatusBadRequest, Title: "Bad input", Detail: fe.Msg, Field: fe.Field})
	case errors.As(err, &links):
		w.Header().Set("Retry-After", links.RetrySeconds())
		web.WriteProblem(w, web.Problem{Status: http.StatusTooManyRequests, Detail: links.Explain()})
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
	case errors.Is(err, store.ErrSending):
		web.WriteProblem(w, web.Problem{Status: http.StatusConflict, Detail: "It is being delivered at this moment: its outcome will be in the message log."})
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

// unsupportedMedia is a body of another type than the resource takes
// (415).
type unsupportedMedia struct{ got, want string }

func (e *unsupportedMedia) Error() string { return "body of type " + e.got + ", want " + e.want }

// needType refuses a body whose Content-Type is not want (or, for
// application/json, a +json type).
func needType(r *http.Request, want string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == want || want == "application/json" && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return &unsupportedMedia{got: ct, want: want}
}

// decode reads a JSON body into v: another content type is 415, a body
// over the route's limit 413 (handleBody), unknown fields and trailing
// data are errors naming what is wrong.
func decode(r *http.Request, v any) error {
	if err := needType(r, "application/json"); err != nil {
		return err
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var big *http.MaxBytesError
		switch {
		case errors.As(err, &big):
			return err
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
