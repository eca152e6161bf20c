package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
)

// Static serves embedded assets under content-hashed URLs
// ("/static/app.3f2a9c1d.css"), cached by browsers for a year: a changed
// file gets a new URL, so no cache ever serves a stale one. Compressible
// files are gzipped once, when added.
type Static struct {
	mu     sync.RWMutex
	byName map[string]*asset // "app.css", "webmail/list.js"
	byPath map[string]*asset // "/static/app.3f2a9c1d.css"
}

type asset struct {
	url   string
	ctype string
	body  []byte
	gz    []byte // nil when not worth it
	etag  string
	// style is the CSP hash-source of a stylesheet's text ("'sha256-…'"),
	// "" for other assets.
	style string
}

func newStatic() *Static {
	return &Static{byName: map[string]*asset{}, byPath: map[string]*asset{}}
}

// Add registers every file of fsys under prefix: Add("webmail", files)
// makes "webmail/list.js" of the file list.js. The core's own files have
// no prefix ("app.css", "htmx.min.js"). Add before serving.
func (st *Static) Add(prefix string, fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("static asset %s: %w", p, err)
		}
		st.AddFile(path.Join(prefix, p), b)
		return nil
	})
}

// AddFile registers one asset by name.
func (st *Static) AddFile(name string, body []byte) {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])[:12]
	ext := path.Ext(name)
	a := &asset{
		url:   "/static/" + strings.TrimSuffix(name, ext) + "." + h + ext,
		ctype: mime.TypeByExtension(ext),
		body:  body,
		etag:  `"` + h + `"`,
	}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	if ext == ".css" {
		a.style = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	if compressible(a.ctype) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.byName[name] = a
	st.byPath[a.url] = a
}

// URL returns the hashed URL of a registered asset; an unknown name
// gives "" (and the template helper an error, so a typo fails the page's
// test instead of shipping a broken link).
func (st *Static) URL(name string) string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if a := st.byName[name]; a != nil {
		return a.url
	}
	return ""
}

// urlErr is URL for templates.
func (st *Static) urlErr(name string) (string, error) {
	if u := st.URL(name); u != "" {
		return u, nil
	}
	return "", fmt.Errorf("static asset %q is not registered", name)
}

// Inline returns the named stylesheets as <style> elements, for a
// page's head: the page paints without waiting for a request (what a
// first paint with an empty cache waits for most, after the page
// itself), and the served policy allows exactly these texts (Server.CSP).
// A sheet that could end its element early is linked instead.
func (st *Static) Inline(names ...string) (template.HTML, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var b strings.Builder
	for _, name := range names {
		a := st.byName[name]
		if a == nil || a.style == "" {
			return "", fmt.Errorf("stylesheet %q is not registered", name)
		}
		if bytes.Contains(bytes.ToLower(a.body), []byte("</style")) {
			b.WriteString(`<link rel="stylesheet" href="` + a.url + `">`)
			continue
		}
		b.WriteString("<style>")
		b.Write(a.body)
		b.WriteString("</style>")
	}
	return template.HTML(b.String()), nil
}

// Late returns the named scripts as preloads that static/boot.js runs,
// in document order, once the page has painted: a script in the head,
// even deferred, is compiled and run before the first paint (Chromium
// paints after DOMContentLoaded when the scripts are there by then), and
// htmx alone cost about 80 ms of it. The preload starts the download
// while the page parses, so they are ready when the paint is done.
func (st *Static) Late(names ...string) (template.HTML, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var b strings.Builder
	for _, name := range names {
		a := st.byName[name]
		if a == nil || path.Ext(name) != ".js" {
			return "", fmt.Errorf("script %q is not registered", name)
		}
		b.WriteString(`<link rel="preload" as="script" href="` + a.url + `" data-late>`)
	}
	return template.HTML(b.String()), nil
}

// styleSources lists the CSP hash-sources of every stylesheet, each
// after a space, in a stable order.
func (st *Static) styleSources() string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var srcs []string
	for _, a := range st.byName {
		if a.style != "" {
			srcs = append(srcs, a.style)
		}
	}
	sort.Strings(srcs)
	if len(srcs) == 0 {
		return ""
	}
	return " " + strings.Join(srcs, " ")
}

// Size returns the bytes a browser downloads for an asset: gzipped when
// it is served so. For budgets in tests.
func (st *Static) Size(name string) int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	a := st.byName[name]
	switch {
	case a == nil:
		return 0
	case a.gz != nil:
		return len(a.gz)
	}
	return len(a.body)
}

func (st *Static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st.mu.RLock()
	a := st.byPath[r.URL.Path]
	st.mu.RUnlock()
	if a == nil {
		NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
