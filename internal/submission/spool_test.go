package submission_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// TestMissingMessageIDAndDateAdded: a message sent without Message-ID and
// Date (Python smtplib's sendmail adds neither) gets both, once, in the
// Sent copy and in what is queued (RFC 6409 8.3, 8.1); a message that
// has them keeps its own.
func TestMissingMessageIDAndDateAdded(t *testing.T) {
	srv := start(t, nil)
	script := `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP("localhost", int(sys.argv[1].rsplit(":", 1)[1]), timeout=120)
s.starttls(context=ctx)
s.login("` + alice + `", "` + alicePw + `")
s.sendmail("` + alice + `", ["` + outsider + `"], b"From: ` + alice + `\r\nTo: ` + outsider + `\r\nSubject: bare\r\n\r\nno id, no date\r\n")
s.quit()
print("OK")
`
	out, err := exec.Command("python3", "-c", script, srv.Submission, filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	bodies := srv.Bodies(t, alice, store.Sent)
	if len(bodies) != 1 {
		t.Fatalf("Sent holds %d messages, want 1", len(bodies))
	}
	for mid, b := range bodies {
		if !regexp.MustCompile(`^[0-9a-f]{24}@example\.test$`).MatchString(mid) {
			t.Errorf("added Message-ID %q", mid)
		}
		hdr, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		if n := bytes.Count(hdr, []byte("\r\nDate: ")); n != 1 {
			t.Errorf("%d Date fields in\n%s", n, hdr)
		}
		if n := bytes.Count(hdr, []byte("Message-ID: ")); n != 1 {
			t.Errorf("%d Message-ID fields in\n%s", n, hdr)
		}
		if !bytes.HasSuffix(b, []byte("\r\n\r\nno id, no date\r\n")) {
			t.Errorf("body changed: %q", b)
		}
	}
	es := queued(t, srv, alice)
	if len(es) != 1 || !regexp.MustCompile(`^[0-9a-f]{24}@example\.test$`).MatchString(es[0].MessageID) {
		t.Errorf("queued %+v, want the added Message-ID", es)
	}

	// Its own Message-ID and Date are kept.
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	m := msg(alice, outsider, "own@x", "")
	if got := send(c, alice, []string{outsider}, m); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	if got := srv.Bodies(t, alice, store.Sent)["own@x"]; string(got) != m {
		t.Errorf("a complete message changed:\n%q\nwant\n%q", got, m)
	}
}

// TestLargeMessageSpooled: a message larger than what a spool keeps in
// memory (here 6 MiB, with bare LF lines that become CRLF) is stored byte
// for byte in Sent and queued, from the spool file.
func TestLargeMessageSpooled(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for i := range 60000 {
		body.WriteString(strings.Repeat(string(rune('a'+i%26)), 100))
		if i%2 == 0 {
			body.WriteString("\n") // bare LF
		} else {
			body.WriteString("\r\n")
		}
	}
	m := msg(alice, outsider, "big@x", "") + body.String()
	if got := send(c, alice, []string{outsider}, m); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(m, "\r\n", "\n"), "\n", "\r\n")
	got := srv.Bodies(t, alice, store.Sent)["big@x"]
	if string(got) != want {
		t.Fatalf("Sent copy: %d bytes, want %d, equal prefix %d", len(got), len(want), commonPrefix(got, []byte(want)))
	}
	if es := queued(t, srv, alice); len(es) != 1 || es[0].Size != int64(len(want)) {
		t.Errorf("queued %+v, want one of %d bytes", es, len(want))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
