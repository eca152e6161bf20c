package compose

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/message"
)

// TestForwardKeepsInvitation: forwarding a meeting invitation sends its
// calendar part on as invite.ics (an Outlook invitation's text/calendar
// is an alternative to its HTML, and was left behind); one that attaches
// the invitation as a file of its own sends that file alone.
func TestForwardKeepsInvitation(t *testing.T) {
	for name, c := range map[string]struct {
		raw   string
		files []string
	}{
		"Outlook": {"Subject: Planning\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nmeet\r\n" +
			"--b\r\nContent-Type: text/html\r\n\r\n<p>meet</p>\r\n--b\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--b--\r\n",
			[]string{"invite.ics text/calendar; charset=utf-8"}},
		"Gmail": {"Subject: Planning\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nmeet\r\n--b\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n" +
			"--m\r\nContent-Type: application/ics; name=invite.ics\r\nContent-Disposition: attachment; filename=invite.ics\r\n\r\nBEGIN:VCALENDAR\r\n--m--\r\n",
			[]string{"invite.ics application/ics"}},
	} {
		raw := []byte(c.raw)
		info := message.Parse(raw)
		var files, sent []string
		for _, f := range Files(info, bytes.NewReader(raw)) {
			files = append(files, f.Name+" "+f.ContentType)
		}
		for _, a := range Attachments(Original{Raw: raw, Info: info}) {
			sent = append(sent, a.Filename+" "+strings.Split(a.ContentType, ";")[0])
			if !strings.HasPrefix(string(a.Data), "BEGIN:VCALENDAR") {
				t.Errorf("%s: %s holds %q", name, a.Filename, a.Data)
			}
		}
		if !slices.Equal(files, c.files) || len(sent) != len(c.files) || !strings.HasPrefix(c.files[0], sent[0]) {
			t.Errorf("%s: files %q, attachments %q, want %q", name, files, sent, c.files)
		}
	}
}
