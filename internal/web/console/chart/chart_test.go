package chart

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// node is a parsed SVG element, enough to check structure and geometry.
type node struct {
	Name     string
	Attr     map[string]string
	Text     string
	Children []*node
}

func parse(t *testing.T, h template.HTML) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(h)))
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, h)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tok.Name.Local, Attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			}
		}
	}
	if root == nil || root.Name != "svg" {
		t.Fatalf("no <svg> root in %s", h)
	}
	return root
}

func (n *node) all(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.Name == name {
			out = append(out, m)
		}
		for _, c := range m.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

func (n *node) child(name string) *node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func num(t *testing.T, n *node, attr string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.Attr[attr], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.Name, attr, n.Attr[attr], err)
	}
	return v
}

func days(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("12-%02d", i+1))
	}
	return out
}

// TestChartsAreAccessible checks what a screen reader and a tooltip need:
// role=img named by the <title> and described by the <desc>, axis labels,
// and a <title> naming category, series and value on every bar or point.
func TestChartsAreAccessible(t *testing.T) {
	c := Chart{ID: "traffic", Title: "Messages per day", XLabel: "Day", YLabel: "Messages",
		Categories: []string{"12-01", "12-02", "12-03"},
		Series:     []Series{{"Captured", []float64{10, 1234, 7}}, {"Sent", []float64{3, 4, 5}}}}
	for name, render := range map[string]func(Chart) template.HTML{"line": Line, "bars": Bars} {
		t.Run(name, func(t *testing.T) {
			svg := parse(t, render(c))
			if svg.Attr["role"] != "img" {
				t.Errorf("role = %q, want img", svg.Attr["role"])
			}
			ids := strings.Fields(svg.Attr["aria-labelledby"])
			title, desc := svg.child("title"), svg.child("desc")
			if title == nil || desc == nil || len(ids) != 2 || ids[0] != title.Attr["id"] || ids[1] != desc.Attr["id"] {
				t.Fatalf("aria-labelledby %q does not name the <title> and <desc>", svg.Attr["aria-labelledby"])
			}
			if title.Text != "Messages per day" {
				t.Errorf("title = %q", title.Text)
			}
			for _, want := range []string{"Captured: 1,251 in all, most 1,234 (12-02)", "Sent: 12 in all, most 5 (12-03)"} {
				if !strings.Contains(desc.Text, want) {
					t.Errorf("desc %q lacks %q", desc.Text, want)
				}
			}
			var tips []string
			for _, mark := range append(svg.all("rect"), svg.all("circle")...) {
				if tt := mark.child("title"); tt != nil {
					tips = append(tips, tt.Text)
				}
			}
			if len(tips) != 6 {
				t.Errorf("%d marks with a tooltip, want 6: %q", len(tips), tips)
			}
			if !strings.Contains(strings.Join(tips, "|"), "12-02, Captured: 1,234") {
				t.Errorf("no tooltip for 12-02 Captured: %q", tips)
			}
			var texts []string
			for _, tx := range svg.all("text") {
				texts = append(texts, tx.Text)
			}
			joined := strings.Join(texts, "|")
			for _, want := range []string{"Day", "Messages", "Captured", "Sent", "12-01"} {
				if !strings.Contains(joined, want) {
					t.Errorf("no text %q in %q", want, texts)
				}
			}
		})
	}
}

// TestChartsEscapeNames guards against markup in a domain or series name
// (both are tenant data) breaking out of the SVG.
func TestChartsEscapeNames(t *testing.T) {
	evil := `</title><script>alert(1)</script>&"`
	c := Chart{ID: `x" onload="alert(1)`, Title: evil, XLabel: evil, YLabel: evil, Categories: []string{evil, "b"},
		Series: []Series{{evil, []float64{1, 2}}, {"two", []float64{2, 1}}}}
	for name, out := range map[string]template.HTML{"line": Line(c), "bars": Bars(c), "hbars": HBars(c)} {
		svg := parse(t, out)
		if len(svg.all("script")) != 0 {
			t.Errorf("%s: a <script> element got through", name)
		}
		if strings.Contains(string(out), "onload") && !strings.Contains(string(out), "x--onload--alert-1-") {
			t.Errorf("%s: the id was not reduced to safe characters", name)
		}
	}
}

// TestChartsStayInFrame draws random data, with NaN, infinities and
// negative values, and checks that every mark lies inside the viewBox and
// no coordinate is NaN (a broken figure must not draw over the page).
func TestChartsStayInFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	odd := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -5, 0}
	for i := range 200 {
		n := 1 + r.IntN(40)
		c := Chart{ID: "r", Title: "random", Categories: days(n)}
		for s := range 1 + r.IntN(4) {
			var vs []float64
			for range n - r.IntN(2) { // sometimes a value short
				switch r.IntN(6) {
				case 0:
					vs = append(vs, odd[r.IntN(len(odd))])
				default:
					vs = append(vs, math.Floor(r.Float64()*math.Pow(10, float64(r.IntN(12)))))
				}
			}
			c.Series = append(c.Series, Series{fmt.Sprintf("s%d", s), vs})
		}
		if i%3 == 0 {
			c.Format = Bytes
		}
		if i%2 == 0 {
			c.Width = NarrowWidth
		}
		for name, render := range map[string]func(Chart) template.HTML{"line": Line, "bars": Bars, "hbars": HBars} {
			out := render(c)
			if strings.Contains(string(out), "NaN") || strings.Contains(string(out), "Inf") {
				t.Fatalf("case %d %s: NaN or Inf in output", i, name)
			}
			svg := parse(t, out)
			vb := strings.Fields(svg.Attr["viewBox"])
			w, _ := strconv.ParseFloat(vb[2], 64)
			h, _ := strconv.ParseFloat(vb[3], 64)
			for _, rect := range svg.all("rect") {
				x, y := num(t, rect, "x"), num(t, rect, "y")
				rw, rh := num(t, rect, "width"), num(t, rect, "height")
				if x < 0 || y < 0 || rw < 0 || rh < 0 || x+rw > w+0.5 || y+rh > h+0.5 {
					t.Fatalf("case %d %s: rect %v outside %gx%g", i, name, rect.Attr, w, h)
				}
			}
			for _, cir := range svg.all("circle") {
				x, y := num(t, cir, "cx"), num(t, cir, "cy")
				if x < 0 || y < 0 || x > w || y > h {
					t.Fatalf("case %d %s: point (%g,%g) outside %gx%g", i, name, x, y, w, h)
				}
			}
		}
	}
}

