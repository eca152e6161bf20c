package webmail

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestScriptsRunAfterFirstPaint: no webmail page has a script that runs
// before its first paint. The one <script> element of each is the async
// loader (web/static/boot.js); htmx, app.js and the page's own scripts
// are preloads it runs once the page has painted, htmx first, each
// served.
func TestScriptsRunAfterFirstPaint(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, "From: a@example.org\nSubject: hi\n\nbody\n", time.Now(), 0)
	c := e.signIn(e.bob)
	scriptTag := regexp.MustCompile(`<script\b[^>]*>`)
	late := regexp.MustCompile(`<link rel="preload" as="script" href="([^"]+)" data-late>`)
	for _, path := range []string{"/", "/search?q=hi", "/deleted", "/settings", "/compose", "/msg/" + strconv.FormatInt(m.ID, 10)} {
		resp, page := c.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		tags := scriptTag.FindAllString(page, -1)
		if len(tags) != 1 || !strings.Contains(tags[0], "/static/boot.") || !strings.Contains(tags[0], " async") {
			t.Errorf("%s: scripts %q, want only boot.js, async", path, tags)
		}
		if !strings.Contains(page, `<html lang="en" data-scripts="loading">`) {
			t.Errorf("%s: <html> does not say its scripts are loading", path)
		}
		urls := late.FindAllStringSubmatch(page, -1)
		if len(urls) < 2 || !strings.Contains(urls[0][1], "/htmx.min.") || !strings.Contains(urls[1][1], "/app.") {
			t.Errorf("%s: late scripts %q, want htmx then app.js first", path, urls)
		}
		for _, u := range urls {
			r, body := c.get(u[1])
			if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") || len(body) == 0 {
				t.Errorf("%s: late script %s: %s %s", path, u[1], r.Status, r.Header.Get("Content-Type"))
			}
		}
	}
}

// TestMoreLinkWithoutScripts: "More messages" followed as a plain link
// (before the scripts ran, or without them) gives the whole page from
// there; asked by htmx, the rows alone.
func TestMoreLinkWithoutScripts(t *testing.T) {
	e := newWebEnv(t)
	base := time.Now().Add(-time.Hour)
	for i := range pageSize + 5 {
		put(t, e.st, e.bob, store.Inbox, fmt.Sprintf("From: a@example.org\nSubject: number %02d\n\nbody\n", i), base.Add(time.Duration(i)*time.Second), 0)
	}
	c := e.signIn(e.bob)
	_, page := c.get("/")
	more := regexp.MustCompile(`<a class="btn btn-quiet btn-small" href="([^"]+)"`).FindStringSubmatch(page)
	if more == nil {
		t.Fatalf("no More link on the first page")
	}
	href := strings.ReplaceAll(more[1], "&amp;", "&")
	resp, full := c.get(href)
	if resp.StatusCode != http.StatusOK || !strings.Contains(full, "<html") || !strings.Contains(full, "number 04") || strings.Contains(full, "number 05") {
		t.Errorf("the More link as a plain link: %s, whole page %v, rows 00-04 only %v", resp.Status, strings.Contains(full, "<html"),
			strings.Contains(full, "number 04") && !strings.Contains(full, "number 05"))
	}
	req, _ := http.NewRequest("GET", e.URL+href, nil)
	req.Header.Set("HX-Request", "true")
	r, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	frag, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if strings.Contains(string(frag), "<html") || !strings.Contains(string(frag), "number 04") {
		t.Errorf("the More link from htmx: not the rows alone:\n%s", frag)
	}
}
