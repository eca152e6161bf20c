package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
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
