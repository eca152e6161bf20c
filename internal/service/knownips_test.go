package service

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
)

// imapLogin signs in over IMAP/TLS from the loopback address from (Linux
// routes all of 127.0.0.0/8 to the loopback interface, so each test
// client can have an IP of its own) and returns the tagged answer.
func imapLogin(t *testing.T, addr net.Addr, from, user, password string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 30 * time.Second}
	raw, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting from %s: %q %v", from, l, err)
	}
	fmt.Fprintf(c, "a LOGIN %s \"%s\"\r\n", user, password)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("LOGIN from %s: %v", from, err)
		}
		if rest, ok := strings.CutPrefix(l, "a "); ok {
			fmt.Fprintf(c, "b LOGOUT\r\n")
			return strings.TrimSpace(rest)
		}
	}
}

// TestKnownIPPassesLockoutAfterRestart guards issue 11 part 4 across a
// restart: the owner signs in from 127.0.0.1; after the service restarts
// on the same data directory, an attacker's guesses from another IP lock
// the address (a third IP with the right password is refused), yet the
// owner's IP still signs in, since the IPs a verified password came from
// are kept in the store.
func TestKnownIPPassesLockoutAfterRestart(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Hostname = "localhost"
	cfg.Capture.Listen = ""
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.Metrics.Listen = ""
	cfg.Web.Listen = ""
	cfg.Submission.Listen = ""
	cfg.Submission.ListenTLS = ""
	const user, password = "owner@example.test", "the owner's password"
	start := func() *Service {
		t.Helper()
		s, err := New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	stop := func(s *Service) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}

	s := start()
	ctx := context.Background()
	if _, err := s.Store.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashParams(password, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.CreateAccount(ctx, user, hash); err != nil {
		t.Fatal(err)
	}
	if got := imapLogin(t, s.IMAPAddr, "127.0.0.1", user, password); !strings.HasPrefix(got, "OK") {
		t.Fatalf("owner's first sign-in: %s", got)
	}
	stop(s)

	s = start()
	defer stop(s)
	// The attacker guesses until the address is locked (the throttles
	// are in memory and started empty).
	locked := false
	for i := range 30 {
		got := imapLogin(t, s.IMAPAddr, "127.0.0.2", user, fmt.Sprint("guess", i))
		if strings.HasPrefix(got, "NO [UNAVAILABLE]") {
			locked = true
			break
		}
		if !strings.HasPrefix(got, "NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("guess %d: %s", i, got)
		}
	}
	if !locked {
		t.Fatal("30 guesses never locked the address")
	}
	// The lock-out holds for the right password from an IP never used.
	if got := imapLogin(t, s.IMAPAddr, "127.0.0.3", user, password); !strings.HasPrefix(got, "NO [UNAVAILABLE]") {
		t.Fatalf("right password from a new IP during the lock-out: %s, want NO [UNAVAILABLE]", got)
	}
	// The owner's IP, known from before the restart, passes it.
	if got := imapLogin(t, s.IMAPAddr, "127.0.0.1", user, password); !strings.HasPrefix(got, "OK") {
		t.Fatalf("owner after the restart, address locked: %s", got)
	}
	// And only with the right password.
	if got := imapLogin(t, s.IMAPAddr, "127.0.0.1", user, "guess from the owner's IP"); !strings.HasPrefix(got, "NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("wrong password from the owner's IP: %s", got)
	}
}
