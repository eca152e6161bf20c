package webmail

import (
	"html"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestReplyQuotesEveryTextPart: the Reply, Reply all and Forward pages,
// which read the original's text parts by range, quote every inline text
// part in order (a phone's text, photo, more text; a list's footer), not
// only the first.
func TestReplyQuotesEveryTextPart(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: From my phone\n"+
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nLook at this:\n"+
		"--b\nContent-Type: image/jpeg\nContent-Disposition: inline; filename=p.jpg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n"+
		"--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nSch=C3=B6n, oder?\n"+
		"--b\nContent-Type: text/html\n\n<p>Sent from my <b>phone</b></p>\n--b--\n", time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	for _, kind := range []string{"reply", "replyall", "forward"} {
		_, page := bob.get("/compose?" + kind + "=" + id)
		page = html.UnescapeString(page)
		at := 0
		for _, w := range []string{"Look at this:", "Schön, oder?", "Sent from my phone"} {
			i := strings.Index(page[at:], w)
			if i < 0 {
				t.Fatalf("%s page lacks %q after byte %d", kind, w, at)
			}
			at += i + len(w)
		}
	}
}
