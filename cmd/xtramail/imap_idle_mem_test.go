package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIMAPIdleMemory measures what 1,000 signed-in TLS connections in IDLE
// add to the server's RSS (issue 8: < 64 MiB). Opt-in, it takes a while:
// XTRAMAIL_IDLE_MEM=1 go test -run IdleMemory -v ./cmd/xtramail
func TestIMAPIdleMemory(t *testing.T) {
	if os.Getenv("XTRAMAIL_IDLE_MEM") == "" {
		t.Skip("set XTRAMAIL_IDLE_MEM=1 to measure")
	}
	const n = 1000
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "s3cret-pass\n", "user", "add", "bob@example.test", "--password-stdin")
	cfg := filepath.Join(t.TempDir(), "x.toml")
	os.WriteFile(cfg, []byte("[imap]\nmax_conns = 5000\nmax_conns_per_ip = 5000\n"), 0o600)
	srv := startServer(t, data, "--config", cfg)
	defer srv.stop(t)
	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", srv.imap, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		r.ReadString('\n')
		return c, r
	}
	expect := func(r *bufio.Reader, prefix string) {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(l, prefix) {
				return
			}
			if f := strings.Fields(l); len(f) > 1 && (f[1] == "NO" || f[1] == "BAD") {
				t.Fatalf("want %q, got %q", prefix, l)
			}
		}
	}
	// Warm up: one session, so that caches and pools exist.
	c, r := dial()
	fmt.Fprintf(c, "a LOGIN bob@example.test s3cret-pass\r\nb SELECT INBOX\r\n")
	expect(r, "b OK")
	c.Close()
	time.Sleep(200 * time.Millisecond)
	before := rssKiB(t, srv.cmd.Process.Pid)
	conns := make([]*tls.Conn, 0, n)
	for range n {
		c, r := dial()
		fmt.Fprintf(c, "a LOGIN bob@example.test s3cret-pass\r\nb SELECT INBOX\r\nc IDLE\r\n")
		expect(r, "+ ")
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	after := rssKiB(t, srv.cmd.Process.Pid)
	added := float64(after-before) / 1024
	t.Logf("%d connections in IDLE: RSS %d KiB -> %d KiB, +%.1f MiB (%.1f KiB each)", n, before, after, added, float64(after-before)/n)
	if added > 64 {
		t.Errorf("1,000 IDLE connections add %.1f MiB; target < 64 MiB", added)
	}
	for _, c := range conns {
		c.Close()
	}
}
