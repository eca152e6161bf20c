// Package chart renders small, accessible charts as inline SVG on the
// server, for the console's dashboard: no script, no chart library, no
// CDN, and nothing for the page's Content-Security-Policy to allow.
//
// Every chart is an <svg role="img"> named by its <title> and summarised
// by its <desc> (WAI-ARIA graphics: the figures a sighted reader takes in
// at a glance are in text too), with axis labels and a <title> on each bar
// or point that browsers show as a tooltip and screen readers read.
//
// Colours come from the page's stylesheet through classes (xc-axis,
// xc-grid, xc-s0 … xc-s5) and default to currentColor, so a chart follows
// the page into dark mode without its own colours and stays legible even
// when the stylesheet did not load. No inline style attributes or <style>
// elements are emitted, so a strict style-src CSP is enough.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series is one named row of values, one per category of the chart.
type Series struct {
	Name   string
	Values []float64
}

// Chart describes what to draw. Categories label the X axis (days, for
// the dashboard) of Line and Bars, and the rows of HBars.
type Chart struct {
	// ID makes the ids inside the SVG unique on the page (aria
	// references); letters, digits and '-' only.
	ID         string
	Title      string
	XLabel     string
	YLabel     string
	Categories []string
	Series     []Series
	// Format writes a value for ticks, tooltips and the summary;
	// Count when nil.
	Format func(float64) string
	// Width of the drawing in viewBox units, DefaultWidth when 0. The
	// SVG scales to its box, text with it: a page shows a narrow
	// drawing (NarrowWidth) on a phone so that its text stays readable.
	Width int
}

// Widths of the drawing.
const (
	DefaultWidth = 560
	NarrowWidth  = 340
)

// Geometry of the drawing, in viewBox units. The viewBox is narrow enough
// that 13-unit text stays readable when the SVG is scaled down to a 360 px
// phone screen.
const (
	height    = 260
	padLeft   = 64
	padRight  = 12
	padTop    = 12
	padBottom = 58
	fontSize  = 13
	maxSeries = 6 // distinct series classes; more reuse them
	rowHeight = 26
)

func (c *Chart) width() int {
	if c.Width < 200 {
		return DefaultWidth
	}
	return c.Width
}

// Count formats a count with thousands separators.
func Count(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Bytes formats a size in binary units (KiB, MiB, …).
func Bytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 || v >= 100 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	if v >= 10 {
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.2g %s", v, units[i])
}

func (c *Chart) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return Count(v)
}

// Line draws one line per series over the categories, with a marker and
// tooltip per point.
func Line(c Chart) template.HTML {
	return c.render(false)
}

// Bars draws grouped vertical bars: one group per category, one bar per
// series.
func Bars(c Chart) template.HTML {
	return c.render(true)
}

func (c *Chart) maxValue() float64 {
	m := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v > m && !math.IsInf(v, 1) {
				m = v
			}
		}
	}
	return m
}

// value returns a series' value at i, 0 when missing or not a number
// (a chart never draws outside its frame).
func value(s Series, i int) float64 {
	if i >= len(s.Values) {
		return 0
	}
	v := s.Values[i]
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

func (c *Chart) empty() bool {
	if len(c.Categories) == 0 {
		return true
	}
	for _, s := range c.Series {
		for i := range c.Categories {
			if value(s, i) > 0 {
				return false
			}
		}
	}
	return true
}

// writer accumulates SVG text with escaping for text and attributes.
type writer struct{ strings.Builder }

func (w *writer) f(format string, args ...any) { fmt.Fprintf(&w.Builder, format, args...) }

// esc escapes text for an SVG text node or a double-quoted attribute.
func esc(s string) string { return template.HTMLEscapeString(s) }

func (c *Chart) id(part string) string {
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, c.ID)
	if id == "" {
		id = "chart"
	}
	return id + "-" + part
}

// open writes the <svg> element with its accessible name and summary.
func (c *Chart) open(w *writer, h int) {
	w.f(`<svg class="xc-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="%s %s" font-size="%d" fill="currentColor">`,
		c.width(), h, c.id("title"), c.id("desc"), fontSize)
	w.f(`<title id="%s">%s</title>`, c.id("title"), esc(c.Title))
	w.f(`<desc id="%s">%s</desc>`, c.id("desc"), esc(c.Summary()))
}

