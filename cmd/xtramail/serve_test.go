package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/auth"
)

// readLine reads lines until one starts with prefix.
func readLine(t *testing.T, br *bufio.Reader, prefix string) string {
	t.Helper()
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for %q: %v (last %q)", prefix, err, l)
		}
		if strings.HasPrefix(l, prefix) {
			return strings.TrimRight(l, "\r\n")
		}
	}
}

// TestSIGTERMDrains guards issue 12 part 4 with the built binary: SIGTERM
// starts the drain (an idle SMTP session gets 421 4.3.2, an IMAP session in
// IDLE gets BYE) and the process exits 0 without waiting for its 30 s drain
// limit, so a supervisor reads a clean stop. What the drain does with each
// kind of session, a transaction in flight among them, is tested in-process
// by testserver's TestShutdownDrainsEverySession.
func TestSIGTERMDrains(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "s3cret-pass\n", "user", "add", "bob@example.test", "--password-stdin")
	srv := startServer(t, data)

	smtpConn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer smtpConn.Close()
	smtpConn.SetDeadline(time.Now().Add(60 * time.Second))
	smtpBR := bufio.NewReader(smtpConn)
	readLine(t, smtpBR, "220 ")
	io.WriteString(smtpConn, "EHLO upstream.test\r\n")
	readLine(t, smtpBR, "250 ")

	imapConn, err := tls.Dial("tcp", srv.imap, &tls.Config{InsecureSkipVerify: true}) // the data directory's self-signed certificate
	if err != nil {
		t.Fatal(err)
	}
	defer imapConn.Close()
	imapConn.SetDeadline(time.Now().Add(60 * time.Second))
	imapBR := bufio.NewReader(imapConn)
	readLine(t, imapBR, "* OK")
	io.WriteString(imapConn, "a LOGIN bob@example.test s3cret-pass\r\nb SELECT INBOX\r\nc IDLE\r\n")
	readLine(t, imapBR, "+ ")

	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, smtpBR, "4"); !strings.HasPrefix(got, "421 4.3.2 ") {
		t.Errorf("idle SMTP session after SIGTERM: %q, want 421 4.3.2", got)
	}
	readLine(t, imapBR, "* BYE")
	select {
	case <-srv.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit after the drain: %s", srv.stderr)
	}
	if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after a completed drain: %s", code, srv.stderr)
	}
	t.Logf("SIGTERM to exit: %v", time.Since(start).Round(time.Millisecond))
}

// devServer is `xtramail serve --dev` on free ports.
type devServer struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	exited         chan struct{}
}

type lockedBuffer struct{ lockedWriter }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.(*bytes.Buffer).String()
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{lockedWriter{w: new(bytes.Buffer)}} }

// startDev starts serve --dev on data with the given ports (metrics off;
// web off unless its address is given).
func startDev(t *testing.T, data, capture, imapAddr string, webAddr ...string) *devServer {
	t.Helper()
	web := "off"
	if len(webAddr) > 0 {
		web = webAddr[0]
	}
	return runServe(t, "--dev", "--data", data, "--capture-listen", capture,
		"--imap-listen", imapAddr, "--metrics-listen", "off", "--web-listen", web,
		"--submission-listen", "off", "--submissions-listen", "off")
}

// runServe starts `xtramail serve` with args, killed when the test ends.
func runServe(t *testing.T, args ...string) *devServer {
	t.Helper()
	d := &devServer{stdout: newLockedBuffer(), stderr: newLockedBuffer(), exited: make(chan struct{})}
	d.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.cmd.Process.Kill(); <-d.exited })
	return d
}

func (d *devServer) waitBanner(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.stdout.String(), "Stop with Ctrl-C") {
		select {
		case <-d.exited:
			t.Fatalf("serve --dev exited: %s %s", d.stdout, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %s %s", d.stdout, d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d.stdout.String()
}

func (d *devServer) stop(t *testing.T) {
	t.Helper()
	terminate(t, d.cmd.Process, d.exited, d.stderr)
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve --dev exit %d: %s", code, d.stderr)
	}
}

// terminate sends SIGTERM and waits for the process to exit. One still
// running a minute past its drain limit (30 s) is sent SIGQUIT, and the
// test fails showing the goroutines the Go runtime printed to its stderr.
func terminate(t *testing.T, p *os.Process, exited <-chan struct{}, stderr fmt.Stringer) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(90 * time.Second):
	}
	p.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
	}
	t.Fatalf("server still running 90 s after SIGTERM; its stderr:\n%s", stderr)
}

