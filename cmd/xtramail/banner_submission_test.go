package main

import (
	"net"
	"strings"
	"testing"
)

// TestDevBannerShowsSubmission (issue 13 part 9): with the submission
// listeners on, the dev banner says how to send: server, port, STARTTLS
// on the one and SSL/TLS on the other, a swaks line that works, and where
// sent mail goes: with no [queue] section, straight to each recipient
// domain's MX (it was nowhere, without a word).
func TestDevBannerShowsSubmission(t *testing.T) {
	data := t.TempDir()
	sub, subs := freePort(t), freePort(t)
	d := runServe(t, "--dev", "--data", data, "--capture-listen", freePort(t),
		"--imap-listen", freePort(t), "--metrics-listen", "off", "--web-listen", "off",
		"--submission-listen", sub, "--submissions-listen", subs)
	banner := d.waitBanner(t)
	_, p587, _ := net.SplitHostPort(sub)
	_, p465, _ := net.SplitHostPort(subs)
	for _, want := range []string{
		"Send (submission):  server localhost, port " + p587 + ", STARTTLS, normal password",
		"swaks --server localhost:" + p587 + " --tls --auth-user",
		"Send (465, TLS):    server localhost, port " + p465 + ", SSL/TLS, normal password",
		"Sent mail goes:     straight to each recipient domain's MX",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}