// Summary says in one sentence what the chart shows: per series its total
// and its highest category (the <desc> of the SVG).
func (c *Chart) Summary() string {
	if c.empty() {
		return "No data."
	}
	var parts []string
	for _, s := range c.Series {
		total, best, bestI := 0.0, -1.0, 0
		for i := range c.Categories {
			v := value(s, i)
			total += v
			if v > best {
				best, bestI = v, i
			}
		}
		parts = append(parts, fmt.Sprintf("%s: %s in all, most %s (%s)", s.Name, c.format(total), c.format(best), c.Categories[bestI]))
	}
	return fmt.Sprintf("%s, %s to %s. %s.", c.Title, c.Categories[0], c.Categories[len(c.Categories)-1], strings.Join(parts, "; "))
}

// niceTicks returns tick values from 0 to at least max, 2 to 6 of them,
// at steps of 1, 2 or 5 times a power of ten.
func niceTicks(max float64) []float64 {
	if max <= 0 {
		return []float64{0, 1}
	}
	raw := max / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for v := 0.0; ; v += step {
		ticks = append(ticks, v)
		if v >= max {
			break
		}
	}
	return ticks
}

// binaryTicks is niceTicks for sizes: steps of a power-of-two multiple of
// 1, 2 or 5 KiB/MiB/…, so tick labels read "512 MiB", not "536.9 MB".
func binaryTicks(max float64) []float64 {
	unit := 1.0
	for max/unit >= 1024 {
		unit *= 1024
	}
	t := niceTicks(max / unit)
	for i := range t {
		t[i] *= unit
	}
	return t
}

// yTicks picks the ticks for the chart's value format: binary steps for
// sizes, whole steps for counts (a count axis never reads 0, 0.5, 1).
func (c *Chart) yTicks(max float64) []float64 {
	switch {
	case c.Format != nil && c.Format(1024) == Bytes(1024):
		return binaryTicks(max)
	case c.Format == nil && max < 4:
		return wholeTicks(max)
	}
	return niceTicks(max)
}

// wholeTicks counts 0, 1, 2 … up to at least max, for small counts.
func wholeTicks(max float64) []float64 {
	ticks := []float64{0}
	for v := 1.0; ; v++ {
		ticks = append(ticks, v)
		if v >= max {
			return ticks
		}
	}
}