// TestNiceTicks checks the value axis: it starts at 0, reaches the
// highest value, has 2 to 6 ticks, and steps by 1, 2 or 5 times a power
// of ten (or of 1024 for sizes).
func TestNiceTicks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		max := r.Float64() * math.Pow(10, float64(r.IntN(15)-2))
		for name, ticks := range map[string][]float64{"decimal": niceTicks(max), "binary": binaryTicks(max)} {
			if ticks[0] != 0 || ticks[len(ticks)-1] < max || len(ticks) < 2 || len(ticks) > 6 {
				t.Fatalf("%s ticks for %g: %v", name, max, ticks)
			}
			step := ticks[1]
			unit := 1.0
			base := 10.0
			if name == "binary" {
				for max/unit >= 1024 {
					unit *= 1024
				}
				step /= unit
			}
			m := step / math.Pow(base, math.Floor(math.Log10(step)+1e-9))
			if math.Abs(m-1) > 1e-6 && math.Abs(m-2) > 1e-6 && math.Abs(m-5) > 1e-6 {
				t.Fatalf("%s ticks for %g step %g (mantissa %g): %v", name, max, ticks[1], m, ticks)
			}
		}
	}
}

func TestEmptyChartSaysNoData(t *testing.T) {
	for name, out := range map[string]template.HTML{
		"line":  Line(Chart{Title: "t", Categories: days(7), Series: []Series{{"a", make([]float64, 7)}}}),
		"bars":  Bars(Chart{Title: "t"}),
		"hbars": HBars(Chart{Title: "t"}),
	} {
		svg := parse(t, out)
		found := false
		for _, tx := range svg.all("text") {
			found = found || tx.Text == "No data"
		}
		if !found || svg.child("desc").Text != "No data." {
			t.Errorf("%s: empty chart does not say so: %s", name, out)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		v    float64
		f    func(float64) string
		want string
	}{
		{0, Count, "0"}, {999, Count, "999"}, {1000, Count, "1,000"}, {1234567, Count, "1,234,567"}, {-1234, Count, "-1,234"},
		{0, Bytes, "0 B"}, {1023, Bytes, "1023 B"}, {1024, Bytes, "1 KiB"}, {1536, Bytes, "1.5 KiB"},
		{512 << 20, Bytes, "512 MiB"}, {15.5 * (1 << 30), Bytes, "15.5 GiB"},
	} {
		if got := c.f(c.v); got != c.want {
			t.Errorf("format(%g) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestBytesChartTicksAreRound checks that a storage chart labels its axis
// in whole binary units.
func TestBytesChartTicksAreRound(t *testing.T) {
	c := Chart{Title: "Storage", Categories: []string{"a.test", "b.test"}, Format: Bytes,
		Series: []Series{{"Stored", []float64{700 << 20, 300 << 20}}}}
	svg := parse(t, Bars(c))
	var ticks []string
	for _, tx := range svg.all("text") {
		if tx.Attr["class"] == "xc-tick" && strings.HasSuffix(tx.Text, "MiB") {
			ticks = append(ticks, tx.Text)
		}
	}
	if strings.Join(ticks, ",") != "0 B,200 MiB,400 MiB,600 MiB,800 MiB" && strings.Join(ticks, ",") != "200 MiB,400 MiB,600 MiB,800 MiB" {
		t.Errorf("ticks = %q", ticks)
	}
}

// TestCountAxisIsWhole guards the dashboard's first day: one message
// must not give an axis of 0, 0.5 and 1 written "0, 1, 1".
func TestCountAxisIsWhole(t *testing.T) {
	for _, max := range []float64{1, 2, 3} {
		svg := parse(t, Bars(Chart{Title: "t", Categories: []string{"a", "b"}, Series: []Series{{"s", []float64{0, max}}}}))
		var ticks []string
		for _, tx := range svg.all("text") {
			if tx.Attr["class"] == "xc-tick" && tx.Attr["text-anchor"] == "end" {
				ticks = append(ticks, tx.Text)
			}
		}
		want := []string{"0"}
		for v := 1; v <= int(max); v++ {
			want = append(want, strconv.Itoa(v))
		}
		if strings.Join(ticks, ",") != strings.Join(want, ",") {
			t.Errorf("max %g: ticks %q, want %q", max, ticks, want)
		}
	}
}
