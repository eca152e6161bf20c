package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// View is what a page template gets as its dot. Handlers fill Title,
// Data and, as they like, Nav, App and Flash; Render fills the rest from
// the request.
type View struct {
	Title string // the page's title, before " · xtramail"
	// App names the sub-app ("webmail", "console"): the body's class
	// (app-webmail), for the few styles that differ.
	App string
	// Home is where the brand link goes ("/" when empty).
	Home string
	// Nav is the links of the top bar.
	Nav []NavLink
	// Flash is a one-line notice at the top ("Message sent."); set it
	// for the next page with SetFlash before a redirect.
	Flash string
	// Data is the page's own data.
	Data any

	// Filled by Render.
	Principal Principal
	SignedIn  bool
	CSRF      string // the session's token: {{template "csrf" .}} in forms
	SignOut   string // the sign-out form's action
}

// NavLink is one link of the top bar.
type NavLink struct {
	Label   string
	Href    string
	Current bool   // aria-current="page"
	Badge   string // a count beside it ("12"), empty for none
}

// Layout parses page templates into the shared base layout.
type Layout struct {
	base      *template.Template
	static    *Static
	errorPage *Page
	loginPage *Page
	homePage  *Page
}

type layoutKey struct{}

func newLayout(st *Static, _ *Sessions) *Layout {
	if err := st.Add("", mustSub(staticFS, "static")); err != nil {
		panic(err) // embedded: cannot fail
	}
	l := &Layout{static: st}
	l.base = template.Must(template.New("base").Funcs(l.funcs()).ParseFS(templateFS, "templates/layout.html"))
	l.errorPage = l.MustParse(templateFS, "templates/error.html")
	l.loginPage = l.MustParse(templateFS, "templates/login.html")
	l.homePage = l.MustParse(templateFS, "templates/home.html")
	return l
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func (l *Layout) funcs() template.FuncMap {
	return template.FuncMap{
		"static": l.static.urlErr,
		// inline puts stylesheets in the page (Static.Inline).
		"inline": l.static.Inline,
		// late lists scripts that run after the first paint
		// (Static.Late).
		"late": l.static.Late,
		// date shows a time the way lists do: the time today, the day
		// this year, the full date before.
		"date": func(t time.Time) string {
			now := time.Now()
			switch {
			case t.IsZero():
				return ""
			case t.Year() == now.Year() && t.YearDay() == now.YearDay():
				return t.Format("15:04")
			case t.Year() == now.Year():
				return t.Format("2 Jan")
			}
			return t.Format("2 Jan 2006")
		},
	}
}

// Page is one parsed page: the layout plus the page's own templates,
// which define "content" (the page body) and may define "head" (extra
// <head> elements: the page's own scripts and styles) and any fragments
// that htmx requests render alone.
type Page struct{ t *template.Template }

// Parse parses a page from the files of fsys matching patterns (the
// page's file, plus shared partials) into a copy of the base layout.
// Functions available: static "name" (hashed asset URL), inline "name.css"
// (a stylesheet in the page), late "name.js" (a script run after the
// first paint), date.
func (l *Layout) Parse(fsys fs.FS, patterns ...string) (*Page, error) {
	t, err := l.base.Clone()
	if err != nil {
		return nil, err
	}
	if _, err := t.ParseFS(fsys, patterns...); err != nil {
		return nil, fmt.Errorf("parse page %v: %w", patterns, err)
	}
	return &Page{t: t}, nil
}

// MustParse is Parse for pages embedded in the binary, whose errors are
// programming errors: it panics.
func (l *Layout) MustParse(fsys fs.FS, patterns ...string) *Page {
	p, err := l.Parse(fsys, patterns...)
	if err != nil {
		panic(err)
	}
	return p
}

// Render writes the page in the layout with status. It fills the View
// from the request (principal, CSRF token, pending flash). The page is
// rendered to memory first, so a template error gives a clean 500, not
// half a page.
func (p *Page) Render(w http.ResponseWriter, r *http.Request, status int, v View) {
	p.execute(w, r, status, "layout", v)
}

// Fragment writes one named template of the page alone (no layout): the
// answer to an htmx request that swaps part of the page.
func (p *Page) Fragment(w http.ResponseWriter, r *http.Request, status int, name string, v View) {
	p.execute(w, r, status, name, v)
}

func (p *Page) execute(w http.ResponseWriter, r *http.Request, status int, name string, v View) {
	fillView(w, r, &v)
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, name, v); err != nil {
		if srv, ok := r.Context().Value(serverKey{}).(*Server); ok {
			srv.log.Error("render page", "template", name, "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "This page could not be shown. The error has been logged.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		// Pages show private mail: never kept by a shared cache, and
		// not shown again from history after sign-out.
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func fillView(w http.ResponseWriter, r *http.Request, v *View) {
	if ses := SessionFrom(r.Context()); ses != nil {
		v.Principal, v.SignedIn, v.CSRF = ses.Principal, true, ses.CSRF
		if v.SignOut == "" {
			v.SignOut = "/logout"
			if ses.Principal.Kind == PrincipalAdmin {
				v.SignOut = "/console/logout"
			}
		}
	}
	if v.Home == "" {
		v.Home = "/"
	}
	if v.Flash == "" {
		v.Flash = takeFlash(w, r)
	}
}

const flashCookie = "__Host-xtramail-flash"

// SetFlash shows msg once, on the next page the browser renders (after a
// redirect: "Password changed.").
func SetFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)),
		Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 300 {
		return ""
	}
	return string(b)
}

type serverKey struct{}

// withServer puts the server and its layout in every request's context,
// for Error's page and Render's log.
func (s *Server) withServer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), serverKey{}, s)
		ctx = context.WithValue(ctx, layoutKey{}, s.layout)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
