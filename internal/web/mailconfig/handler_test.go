package mailconfig

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// domains is a fixed set of protected domains; err, when set, is every
// lookup's answer (the store is down).
type domains struct {
	names map[string]bool
	err   error
}

func (d domains) Domain(_ context.Context, name string) (store.Domain, error) {
	if d.err != nil {
		return store.Domain{}, d.err
	}
	if !d.names[name] {
		return store.Domain{}, store.ErrNotFound
	}
	return store.Domain{Name: name}, nil
}

var testServer = Server{Hostname: "continuity.example.com", IMAPPort: 993, SubmissionPort: 587, SubmissionsPort: 465}

func serve(t *testing.T, h *Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux.Handle)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// TestHandlerAnswers: what each malformed, oversized, foreign or
// unservable request gets.
func TestHandlerAnswers(t *testing.T) {
	known := domains{names: map[string]bool{"example.test": true}}
	big := "<Autodiscover><Request><EMailAddress>bob@example.test</EMailAddress></Request>" + strings.Repeat("<!-- padding -->", 1100) + "</Autodiscover>"
	mobilesync := `<Autodiscover><Request><EMailAddress>bob@example.test</EMailAddress>
<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>`
	for _, tc := range []struct {
		name   string
		srv    Server
		doms   domains
		method string
		url    string
		host   string
		body   string
		want   int
	}{
		{name: "autoconfig by address", method: "GET", url: "/mail/config-v1.1.xml?emailaddress=bob%40example.test", want: 200},
		{name: "autoconfig HEAD", method: "HEAD", url: "/mail/config-v1.1.xml?emailaddress=bob%40example.test", want: 200},
		{name: "autoconfig by host", method: "GET", url: "/mail/config-v1.1.xml", host: "autoconfig.example.test:443", want: 200},
		{name: "well-known by host", method: "GET", url: "/.well-known/autoconfig/mail/config-v1.1.xml", host: "EXAMPLE.test", want: 200},
		{name: "autoconfig host not served", method: "GET", url: "/mail/config-v1.1.xml", host: "autoconfig.other.test", want: 404},
		{name: "autoconfig bad address", method: "GET", url: "/mail/config-v1.1.xml?emailaddress=bob", want: 400},
		{name: "autoconfig POST", method: "POST", url: "/mail/config-v1.1.xml?emailaddress=bob%40example.test", want: 405},
		{name: "autodiscover", method: "POST", url: "/autodiscover/autodiscover.xml", body: outlook("bob@example.test"), want: 200},
		{name: "autodiscover GET", method: "GET", url: "/autodiscover/autodiscover.xml", want: 405},
		{name: "autodiscover not XML", method: "POST", url: "/autodiscover/autodiscover.xml", body: "EMailAddress=bob@example.test", want: 400},
		{name: "autodiscover other root", method: "POST", url: "/autodiscover/autodiscover.xml", body: "<Request><EMailAddress>bob@example.test</EMailAddress></Request>", want: 400},
		{name: "autodiscover no address", method: "POST", url: "/autodiscover/autodiscover.xml", body: outlook(""), want: 400},
		{name: "autodiscover over 16 KiB", method: "POST", url: "/autodiscover/autodiscover.xml", body: big, want: 413},
		{name: "autodiscover ActiveSync", method: "POST", url: "/autodiscover/autodiscover.xml", body: mobilesync, want: 404},
		{name: "autodiscover domain not served", method: "POST", url: "/Autodiscover/Autodiscover.xml", body: outlook("bob@other.test"), want: 404},
		{name: "IMAP off", srv: Server{Hostname: "h.test", SubmissionPort: 587}, method: "GET", url: "/mail/config-v1.1.xml?emailaddress=bob%40example.test", want: 404},
		{name: "submission off", srv: Server{Hostname: "h.test", IMAPPort: 993}, method: "POST", url: "/autodiscover/autodiscover.xml", body: outlook("bob@example.test"), want: 404},
		{name: "store down", doms: domains{err: errors.New("disk on fire")}, method: "GET", url: "/mail/config-v1.1.xml?emailaddress=bob%40example.test", want: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, doms := tc.srv, tc.doms
			if srv == (Server{}) {
				srv = testServer
			}
			if doms.names == nil && doms.err == nil {
				doms = known
			}
			r := httptest.NewRequest(tc.method, "https://continuity.example.com"+tc.url, strings.NewReader(tc.body))
			if tc.host != "" {
				r.Host = tc.host
			}
			w := serve(t, NewHandler(srv, doms, nil), r)
			if w.Code != tc.want {
				t.Fatalf("%s %s: %d, want %d\n%s", tc.method, tc.url, w.Code, tc.want, w.Body)
			}
			body := w.Body.String()
			if strings.Contains(body, "disk on fire") {
				t.Errorf("the store's error reached the client: %s", body)
			}
			if w.Code == 200 && tc.method != "HEAD" && !strings.Contains(body, "<Server>continuity.example.com</Server>") &&
				!strings.Contains(body, "<hostname>continuity.example.com</hostname>") {
				t.Errorf("answer without the host name:\n%s", body)
			}
		})
	}
}

