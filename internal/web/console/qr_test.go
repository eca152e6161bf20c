package console

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestQRCodeScans draws the enrolment QR code's SVG path into a PNG (each
// module 6 pixels) and reads it back with a real scanner, zbarimg (Debian
// zbar-tools): what a phone's authenticator app does with the page.
func TestQRCodeScans(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg not found (Debian package zbar-tools; scripts/test installs it): %v", err)
	}
	uri := "otpauth://totp/xtramail:admin@example.test?algorithm=SHA1&digits=6&issuer=xtramail&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	svg, err := qrSVG(uri, "QR code for your authenticator app")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(string(svg))
	if m == nil {
		t.Fatalf("no viewBox in %s", svg)
	}
	n, _ := strconv.Atoi(m[1])
	const scale = 6
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	d := regexp.MustCompile(` d="([^"]*)"`).FindStringSubmatch(string(svg))[1]
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(d, -1)
	if len(runs) == 0 || strings.Count(d, "M") != len(runs) {
		t.Fatalf("path is not made of module runs: %.200s", d)
	}
	for _, r := range runs {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		for px := x * scale; px < (x+w)*scale; px++ {
			for py := y * scale; py < (y+1)*scale; py++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(zbar, "--quiet", "--raw", file).Output()
	if err != nil {
		t.Fatalf("zbarimg could not read the code: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != uri {
		t.Errorf("scanned %q, want %q", got, uri)
	}
	if !strings.Contains(string(svg), `aria-label="QR code for your authenticator app"`) || !strings.Contains(string(svg), `fill="#fff"`) {
		t.Errorf("QR SVG lacks its label or light ground: %.300s", svg)
	}
}
