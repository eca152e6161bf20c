package mailconfig_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

const (
	bob   = "bob@example.test"
	bobPw = "bob-password-1"
	eve   = "eve@example.test"
)

// used is what testdata/use_settings.py took from a document and did.
type used struct {
	IMAP      server   `json:"imap"`
	SMTP      server   `json:"smtp"`
	SMTPAll   []server `json:"smtp_all"`
	SMTPUsed  string   `json:"smtp_used"`
	IMAPLogin string   `json:"imap_login"`
	Submitted bool     `json:"submitted"`
	Email     string   `json:"email"`
	Domains   []string `json:"domains"`
	IDs       []string `json:"ids"`
	Keys      []string `json:"keys"`
}

type server struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"`
	User     string `json:"user"`
}

// TestDocumentsSetUpAWorkingApp: each of the three documents, fetched as
// an app (or the signed-in user) fetches it from the running server and
// read by Python's own parsers, names the server's real host and ports,
// and the settings it gives, with the user's password (in no document),
// sign in over IMAP and send a message through submission that reaches
// Sent and the colleague's INBOX.
func TestDocumentsSetUpAWorkingApp(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{bob: bobPw, eve: "eve-password-1"}})
	host := srv.Config.Hostname
	imapPort, subPort, subsPort := port(t, srv.IMAP), port(t, srv.Submission), port(t, srv.Submissions)
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	hc := srv.HTTPClient()

	docs := map[string][]byte{}
	// Apple: the signed-in user's own profile from the settings page.
	signIn(t, srv, hc, bob, bobPw)
	resp, body := do(t, hc, "GET", srv.Web+"/settings/mail.mobileconfig", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("profile: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		t.Errorf("profile Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="mail-bob@example.test.mobileconfig"` {
		t.Errorf("profile Content-Disposition %q", cd)
	}
	docs["apple"] = body
	_, again := do(t, hc, "GET", srv.Web+"/settings/mail.mobileconfig", "", nil)
	if string(again) != string(body) {
		t.Error("a second download differs: installing it would add an account, not replace the first")
	}

	// Thunderbird and Outlook ask with no session.
	anon := srv.HTTPClient()
	resp, body = do(t, anon, "GET", srv.Web+"/mail/config-v1.1.xml?emailaddress="+url.QueryEscape(bob), "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("autoconfig: %s %s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	docs["autoconfig"] = body
	resp, body = do(t, anon, "POST", srv.Web+"/autodiscover/autodiscover.xml", "text/xml", strings.NewReader(outlookRequest(bob)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("autodiscover: %s\n%s", resp.Status, body)
	}
	docs["autodiscover"] = body

	want := func(kind, what string, got server, wantPort int, wantSec ...string) {
		t.Helper()
		if got.Host != host || got.Port != wantPort || !slices.Contains(wantSec, got.Security) || got.User != bob {
			t.Errorf("%s %s: %+v, want %s port %d %v user %s", kind, what, got, host, wantPort, wantSec, bob)
		}
	}
	for _, kind := range []string{"apple", "autoconfig", "autodiscover"} {
		doc := docs[kind]
		if strings.Contains(string(doc), bobPw) || strings.Contains(strings.ToLower(string(doc)), "<key>incomingpassword") ||
			strings.Contains(strings.ToLower(string(doc)), "<key>outgoingpassword<") {
			t.Errorf("%s: a password is in the document:\n%s", kind, doc)
		}
		f := filepath.Join(t.TempDir(), kind)
		if err := os.WriteFile(f, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		subject := "Sent as set up by " + kind
		out, err := exec.Command("python3", "testdata/use_settings.py", kind, f, bob, bobPw, cafile, subject, eve).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s\ndocument:\n%s", kind, err, out, doc)
		}
		var u used
		if err := json.Unmarshal(out, &u); err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, out)
		}
		want(kind, "IMAP", u.IMAP, imapPort, "ssl")
		want(kind, "SMTP", u.SMTP, subPort, "starttls", "tls")
		if u.IMAPLogin != "OK" || !u.Submitted {
			t.Errorf("%s: IMAP sign-in %q, submitted %v", kind, u.IMAPLogin, u.Submitted)
		}
		if u.SMTPUsed != "starttls" {
			t.Errorf("%s: submission used %q on port %d, want STARTTLS", kind, u.SMTPUsed, subPort)
		}
		switch kind {
		case "apple":
			if u.Email != bob {
				t.Errorf("apple: EmailAddress %q", u.Email)
			}
			for _, k := range u.Keys {
				if strings.Contains(strings.ToLower(k), "password") && k != "OutgoingPasswordSameAsIncomingPassword" {
					t.Errorf("apple: key %s in the profile", k)
				}
			}
		case "autoconfig":
			if !slices.Equal(u.Domains, []string{"example.test"}) {
				t.Errorf("autoconfig: domains %v", u.Domains)
			}
			if len(u.SMTPAll) != 2 {
				t.Fatalf("autoconfig: %d outgoing servers, want 587 and 465", len(u.SMTPAll))
			}
			want(kind, "SMTP (465)", u.SMTPAll[1], subsPort, "ssl")
		}
		if !slices.ContainsFunc(srv.Messages(t, bob, store.Sent), func(m store.Message) bool { return m.Subject == subject }) {
			t.Errorf("%s: %q is not in bob's Sent", kind, subject)
		}
		if !slices.ContainsFunc(srv.Messages(t, eve, store.Inbox), func(m store.Message) bool { return m.Subject == subject }) {
			t.Errorf("%s: %q is not in eve's INBOX", kind, subject)
		}
	}
}

// TestProfileIsTheUsersOwn: the profile is for the signed-in user's
// address whatever the request names, and needs a session.
func TestProfileIsTheUsersOwn(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{bob: bobPw, eve: "eve-password-1"}})
	anon := srv.HTTPClient()
	resp, _ := do(t, anon, "GET", srv.Web+"/settings/mail.mobileconfig", "", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("without a session: %s %s, want the sign-in page", resp.Status, resp.Header.Get("Location"))
	}
	hc := srv.HTTPClient()
	signIn(t, srv, hc, eve, "eve-password-1")
	_, own := do(t, hc, "GET", srv.Web+"/settings/mail.mobileconfig", "", nil)
	_, asked := do(t, hc, "GET", srv.Web+"/settings/mail.mobileconfig?address="+url.QueryEscape(bob)+"&addresses="+url.QueryEscape(bob), "", nil)
	if strings.Contains(string(own), bob) || strings.Contains(string(asked), bob) || !strings.Contains(string(asked), eve) {
		t.Errorf("eve's profile names bob or not eve:\n%s", asked)
	}
}

// TestUnknownAddressSameAnswer: for a protected domain, an address with
// no account, a disabled one and an enabled one get byte for byte the
// same autoconfig answer, and Autodiscover answers differ only in the
// address echoed; a domain not protected here is a plain 404 for both.
func TestUnknownAddressSameAnswer(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{bob: bobPw}})
	gone := srv.AddUser(t, "gone@example.test", "gone-password-1")
	if err := srv.Store.SetEnabled(t.Context(), gone.Address, false); err != nil {
		t.Fatal(err)
	}
	hc := srv.HTTPClient()
	autoconfig := func(addr string) (int, string) {
		resp, body := do(t, hc, "GET", srv.Web+"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+url.QueryEscape(addr), "", nil)
		return resp.StatusCode, string(body)
	}
	autodiscover := func(addr string) (int, string) {
		resp, body := do(t, hc, "POST", srv.Web+"/Autodiscover/Autodiscover.xml", "text/xml", strings.NewReader(outlookRequest(addr)))
		return resp.StatusCode, strings.ReplaceAll(string(body), addr, "ADDRESS")
	}
	for name, ask := range map[string]func(string) (int, string){"autoconfig": autoconfig, "autodiscover": autodiscover} {
		code, first := ask(bob)
		if code != http.StatusOK {
			t.Fatalf("%s for bob: %d\n%s", name, code, first)
		}
		for _, addr := range []string{"nobody@example.test", "gone@example.test", "Bob@Example.TEST"} {
			code, body := ask(addr)
			if name == "autodiscover" {
				body = strings.ReplaceAll(body, strings.ToLower(addr), "ADDRESS")
				first = strings.ReplaceAll(first, bob, "ADDRESS")
			}
			if code != http.StatusOK || body != first {
				t.Errorf("%s for %s: %d, differs from bob's:\n%s\n---\n%s", name, addr, code, body, first)
			}
		}
		for _, addr := range []string{"bob@elsewhere.test", "bob@sub.example.test"} {
			if code, body := ask(addr); code != http.StatusNotFound {
				t.Errorf("%s for %s (not protected here): %d, want 404\n%s", name, addr, code, body)
			}
		}
	}
}

func port(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func signIn(t *testing.T, srv *testserver.Server, hc *http.Client, addr, pw string) {
	t.Helper()
	resp, body := do(t, hc, "POST", srv.Web+"/login", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"address": {addr}, "password": {pw}}.Encode()))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %s\n%s", addr, resp.Status, body)
	}
}

func do(t *testing.T, hc *http.Client, method, u, ctype string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// outlookRequest is the body Outlook POSTs.
func outlookRequest(addr string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>` + addr + `</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
}
