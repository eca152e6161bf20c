package console

import (
	"fmt"
	"html/template"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSVG draws content (an otpauth:// URI, Key Uri Format) as a QR code in
// inline SVG: one path of unit squares, so that it needs no image URL, no
// data: URI and no script under the console's CSP. The colours are fixed
// black on white, not the page's: scanners need dark modules on a light
// ground with a quiet zone (ISO/IEC 18004 section 7.3.7), in dark mode
// too.
func qrSVG(content, label string) (template.HTML, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	bits := q.Bitmap() // with its 4-module quiet zone
	n := len(bits)
	var path strings.Builder
	for y, row := range bits {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 0
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	return template.HTML(fmt.Sprintf(
		`<svg class="xc-qrcode" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="220" height="220" role="img" aria-label="%s" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		n, n, template.HTMLEscapeString(label), n, n, path.String())), nil
}