// bannerPassword returns the Password line of the dev banner.
func bannerPassword(banner string) string {
	for _, l := range strings.Split(banner, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Password:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// bannerAdminPassword returns the console administrator's password from
// the dev banner.
func bannerAdminPassword(banner string) string {
	_, after, ok := strings.Cut(banner, "administrator admin@example.test, password ")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(v)
}

// TestDevBanner guards issue 12 part 6: the banner's password works, it
// names the server localhost, and after user passwd it says the password
// was changed instead of reprinting the stale one.
func TestDevBanner(t *testing.T) {
	data := t.TempDir()
	capture, imapAddr, webAddr := freePort(t), freePort(t), freePort(t)
	dev := startDev(t, data, capture, imapAddr, webAddr)
	banner := dev.waitBanner(t)
	pw := bannerPassword(banner)
	if len(pw) < 8 || strings.Contains(pw, " ") {
		t.Fatalf("banner password %q:\n%s", pw, banner)
	}
	_, port, _ := net.SplitHostPort(imapAddr)
	_, cport, _ := net.SplitHostPort(capture)
	_, wport, _ := net.SplitHostPort(webAddr)
	for _, want := range []string{"server localhost, port " + port, "swaks --server localhost:" + cport, "-connect localhost:" + port,
		"Webmail:            https://localhost:" + wport + "/"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, "127.0.0.1") {
		t.Errorf("banner names 127.0.0.1:\n%s", banner)
	}
	// The console's provider administrator: printed, and its password
	// is the stored one.
	adminPw := bannerAdminPassword(banner)
	if len(adminPw) != 16 || !strings.Contains(banner, "Console:            https://localhost:"+wport+"/console/") {
		t.Fatalf("banner administrator password %q:\n%s", adminPw, banner)
	}
	func() {
		st := openStore(t, data)
		defer st.Close()
		a, err := st.AdminByEmail(context.Background(), "admin@example.test")
		if err != nil || a.Role != "provider" {
			t.Fatalf("dev administrator %+v %v", a, err)
		}
		if ok, _ := auth.Verify(a.PasswordHash, adminPw); !ok {
			t.Error("banner administrator password does not match the stored one")
		}
	}()
	// The printed password signs in.
	c, err := imapclient.DialTLS(imapAddr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("demo@example.test", pw).Wait(); err != nil {
		t.Errorf("banner password refused: %v", err)
	}
	c.Close()
	// And in the webmail.
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.PostForm("https://"+webAddr+"/login", url.Values{"address": {"demo@example.test"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Errorf("webmail sign-in with the banner password: %s", resp.Status)
	}
	dev.stop(t)

	// Same passwords on restart.
	dev = startDev(t, data, capture, imapAddr)
	banner = dev.waitBanner(t)
	if got := bannerPassword(banner); got != pw {
		t.Errorf("restart banner password %q, want %q", got, pw)
	}
	if got := bannerAdminPassword(banner); got != adminPw {
		t.Errorf("restart banner administrator password %q, want %q", got, adminPw)
	}
	dev.stop(t)

	cliProc(t, data, "a new password\n", "user", "passwd", "demo@example.test", "--password-stdin")
	dev = startDev(t, data, capture, imapAddr)
	banner = dev.waitBanner(t)
	if got := bannerPassword(banner); strings.Contains(got, pw) || !strings.Contains(got, "changed") {
		t.Errorf("after user passwd the banner says %q, want that it was changed (not %q)", got, pw)
	}
	dev.stop(t)

	cliProc(t, data, "", "user", "disable", "demo@example.test")
	dev = startDev(t, data, capture, imapAddr)
	if got := bannerPassword(dev.waitBanner(t)); !strings.Contains(got, "disabled") {
		t.Errorf("banner for a disabled demo address: %q", got)
	}
	dev.stop(t)
}

// TestTwoDevServers guards issue 12 part 6: a second serve --dev on the
// same ports says which port is taken, before anything else: no banner, no
// log lines before the error, and its data directory is left alone.
func TestTwoDevServers(t *testing.T) {
	capture, imapAddr := freePort(t), freePort(t)
	first := startDev(t, t.TempDir(), capture, imapAddr)
	first.waitBanner(t)

	data2 := filepath.Join(t.TempDir(), "second")
	if err := os.Mkdir(data2, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--dev", "--data", data2, "--capture-listen", capture,
		"--imap-listen", imapAddr, "--metrics-listen", "off", "--web-listen", "off",
		"--submission-listen", "off", "--submissions-listen", "off")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("second serve --dev: %v, stdout %q, stderr %q; want exit 1", err, out.String(), errb.String())
	}
	want := "xtramail: capture listener: " + capture + " is already in use (is another xtramail running?)\n"
	if errb.String() != want || out.Len() != 0 {
		t.Errorf("second serve --dev said stdout %q, stderr %q; want only %q", out.String(), errb.String(), want)
	}
	if ents, _ := os.ReadDir(data2); len(ents) != 0 {
		t.Errorf("second serve --dev wrote into its data directory: %v", ents)
	}
	first.stop(t)
}

// TestServeRefusesOpenCapture guards issue 12 part 3 with the built
// binary: outside dev mode, serve with an empty capture.allow exits 1
// naming the key, before listening; an explicit "anyone" list starts.
func TestServeRefusesOpenCapture(t *testing.T) {
	data := t.TempDir()
	runCases(t, data, []cliCase{
		{args: []string{"serve", "--data", "$DATA", "--capture-listen", "127.0.0.1:0", "--imap-listen", "off", "--metrics-listen", "off", "--web-listen", "off"},
			code: 1, stderr: []string{"capture.allow is empty", `allow = ["0.0.0.0/0", "::/0"]`}},
	})
	cfgFile := filepath.Join(t.TempDir(), "open.toml")
	if err := os.WriteFile(cfgFile, []byte("[capture]\nallow = [\"0.0.0.0/0\", \"::/0\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(binary, "serve", "--config", cfgFile, "--data", data, "--capture-listen", addr,
		"--imap-listen", "off", "--metrics-listen", "off", "--web-listen", "off")
	var errb lockedBuffer
	errb.w = new(bytes.Buffer)
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			br := bufio.NewReader(c)
			readLine(t, br, "220 ")
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("serve with an explicit open allow-list exited: %s", errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not listening: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDevUnderConfigFile: with --dev and a configuration file, what the
// file sets wins over the development defaults (it was the other way:
// --dev put its loopback ports over the file's listeners and host name),
// and a flag wins over both.
func TestDevUnderConfigFile(t *testing.T) {
	data := t.TempDir()
	imapAddr, capture := freePort(t), freePort(t)
	cfgFile := filepath.Join(t.TempDir(), "dev.toml")
	conf := fmt.Sprintf("hostname = \"mail.example.test\"\n[imap]\nlisten = %q\n[capture]\nlisten = \"127.0.0.1:1\"\n", imapAddr)
	if err := os.WriteFile(cfgFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := runServe(t, "--dev", "--config", cfgFile, "--data", data, "--capture-listen", capture,
		"--metrics-listen", "off", "--web-listen", "off", "--submission-listen", "off", "--submissions-listen", "off")
	banner := d.waitBanner(t)
	if !strings.Contains(banner, imapAddr[strings.LastIndex(imapAddr, ":")+1:]) {
		t.Errorf("banner does not name the file's IMAP port %s:\n%s", imapAddr, banner)
	}
	c, err := tls.Dial("tcp", imapAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("IMAP on the file's address %s: %v", imapAddr, err)
	}
	greeting, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		t.Fatalf("IMAP greeting on %s: %q, %v", imapAddr, greeting, err)
	}
	if cs := c.ConnectionState(); len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].VerifyHostname("mail.example.test") != nil {
		t.Errorf("the self-signed certificate is not for the file's host name mail.example.test")
	}
	sc, err := net.Dial("tcp", capture)
	if err != nil {
		t.Fatalf("capture on the flag's address %s: %v", capture, err)
	}
	readLine(t, bufio.NewReader(sc), "220 ")
	sc.Close()
	d.stop(t)
}
