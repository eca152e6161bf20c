package main

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestDevBannerShowsSubmission (issue 13 part 9): with the submission
// listeners on, the dev banner says how to send: server, port, STARTTLS
// on the one and SSL/TLS on the other, and a swaks line that works.
func TestDevBannerShowsSubmission(t *testing.T) {
	data := t.TempDir()
	sub, subs := freePort(t), freePort(t)
	d := &devServer{stdout: newLockedBuffer(), stderr: newLockedBuffer(), exited: make(chan struct{})}
	d.cmd = exec.Command(binary, "serve", "--dev", "--data", data, "--capture-listen", freePort(t),
		"--imap-listen", freePort(t), "--metrics-listen", "off", "--web-listen", "off",
		"--submission-listen", sub, "--submissions-listen", subs)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.cmd.Process.Kill(); <-d.exited })
	banner := d.waitBanner(t)
	_, p587, _ := net.SplitHostPort(sub)
	_, p465, _ := net.SplitHostPort(subs)
	for _, want := range []string{
		"Send (submission):  server localhost, port " + p587 + ", STARTTLS, normal password",
		"swaks --server localhost:" + p587 + " --tls --auth-user",
		"Send (465, TLS):    server localhost, port " + p465 + ", SSL/TLS, normal password",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}
