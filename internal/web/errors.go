package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
)

// Problem is an RFC 9457 problem details object, the API's error body.
type Problem struct {
	Type   string `json:"type,omitempty"` // "about:blank" when empty (RFC 9457 section 4.2.1)
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the input that was refused (JSON pointer or field
	// name), for a 400.
	Field string `json:"field,omitempty"`
}

// WriteProblem answers with problem details as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// Error answers a request that failed with status and a message a person
// can act on: problem details for the API and JSON clients, a small
// fragment for htmx, the error page in the layout for the rest. Never
// pass an internal error's text: log it, and say what the user can do.
func Error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		WriteProblem(w, Problem{Status: status, Detail: msg})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<p class="error" role="alert">%s</p>`, template.HTMLEscapeString(msg))
		return
	}
	if l, ok := r.Context().Value(layoutKey{}).(*Layout); ok {
		l.errorPage.Render(w, r, status, View{Title: http.StatusText(status), Data: errorData{Status: status, Message: msg}})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>%d %s</title><p>%s</p>", status, http.StatusText(status), template.HTMLEscapeString(msg))
}

type errorData struct {
	Status  int
	Message string
}

// NotFound answers 404 with the error page.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, r, http.StatusNotFound, "There is nothing here. It may have been deleted, or the link is wrong.")
}
