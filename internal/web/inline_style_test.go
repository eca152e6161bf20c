package web_test

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// TestInlineStylesAllowedByTheirHashOnly: a page carries its stylesheets
// inline (no request before its first paint), each allowed by the served
// policy through its own hash, and the policy allows no other inline
// style: style-src is 'self' and hash-sources, nothing unsafe.
func TestInlineStylesAllowedByTheirHashOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	resp, page := b.get("/login")
	csp := resp.Header.Get("Content-Security-Policy")
	styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(styles) == 0 {
		t.Fatalf("no inline stylesheet on the sign-in page:\n%s", page)
	}
	if strings.Contains(page, `rel="stylesheet"`) {
		t.Errorf("the sign-in page still links a stylesheet")
	}
	for _, m := range styles {
		sum := sha256.Sum256([]byte(m[1]))
		src := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !strings.Contains(csp, src) {
			t.Errorf("inline style of %d bytes not allowed by %q", len(m[1]), csp)
		}
	}
	dir := regexp.MustCompile(`style-src ([^;]*)`).FindStringSubmatch(csp)
	if dir == nil {
		t.Fatalf("no style-src in %q", csp)
	}
	for _, src := range strings.Fields(dir[1]) {
		if src != "'self'" && !regexp.MustCompile(`^'sha256-[A-Za-z0-9+/]{43}='$`).MatchString(src) {
			t.Errorf("style-src allows %s", src)
		}
	}
}