// TestProfileIdentity: the profile's identifiers are the same on every
// download of one address, differ between addresses and hosts, and its
// UUIDs are RFC 9562 version 5.
func TestProfileIdentity(t *testing.T) {
	ids := func(s Server, addr string) []string {
		doc, err := AppleProfile(s, addr)
		if err != nil {
			t.Fatal(err)
		}
		return regexp.MustCompile(`<key>Payload(?:Identifier|UUID)</key>\s*<string>([^<]+)</string>`).FindAllString(string(doc), -1)
	}
	a, again := ids(testServer, "bob@example.test"), ids(testServer, "bob@example.test")
	if len(a) != 4 || strings.Join(a, "") != strings.Join(again, "") {
		t.Fatalf("identifiers differ between downloads or are missing: %v / %v", a, again)
	}
	other := testServer
	other.Hostname = "other.example.com"
	for _, b := range [][]string{ids(testServer, "eve@example.test"), ids(other, "bob@example.test")} {
		for i := range a {
			if a[i] == b[i] {
				t.Errorf("the same %s for another address or host", a[i])
			}
		}
	}
	v5 := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	for _, name := range []string{"x", "bob@example.test"} {
		if u := nameUUID(name); !v5.MatchString(u) {
			t.Errorf("nameUUID(%q) = %s, not a version 5 UUID", name, u)
		}
	}
}

// TestProfileEscapes: an address with XML's special characters and a
// UTF-8 local part comes back whole from Python's plistlib.
func TestProfileEscapes(t *testing.T) {
	const addr = "a&b<c>'d\"ö@example.test"
	doc, err := AppleProfile(testServer, addr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", `import plistlib, sys
p = plistlib.loads(sys.stdin.buffer.read())
sys.stdout.write(p['PayloadContent'][0]['EmailAddress'])`)
	cmd.Stdin = strings.NewReader(string(doc))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s", err, out)
	}
	if string(out) != addr {
		t.Errorf("plistlib read %q, want %q", out, addr)
	}
}

func outlook(addr string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
<Request><EMailAddress>` + addr + `</EMailAddress>
<AcceptableResponseSchema>` + OutlookSchema + `</AcceptableResponseSchema></Request></Autodiscover>`
}

// FuzzAutodiscover: whatever the body, the handler answers one of its
// statuses, never panics, and answers 200 only with the document for the
// address the body named.
func FuzzAutodiscover(f *testing.F) {
	f.Add(outlook("bob@example.test"))
	f.Add(outlook("Bob@EXAMPLE.test"))
	f.Add(outlook("bob@other.test"))
	f.Add(`<Autodiscover><Request><EMailAddress>a&amp;b@example.test</EMailAddress></Request></Autodiscover>`)
	f.Add(`<Autodiscover><Request><EMailAddress>x</EMailAddress><EMailAddress>y@example.test</EMailAddress></Request></Autodiscover>`)
	f.Add(`<!DOCTYPE a [<!ENTITY e "bob@example.test">]><Autodiscover><Request><EMailAddress>&e;</EMailAddress></Request></Autodiscover>`)
	h := NewHandler(testServer, domains{names: map[string]bool{"example.test": true}}, nil)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "https://continuity.example.com/autodiscover/autodiscover.xml", strings.NewReader(body))
		w := serve(t, h, r)
		switch w.Code {
		case 200:
			if !strings.Contains(w.Body.String(), "<LoginName>") || !strings.Contains(w.Body.String(), "@example.test</LoginName>") {
				t.Errorf("200 without the address's login name:\n%s", w.Body)
			}
		case 400, 404, 413:
		default:
			t.Errorf("status %d for %q", w.Code, body)
		}
	})
}
