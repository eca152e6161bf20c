// Package web is xtramail's one HTTPS listener: the webmail at /, the
// console at /console/ and the REST API at /api/ are sub-apps mounted on
// it. It owns what they share: TLS and HTTP/2, timeouts, server-side
// sessions, CSRF defence, security headers, error pages, the base layout
// and design system (static/app.css), content-hashed static assets and
// gzip. Sub-apps import web; web never imports them.
//
// # Mounting a sub-app
//
// package service builds each sub-app with what it needs and mounts it
// before serving:
//
//	w := web.New(web.Config{TLS: tlsCfg}, web.NewSessions(st, web.SessionsConfig{}), log)
//	w.UserSignIn(authn, st)                 // /login, POST /logout, the "user" principal
//	w.Mount("/", webmail.New(w, st, ...))   // the webmail owns every path not mounted elsewhere
//	w.Mount("/console/", console.New(w, ...))
//	w.Mount("/api/", api.New(w, ...))
//	go w.Serve(ln)
//
// A mounted handler sees the whole path (nothing is stripped); inside,
// use your own http.ServeMux with method patterns ("GET /console/domains/{id}").
// A sub-app registers its principal kind once (the webmail's is done by
// UserSignIn; the console does the same for admins):
//
//	w.Sessions().Register(web.PrincipalAdmin, "/console/login", checkAdmin)
//
// # Requiring a session and naming the principal
//
// Wrap what needs a signed-in principal, then read it from the context;
// every store call names it, so another account's id is ErrNotFound:
//
//	mux.Handle("GET /{$}", w.Sessions().Require(web.PrincipalUser, http.HandlerFunc(inbox)))
//	func inbox(rw http.ResponseWriter, r *http.Request) {
//		user, _ := web.UserFrom(r.Context()) // user.ID is the account id
//		...
//	}
//
// Without a session, Require redirects pages to the sign-in page (and back
// afterwards) and answers 401 to htmx (with HX-Redirect) and JSON requests.
// Sign a principal in with Sessions().Start(w, r, kind, id) (a new id, the
// old session ended), out with End; EndOthers ends the principal's other
// sessions (after a password change), EndAll all of them (an admin
// disabled the account). A session of a removed or disabled account
// stops working at its next request (the kind's PrincipalCheck), and its
// long-lived responses end (Server.Hold).
//
// # CSRF
//
// Every POST/PUT/PATCH/DELETE made with a session cookie must carry the
// session's token, or it is refused with 403. Forms: {{template "csrf" .}}
// inside the <form>. htmx: nothing to do, static/app.js adds the
// X-CSRF-Token header from the layout's meta tag. fetch(): send the header
// yourself (document.querySelector('meta[name=csrf-token]').content).
// Uploads: prefer the header (the form field makes the server parse the
// multipart body first). Cross-origin state changes are refused before any
// of that (http.CrossOriginProtection). API requests with a bearer token
// and no cookie carry no token.
//
// # Rendering pages
//
// Parse each page once, at start-up, into the base layout. A page's file
// defines "content" and may define "head" (its own <link>/<script>, from
// Static) and fragments for htmx:
//
//	//go:embed templates
//	var tmpl embed.FS
//	inboxPage := w.Layout().MustParse(tmpl, "templates/inbox.html", "templates/partials/*.html")
//	...
//	inboxPage.Render(rw, r, http.StatusOK, web.View{
//		Title: "Inbox", App: "webmail",
//		Nav:   []web.NavLink{{Label: "Inbox", Href: "/", Current: true, Badge: "3"}},
//		Data:  inboxData{...},               // {{.Data.X}} in the template
//	})
//	inboxPage.Fragment(rw, r, http.StatusOK, "rows", web.View{Data: ...}) // htmx swap
//
// Render fills View.Principal, .SignedIn, .CSRF and a pending flash
// (web.SetFlash before a redirect). Template functions: static "name"
// (hashed URL of an asset), date. Responses are no-store unless the
// handler set Cache-Control.
//
// The layout loads app.css, htmx (2.0.11, vendored in static/) and app.js.
// No inline <script>, <style> or style="" anywhere: the CSP forbids them
// (script-src 'self'; style-src 'self'). Put a page's behaviour in a .js
// file and its few styles in a .css file of your sub-app, registered with
//
//	w.Static().Add("webmail", webmailStaticFS) // "webmail/inbox.js" → /static/webmail/inbox.<hash>.js
//
// and referenced as {{static "webmail/inbox.js"}}. Design system classes
// (app.css): topbar/topnav, card, narrow, toolbar, row, btn (btn-primary,
// btn-danger, btn-quiet, btn-small, btn-block), form/field/hint, alert
// (alert-error, alert-ok, alert-warn), badge (badge-muted/-ok/-warn/
// -danger), list/list-row/list-main/list-title/list-sub/list-meta
// (is-unread, is-selected), table-wrap + table (num), empty/empty-title,
// muted, small, visually-hidden, htmx-indicator.
//
// # Redirects
//
// Redirect to a destination the request names ("next", "back") only
// through LocalPath(p, within, def), which keeps it a path of this site
// (under within) as browsers will read it.
//
// # Errors and headers
//
// web.Error(rw, r, status, "what the user can do") answers with the
// error page, an htmx fragment or RFC 9457 problem details, whichever the
// request wants; web.NotFound for 404; web.WriteProblem for the API. Log
// the internal error yourself; never show it. A panic is recovered,
// logged with its stack, and answered 500. Every response carries
// DefaultCSP, nosniff, Referrer-Policy no-referrer, HSTS, COOP and
// X-Frame-Options DENY; a handler may set a stricter CSP for itself
// (the message-body frame) with rw.Header().Set before writing. A
// long-lived response (live updates) must run on the context of
// Server.Hold, which ends when the server closes or the request's session
// ends (signed out, ended elsewhere, expired), check Sessions().Live
// before each thing it sends, and lift its write deadline with
// http.ResponseController. Neither it nor the page's own background
// fetches (BackgroundHeader) count as use of the session.
//
// # Tests
//
// testserver.Server.Web is the base URL and HTTPClient() a client that
// trusts its certificate; internal/web/webtest drives Chromium.
package web
