package web

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cssVars reads the custom properties of the first :root block after
// marker in app.css: the light theme (marker ":root {") or the dark one
// (marker "prefers-color-scheme: dark").
func cssVars(t *testing.T, css, marker string) map[string]string {
	t.Helper()
	i := strings.Index(css, marker)
	if i < 0 {
		t.Fatalf("app.css has no %q", marker)
	}
	rest := css[i:]
	j := strings.Index(rest, ":root {")
	k := strings.Index(rest[j:], "}")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z0-9-]+):\s*([^;]+);`).FindAllStringSubmatch(rest[j:j+k], -1) {
		vars[m[1]] = strings.TrimSpace(m[2])
	}
	return vars
}

// luminance is a #rrggbb colour's relative luminance (WCAG 2.2,
// "relative luminance").
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q is not #rrggbb", hex)
	}
	var l [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(t *testing.T, fg, bg string) float64 {
	a, b := luminance(t, fg), luminance(t, bg)
	return (max(a, b) + 0.05) / (min(a, b) + 0.05)
}

// TestContrastOfThemeColours computes, from app.css's own colours, the
// contrast of every text colour on every background it is used on, in
// both themes, and asks WCAG 2.2 AA's 4.5:1 (1.4.3, normal text): muted
// text (dates, previews, hints) above all, which is where it is lost.
func TestContrastOfThemeColours(t *testing.T) {
	b, err := staticFS.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	pairs := [][2]string{
		{"text", "bg"}, {"text", "surface"}, {"text", "surface-2"},
		{"muted", "bg"}, {"muted", "surface"}, {"muted", "surface-2"},
		{"accent", "bg"}, {"accent", "surface"}, {"accent", "accent-soft"},
		{"accent-text", "accent"},
		{"danger", "surface"}, {"danger", "danger-soft"},
		{"ok", "surface"}, {"ok", "ok-soft"},
		{"warn", "surface"}, {"warn", "warn-soft"},
	}
	for _, theme := range []struct{ name, marker string }{{"light", ":root {"}, {"dark", "prefers-color-scheme: dark"}} {
		vars := cssVars(t, css, theme.marker)
		for _, p := range pairs {
			fg, bg := vars[p[0]], vars[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s: no --%s or --%s", theme.name, p[0], p[1])
				continue
			}
			if c := contrast(t, fg, bg); c < 4.5 {
				t.Errorf("%s: --%s %s on --%s %s is %.2f:1, want 4.5:1 at least", theme.name, p[0], fg, p[1], bg, c)
			} else {
				t.Logf("%s: --%s on --%s %.2f:1", theme.name, p[0], p[1], c)
			}
		}
	}
}
