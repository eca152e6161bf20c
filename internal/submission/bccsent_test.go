package submission_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// headerOf returns the header section of a message.
func headerOf(b []byte) string {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return string(b[:i+2])
	}
	return string(b)
}

// TestSentCopyNamesBccRecipients: mail clients strip Bcc from what they
// submit and APPEND their own Sent copy with it, which the duplicate rule
// drops for ours; so our Sent copy gets a Bcc field naming the envelope
// recipients that To and Cc do not (seen over IMAP), while the relay and
// a protected colleague get the message without it, and the client's
// APPEND is still one copy with ours. A message with Resent- fields (a
// redirect) is kept as it is.
func TestSentCopyNamesBccRecipients(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	sk := startSink(t, "8BITMIME")
	srv := start(t, func(c *config.Config) { sk.relayTo(c) })
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	_, port587, _ := net.SplitHostPort(srv.Submission)
	_, portIMAP, _ := net.SplitHostPort(srv.IMAP)

	// Hidden recipients, enough of them at times that the field folds;
	// one written in capitals, as a user may type it.
	hidden := []string{"Hidden.One@Far.test"}
	for i := range 1 + rng.IntN(30) {
		hidden = append(hidden, fmt.Sprintf("hidden%d-%d@far.test", i, rng.IntN(1000)))
	}
	script := `
import imaplib, smtplib, ssl, sys, time
p587, pimap, cafile, user, pw, to, cc = sys.argv[1:8]
hidden = sys.argv[8:]
ctx = ssl.create_default_context(cafile=cafile)
head = ("From: Alice <%s>\r\nTo: %s\r\nCc: Bob <%s>\r\nSubject: bcc kept in Sent\r\n"
        "Message-ID: <bcc-sent@example.test>\r\nDate: Sat, 05 Dec 2026 09:00:00 +0000\r\n") % (user, to, cc)
body = "\r\nWho got this?\r\n"
s = smtplib.SMTP("localhost", int(p587), timeout=60)
s.starttls(context=ctx)
s.login(user, pw)
s.sendmail(user, [to, cc] + hidden, (head + body).encode())
s.quit()
m = imaplib.IMAP4_SSL("localhost", int(pimap), ssl_context=ctx)
m.login(user, pw)
own = (head + "Bcc: " + ", ".join(hidden) + "\r\n" + body).encode()
typ, data = m.append("Sent", r"(\Seen)", imaplib.Time2Internaldate(time.time()), own)
assert typ == "OK", data
m.select("Sent", readonly=True)
typ, data = m.uid("SEARCH", "HEADER", "Message-ID", "bcc-sent@example.test")
uids = data[0].split()
print("COPIES", len(uids))
typ, data = m.uid("FETCH", uids[0], "(BODY.PEEK[HEADER.FIELDS (BCC)])")
sys.stdout.write("FIELD " + data[0][1].decode().replace("\r\n", "|") + "\n")
m.logout()
`
	args := append([]string{"-c", script, port587, portIMAP, cafile, alice, alicePw, "dave@far.test", bob}, hidden...)
	out, err := exec.Command("python3", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if !strings.Contains(string(out), "COPIES 1\n") {
		t.Errorf("Sent holds other than one copy after the client's APPEND: %s", out)
	}
	var field string
	for _, l := range strings.Split(string(out), "\n") {
		if f, ok := strings.CutPrefix(l, "FIELD "); ok {
			field = f
		}
	}
	unfolded := strings.ReplaceAll(field, "| ", " ")
	for _, h := range hidden {
		if !strings.Contains(unfolded, strings.ToLower(h)) {
			t.Errorf("the Sent copy's Bcc field %q lacks %s", field, h)
		}
	}
	for _, shown := range []string{"dave@far.test", bob} {
		if strings.Contains(unfolded, shown) {
			t.Errorf("the Sent copy's Bcc field %q names %s, who is in To or Cc", field, shown)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(field, "||"), "|") {
		if len(l) > 78 {
			t.Errorf("Bcc line of %d characters, not folded: %q", len(l), l)
		}
	}

	waitFor(t, "the relay to take the message", func() bool { return sk.count(strings.ToLower(hidden[0])) >= 1 })
	for _, tx := range sk.transactions() {
		if hdr := strings.ToLower(headerOf(tx.data)); strings.Contains(hdr, "\nbcc:") || strings.Contains(hdr, "hidden") {
			t.Errorf("the relay got the Bcc recipients in the header:\n%s", headerOf(tx.data))
		}
	}
	if b, ok := srv.Bodies(t, bob, store.Inbox)["bcc-sent@example.test"]; !ok || strings.Contains(strings.ToLower(headerOf(b)), "bcc:") {
		t.Errorf("the colleague's INBOX copy (found %v) shows the Bcc:\n%s", ok, headerOf(b))
	}

	// A redirect (Resent- fields) whose original To is not in the
	// envelope: not a Bcc.
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	resent := "Resent-From: " + alice + "\r\nResent-To: dave@far.test\r\nResent-Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
	if got := send(c, alice, []string{"dave@far.test"}, msg(alice, "someone@else.test", "resent@x", resent)); got != "ok" {
		t.Fatalf("send the redirect: %s", got)
	}
	if b := srv.Bodies(t, alice, store.Sent)["resent@x"]; strings.Contains(strings.ToLower(headerOf(b)), "bcc:") {
		t.Errorf("a redirect's Sent copy got a Bcc field:\n%s", headerOf(b))
	}

	// Submit's in-memory path (a message given as Body) does the same.
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	sub := submission.NewSubmitter(srv.Store, submission.Limits{}, nil, nil)
	body := []byte(msg(alice, "dave@far.test", "inmem@x", ""))
	if _, err := sub.Submit(ctx, submission.Message{Account: acct, MailFrom: alice, Rcpts: []string{"dave@far.test", "secret@far.test"}, Body: body}); err != nil {
		t.Fatal(err)
	}
	if b := srv.Bodies(t, alice, store.Sent)["inmem@x"]; !strings.Contains(headerOf(b), "Bcc: secret@far.test\r\n") {
		t.Errorf("in-memory Sent copy without the Bcc field:\n%s", headerOf(b))
	}
}
