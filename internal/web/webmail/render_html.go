package webmail

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// The HTML of a message is shown in three layers, each needed on its own
// (LIBRARIES.md, "Message HTML"): this sanitiser, a URL of its own with a
// strict Content-Security-Policy, and an <iframe sandbox> without
// allow-scripts or allow-same-origin.

// htmlPolicies are the two sanitisers: remote images dropped, or kept
// (the user allowed them for a message).
type htmlPolicies struct {
	blocked, allowed *bluemonday.Policy
}

func newHTMLPolicies() htmlPolicies {
	return htmlPolicies{blocked: emailPolicy(false), allowed: emailPolicy(true)}
}

// sanitize cleans a message's HTML for the body frame.
func (h htmlPolicies) sanitize(s string, remoteImages bool) string {
	if remoteImages {
		return h.allowed.Sanitize(s)
	}
	return h.blocked.Sanitize(s)
}

// safeStyles are the inline style properties kept, each checked by
// bluemonday's own value handler for that property. None of them takes a
// url() (background, background-image, list-style-image, cursor, content,
// behavior are left out), and the handlers refuse expression().
var safeStyles = []string{
	"color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight", "font-variant",
	"text-align", "text-decoration", "text-indent", "text-transform", "line-height", "letter-spacing", "word-spacing",
	"white-space", "vertical-align", "direction", "unicode-bidi",
	"margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
	"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
	"border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style", "border-width",
	"border-collapse", "border-spacing", "border-radius",
	"width", "min-width", "max-width", "height", "min-height", "max-height",
	"display", "float", "clear", "overflow", "table-layout", "caption-side", "empty-cells", "list-style-type",
	"list-style-position",
}

// htmlIdentifier is what class and id values may be (they style nothing
// here, but mail templates carry them and they harm nothing).
var htmlIdentifier = regexp.MustCompile(`^[\w\- ]{0,200}$`)

// emailPolicy is the sanitiser for mail: layout and text elements and
// their presentational attributes, inline styles per property, links to
// http, https and mailto that open in a new tab without opener or
// referrer, images from cid: (mapped to the message's own parts) and,
// when remoteImages, from http and https. Everything else goes: scripts,
// <style>, forms, event handlers, <base>, <meta>, <link>, <object>, SVG,
// iframes, CSS url() and expression().
func emailPolicy(remoteImages bool) *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center", "cite",
		"code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font",
		"h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
		"samp", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
		"thead", "time", "tr", "tt", "u", "ul", "var", "wbr", "article", "section", "header", "footer", "main", "nav",
		"aside", "hgroup")
	p.AllowAttrs("align", "valign", "width", "height", "bgcolor", "border", "cellpadding", "cellspacing", "colspan",
		"rowspan", "dir", "lang", "title", "color", "face", "size", "nowrap", "span", "start", "type", "headers", "scope",
		"abbr", "summary").Globally()
	p.AllowAttrs("class", "id").Matching(htmlIdentifier).Globally()
	p.AllowStyles(safeStyles...).Globally()
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("src", "alt").OnElements("img")
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	// cid: is only for images; a link to one goes nowhere.
	p.AllowURLSchemeWithCustomPolicy("cid", func(u *url.URL) bool { return true })
	p.RewriteSrc(func(u *url.URL) { rewriteImage(u, remoteImages) })
	return p
}

// rewriteImage maps an image URL: cid:x becomes the relative "cid/x",
// which from the frame's URL (/mail/{id}/html) names the message's part
// with that Content-ID (RFC 2392); a remote image stays only when the user
// allowed images, an http one asked for over https (the frame's policy
// loads https images only, and a page on https may not load http ones:
// the images of a newsletter written with http URLs never showed);
// anything else is dropped (an empty src loads nothing).
func rewriteImage(u *url.URL, remote bool) {
	switch strings.ToLower(u.Scheme) {
	case "cid":
		cid := u.Opaque
		if cid == "" {
			cid = strings.TrimPrefix(u.Path, "/")
		}
		if c, err := url.PathUnescape(cid); err == nil {
			cid = c
		}
		*u = url.URL{Path: "cid/" + cid}
		return
	case "http", "https":
		if remote {
			u.Scheme = "https"
			return
		}
	}
	*u = url.URL{}
}

// htmlDocument wraps sanitised HTML into the frame's document, with the
// message's own stylesheet (sanitizeCSS's) after the frame's defaults so
// that the message's design wins. Both are allowed by the frame's CSP
// (style-src 'unsafe-inline').
func htmlDocument(style, body string) string {
	return `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<style>html{background:#fff;color:#111}body{margin:8px;font:15px/1.45 system-ui,sans-serif;overflow-wrap:anywhere}` +
		`img{max-width:100%;height:auto}table{max-width:100%}pre{white-space:pre-wrap}` +
		// Fixed-width newsletter tables fit a phone's frame.
		`@media (max-width:600px){table{width:100%!important}td{width:auto!important}}</style>` +
		messageStyle(style) + `</head><body>` + body + `</body></html>`
}

// messageStyle is the message's cleaned stylesheet as a <style> element,
// or nothing.
func messageStyle(style string) string {
	if style == "" {
		return ""
	}
	return "<style>" + style + "</style>"
}
