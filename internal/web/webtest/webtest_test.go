package webtest_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/tlsutil"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// serve serves a page over TLS with cert on loopback.
func serve(t *testing.T, cert tls.Certificate, page string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// TestOnlyTheTestCertificateIsAccepted: the browser ignores certificate
// errors for the test certificate alone; another self-signed one fails.
func TestOnlyTheTestCertificateIsAccepted(t *testing.T) {
	good := serve(t, webtest.Cert(t), "<title>ok</title><p id=x>ok</p>")
	other, _, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	bad := serve(t, other.Certificates[0], "<title>bad</title><p id=x>bad</p>")

	tab := webtest.NewTab(t)
	tab.Navigate(good + "/")
	if got := tab.Text("#x"); got != "ok" {
		t.Fatalf("page over the test certificate: %q", got)
	}
	ctx, cancel := context.WithTimeout(tab.Ctx, webtest.Timeout)
	defer cancel()
	err = chromedp.Do(ctx, chromedp.Navigate(bad+"/"))
	if err == nil {
		title, _ := chromedp.Run(ctx, chromedp.Title())
		if title == "bad" {
			t.Fatal("the browser accepted another self-signed certificate")
		}
	} else if !strings.Contains(err.Error(), "CERT") {
		t.Fatalf("navigation to another certificate: %v, want a certificate error", err)
	}
}

// TestRemoteRequestsAndEmulation: the request log tells requests that
// left for another host from those to the server and those the browser
// blocked; a phone tab is 390 px wide and dark mode is what CSS sees.
func TestRemoteRequestsAndEmulation(t *testing.T) {
	// A remote host that answers nothing: the request still left.
	dead, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	page := `<meta name="viewport" content="width=device-width"><title>t</title><img src="/local.png"><img src="http://` + dead.Addr().String() + `/pixel.gif">`
	base := serve(t, webtest.Cert(t), page)
	tab := webtest.NewTab(t, webtest.Phone, webtest.Dark)
	tab.Navigate(base + "/")
	deadline := time.Now().Add(webtest.Timeout)
	for len(tab.Requests()) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	remote := tab.RemoteRequests(base)
	if len(remote) != 1 || !strings.Contains(remote[0], "/pixel.gif") {
		t.Errorf("remote requests %v, want the pixel only (all: %+v)", remote, tab.Requests())
	}
	w := webtest.Run(tab, chromedp.Evaluate[int](`window.innerWidth`))
	dark := webtest.Run(tab, chromedp.Evaluate[bool](`matchMedia("(prefers-color-scheme: dark)").matches`))
	if w != webtest.PhoneWidth || !dark {
		t.Errorf("phone dark tab: width %d dark %v", w, dark)
	}
	tab.SetDark(false)
	tab.SetWidth(webtest.LaptopWidth)
	w = webtest.Run(tab, chromedp.Evaluate[int](`window.innerWidth`))
	dark = webtest.Run(tab, chromedp.Evaluate[bool](`matchMedia("(prefers-color-scheme: dark)").matches`))
	if w != webtest.LaptopWidth || dark {
		t.Errorf("after SetWidth/SetDark: width %d dark %v", w, dark)
	}
}
