package web

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
)

// DefaultCSP is the Content-Security-Policy of every response. No inline
// script anywhere: scripts come from /static/ only; styles too, or
// inline as the exact text of a registered stylesheet (Static.Inline),
// which the served policy allows by its hash (Server.CSP). A handler may
// set a stricter one for itself (the message-body frame: "default-src
// 'none'; ...") with w.Header().Set before writing.
const DefaultCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every response carries. They are set
// before the handler runs, so a handler can replace any of them.
func securityHeaders(next http.Handler) http.Handler { return securityHeadersCSP(DefaultCSP, next) }

// securityHeadersCSP is securityHeaders with the policy csp.
func securityHeadersCSP(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY") // for browsers without frame-ancestors
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		// RFC 6797: browsers ignore it over plain HTTP, so it is set on
		// every response; two years, as the preload list asks.
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a handler's panic into a logged error and a plain 500
// page: the stack goes to the log, never to the browser.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the handler's way to cut the connection
			}
			s.log.Error("web handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v),
				"stack", string(debug.Stack()))
			Error(w, r, http.StatusInternalServerError, "Something went wrong on our side. It has been logged.")
		}()
		next.ServeHTTP(w, r)
	})
}

// gzipPool compresses responses for clients that accept gzip.
type gzipPool struct{ pool sync.Pool }

func newGzipPool() *gzipPool {
	return &gzipPool{pool: sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
		return w
	}}}
}

func (p *gzipPool) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r) || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w, pool: p}
		defer gw.close()
		next.ServeHTTP(gw, r)
	})
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		// "gzip;q=0" (RFC 9110 section 12.5.3) refuses it.
		return !(strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q=0"), ".0") == "")
	}
	return false
}

// compressible reports content worth compressing. Event streams are not
// (each event must leave at once), nor already-compressed formats.
func compressible(contentType string) bool {
	ct, _, _ := mime.ParseMediaType(contentType)
	switch {
	case ct == "text/event-stream":
		return false
	case strings.HasPrefix(ct, "text/"), ct == "application/json", ct == "application/problem+json",
		ct == "application/javascript", ct == "image/svg+xml", ct == "application/xml":
		return true
	}
	return false
}

// gzipWriter decides at the first write whether to compress, from the
// handler's Content-Type and Content-Encoding.
type gzipWriter struct {
	http.ResponseWriter
	pool    *gzipPool
	gz      *gzip.Writer
	decided bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if !g.decided {
		g.decided = true
		h := g.ResponseWriter.Header()
		if code != http.StatusNoContent && code != http.StatusNotModified && code >= 200 &&
			h.Get("Content-Encoding") == "" && compressible(h.Get("Content-Type")) {
			h.Del("Content-Length")
			h.Set("Content-Encoding", "gzip")
			g.gz = g.pool.pool.Get().(*gzip.Writer)
			g.gz.Reset(g.ResponseWriter)
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.decided {
		if g.Header().Get("Content-Type") == "" {
			g.Header().Set("Content-Type", http.DetectContentType(b))
		}
		g.WriteHeader(http.StatusOK)
	}
	if g.gz != nil {
		return g.gz.Write(b)
	}
	return g.ResponseWriter.Write(b)
}

// Flush sends what is compressed so far (http.Flusher, and through
// Unwrap http.ResponseController).
func (g *gzipWriter) Flush() {
	if g.gz != nil {
		g.gz.Flush()
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// Hijack is refused: no handler here takes over the connection.
func (g *gzipWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("web: hijack not supported")
}

func (g *gzipWriter) close() {
	if g.gz != nil {
		g.gz.Close()
		g.gz.Reset(io.Discard)
		g.pool.pool.Put(g.gz)
		g.gz = nil
	}
}