func (c *Chart) render(bars bool) template.HTML {
	var w writer
	c.open(&w, height)
	plotW := float64(c.width() - padLeft - padRight)
	plotH := float64(height - padTop - padBottom)
	x0, y0 := float64(padLeft), float64(padTop)+plotH
	if c.empty() {
		c.frame(&w, x0, y0, plotW, plotH, []float64{0, 1}, 1)
		w.f(`<text x="%g" y="%g" text-anchor="middle" class="xc-empty">No data</text>`, x0+plotW/2, y0-plotH/2)
		c.axisLabels(&w, x0, y0, plotW, plotH)
		w.f(`</svg>`)
		return template.HTML(w.String())
	}
	ticks := c.yTicks(c.maxValue())
	top := ticks[len(ticks)-1]
	c.frame(&w, x0, y0, plotW, plotH, ticks, top)
	n := len(c.Categories)
	slot := plotW / float64(n)
	y := func(v float64) float64 { return y0 - v/top*plotH }

	// X labels: one per 70 units at most, so they never overlap.
	most := max(int(plotW)/70, 1)
	every := (n + most - 1) / most
	for i, cat := range c.Categories {
		if i%every != 0 {
			continue
		}
		w.f(`<text x="%.1f" y="%.1f" text-anchor="middle" class="xc-tick">%s</text>`, x0+slot*(float64(i)+0.5), y0+fontSize+6, esc(cat))
	}

	if bars {
		groupW := slot * 0.8
		barW := groupW / float64(len(c.Series))
		for si, s := range c.Series {
			w.f(`<g class="xc-s%d" fill="currentColor">`, si%maxSeries)
			for i, cat := range c.Categories {
				v := value(s, i)
				bx := x0 + slot*float64(i) + (slot-groupW)/2 + barW*float64(si)
				w.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s, %s: %s</title></rect>`,
					bx, y(v), math.Max(barW-1, 0.5), y0-y(v), esc(cat), esc(s.Name), esc(c.format(v)))
			}
			w.f(`</g>`)
		}
	} else {
		for si, s := range c.Series {
			w.f(`<g class="xc-s%d" fill="currentColor" stroke="currentColor">`, si%maxSeries)
			var pts []string
			for i := range c.Categories {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x0+slot*(float64(i)+0.5), y(value(s, i))))
			}
			w.f(`<polyline fill="none" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
			for i, cat := range c.Categories {
				v := value(s, i)
				w.f(`<circle cx="%.1f" cy="%.1f" r="3.5"><title>%s, %s: %s</title></circle>`,
					x0+slot*(float64(i)+0.5), y(v), esc(cat), esc(s.Name), esc(c.format(v)))
			}
			w.f(`</g>`)
		}
	}
	c.axisLabels(&w, x0, y0, plotW, plotH)
	c.legend(&w, height-6)
	w.f(`</svg>`)
	return template.HTML(w.String())
}

// frame draws the value axis with its ticks and grid lines, and the base
// line.
func (c *Chart) frame(w *writer, x0, y0, plotW, plotH float64, ticks []float64, top float64) {
	w.f(`<g class="xc-grid" stroke="currentColor" stroke-opacity="0.15">`)
	for _, t := range ticks {
		yy := y0 - t/top*plotH
		w.f(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, yy, yy)
	}
	w.f(`</g>`)
	for _, t := range ticks {
		yy := y0 - t/top*plotH
		w.f(`<text x="%.1f" y="%.1f" text-anchor="end" class="xc-tick">%s</text>`, x0-6, yy+fontSize/3, esc(c.format(t)))
	}
	w.f(`<line class="xc-axis" stroke="currentColor" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x0, x0+plotW, y0, y0)
}

func (c *Chart) axisLabels(w *writer, x0, y0, plotW, plotH float64) {
	if c.XLabel != "" {
		w.f(`<text x="%.1f" y="%.1f" text-anchor="middle" class="xc-label">%s</text>`, x0+plotW/2, y0+2*fontSize+10, esc(c.XLabel))
	}
	if c.YLabel != "" {
		w.f(`<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle" class="xc-label">%s</text>`, y0-plotH/2, esc(c.YLabel))
	}
}

// legend names the series at the bottom when there is more than one.
func (c *Chart) legend(w *writer, y int) {
	if len(c.Series) < 2 {
		return
	}
	x := float64(padLeft)
	for si, s := range c.Series {
		w.f(`<g class="xc-s%d" fill="currentColor"><rect x="%.1f" y="%d" width="10" height="10"/></g>`, si%maxSeries, x, y-10)
		w.f(`<text x="%.1f" y="%d" class="xc-legend">%s</text>`, x+14, y, esc(s.Name))
		x += 14 + float64(len([]rune(s.Name)))*fontSize*0.6 + 18
	}
}

// HBars draws one horizontal bar per category for the first series (the
// dashboard's storage per domain): the height grows with the rows, and
// long names get the room that vertical labels would not have.
func HBars(c Chart) template.HTML {
	var w writer
	n := len(c.Categories)
	h := padTop + max(n, 1)*rowHeight + 40
	c.open(&w, h)
	width := c.width()
	label := width * 32 / 100 // room for category names
	x0 := float64(label)
	plotW := float64(width - label - padRight - 70)
	var s Series
	if len(c.Series) > 0 {
		s = c.Series[0]
	}
	if c.empty() {
		w.f(`<text x="%d" y="%d" text-anchor="middle" class="xc-empty">No data</text>`, c.width()/2, padTop+rowHeight/2+fontSize/3)
		w.f(`</svg>`)
		return template.HTML(w.String())
	}
	top := c.maxValue()
	w.f(`<g class="xc-s0" fill="currentColor">`)
	for i, cat := range c.Categories {
		v := value(s, i)
		y := float64(padTop + i*rowHeight)
		bw := v / top * plotW
		w.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d"><title>%s: %s</title></rect>`, x0, y+4, math.Max(bw, 1), rowHeight-8, esc(cat), esc(c.format(v)))
	}
	w.f(`</g>`)
	for i, cat := range c.Categories {
		v := value(s, i)
		y := float64(padTop+i*rowHeight) + float64(rowHeight)/2 + fontSize/3
		w.f(`<text x="%.1f" y="%.1f" text-anchor="end" class="xc-tick">%s</text>`, x0-6, y, esc(truncate(cat, label/8)))
		w.f(`<text x="%.1f" y="%.1f" class="xc-tick">%s</text>`, x0+math.Max(v/top*plotW, 1)+6, y, esc(c.format(v)))
	}
	w.f(`<line class="xc-axis" stroke="currentColor" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, x0, x0, padTop, padTop+n*rowHeight)
	if c.XLabel != "" {
		w.f(`<text x="%.1f" y="%d" text-anchor="middle" class="xc-label">%s</text>`, x0+plotW/2, padTop+n*rowHeight+fontSize+12, esc(c.XLabel))
	}
	w.f(`</svg>`)
	return template.HTML(w.String())
}

// truncate shortens s to n runes with an ellipsis (the full name stays in
// the bar's tooltip).
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
