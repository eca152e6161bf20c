package submission_test

import (
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestResentOriginators: every address of every originator field (From,
// Sender, Resent-From, Resent-Sender; RFC 5322 3.6.2, 3.6.6) must be
// one the user may use, in every Resent- block a message carries. A
// Resent-From or Resent-Sender naming a foreign address was queued and
// relayed as it was, since only the envelope's first From and Sender
// were checked; so was a foreign From address past the bound of what
// Parse keeps of a field's value. Each is refused 550 5.7.1 with a
// refusal record, as a foreign From is; the user's own are sent.
func TestResentOriginators(t *testing.T) {
	srv := start(t, nil)
	c := authedClient(t, srv)
	own := "From: Alice <" + alice + ">\r\n"
	// Alice's own address, ten to a folded line, up to the 64 KiB of a
	// value that the envelope keeps (message.maxFieldValue), and a
	// foreign one after them: Parse's From ended at alice's.
	line := strings.Repeat(alice+", ", 10) + "\r\n "
	n := 64 << 10 / len(line)
	many := "From:" + strings.Repeat(" ", 64<<10-n*len(line)) + strings.Repeat(line, n)
	for _, tc := range []struct{ name, fields, want string }{
		{"foreign Resent-From", own + "Resent-From: " + bob + "\r\nResent-Date: Sat, 05 Dec 2026 09:00:00 +0000\r\nResent-To: " + outsider + "\r\n", "550 5.7.1"},
		{"foreign Resent-Sender", own + "Resent-From: " + alice + "\r\nResent-Sender: boss@bank.test\r\n", "550 5.7.1"},
		{"foreign Resent-From and Sender", own + "Resent-From: ceo@bank.test\r\nResent-Sender: ceo@bank.test\r\n", "550 5.7.1"},
		{"foreign second Resent-From of two", own + "Resent-From: " + alice + "\r\nResent-From: Bob <" + bob + ">, " + alice + "\r\n", "550 5.7.1"},
		{"foreign in an older Resent block", own + "Resent-From: " + alice + "\r\nResent-Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n" +
			"Resent-From: " + outsider + "\r\nResent-Sender: " + outsider + "\r\nResent-Date: Sat, 05 Dec 2026 09:00:00 +0000\r\n", "550 5.7.1"},
		{"foreign in a Resent-From group", own + "Resent-From: team: " + alice + ", " + bob + ";\r\n", "550 5.7.1"},
		{"foreign From past the envelope's bound", many + bob + "\r\nSender: " + alice + "\r\n", "550 5.7.1"},
		{"own Resent-From", own + "Resent-From: " + alice + "\r\nResent-Date: Sat, 05 Dec 2026 09:00:00 +0000\r\nResent-To: " + outsider + "\r\n", "ok"},
		{"own Resent-From and Resent-Sender in two blocks", own + "Resent-From: Alice <" + alice + ">\r\nResent-Sender: " + alice + "\r\n" +
			"Resent-From: alice+old@example.test\r\n", "ok"},
	} {
		mid := strings.ReplaceAll(tc.name, " ", "-") + "@x"
		before := len(spoofRefusals(t, refusals(t, srv, alice)))
		body := tc.fields + "To: " + outsider + "\r\nSubject: " + tc.name + "\r\nMessage-ID: <" + mid + ">\r\n\r\nhi\r\n"
		if got := send(c, alice, []string{outsider}, body); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if _, stored := srv.Bodies(t, alice, store.Sent)[mid]; stored != (tc.want == "ok") {
			t.Errorf("%s: stored %v", tc.name, stored)
		}
		added := len(spoofRefusals(t, refusals(t, srv, alice))) - before
		if want := map[bool]int{true: 0, false: 1}[tc.want == "ok"]; added != want {
			t.Errorf("%s: %d new refusal records of a foreign sender, want %d", tc.name, added, want)
		}
	}
	if n := len(queued(t, srv, alice)); n != 2 {
		t.Errorf("%d queue entries, want 2 (the own Resent-From's)", n)
	}
}

// spoofRefusals are the refusal record details that say the sender is
// not the user's, in the answer's words.
func spoofRefusals(t *testing.T, details []string) []string {
	t.Helper()
	var out []string
	for _, d := range details {
		if strings.HasPrefix(d, "submission: 550 5.7.1 Sender address and From header must be your own address") {
			out = append(out, d)
		}
	}
	return out
}
