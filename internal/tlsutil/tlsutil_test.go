package tlsutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func leafOf(t *testing.T, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	if len(cfg.Certificates) != 1 {
		t.Fatalf("config has %d certificates, want 1", len(cfg.Certificates))
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestSelfSignedGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls") // does not exist yet
	cfg, err := SelfSigned(dir, []string{"mail.example.com", "192.0.2.10", " "})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	leaf := leafOf(t, cfg)
	for _, h := range []string{"mail.example.com", "192.0.2.10", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover %s: %v", h, err)
		}
	}
	if err := leaf.VerifyHostname("other.example.com"); err == nil {
		t.Error("certificate covers other.example.com")
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if d := time.Until(leaf.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("NotAfter in %v, want about a year", d)
	}

	for _, f := range []struct {
		name string
		perm os.FileMode
	}{{SelfSignedKeyFile, 0o600}, {SelfSignedCertFile, 0o640}} {
		fi, err := os.Stat(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != f.perm {
			t.Errorf("%s mode %v, want %v", f.name, got, f.perm)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir has %d entries, want 2 (no temp files left)", len(entries))
	}
}

func TestSelfSignedReuses(t *testing.T) {
	dir := t.TempDir()
	first, err := SelfSigned(dir, []string{"mail.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))

	// Same hosts, a subset, or different case: keep the certificate.
	for _, hosts := range [][]string{{"mail.example.com"}, nil, {"MAIL.example.com", "localhost"}} {
		again, err := SelfSigned(dir, hosts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leafOf(t, again).Raw, leafOf(t, first).Raw) {
			t.Errorf("hosts %q: certificate regenerated, want reused", hosts)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))
	if !bytes.Equal(before, after) {
		t.Error("certificate file rewritten")
	}
}

// writePair writes a generated pair into dir as SelfSigned would.
func writePair(t *testing.T, dir string, hosts []string, now time.Time, validFor time.Duration) {
	t.Helper()
	certPEM, keyPEM, err := generate(hosts, now, validFor)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SelfSignedCertFile), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SelfSignedKeyFile), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSelfSignedRegenerates(t *testing.T) {
	all := []string{"mail.example.com", "localhost", "127.0.0.1", "::1"}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"expired", func(t *testing.T, dir string) {
			writePair(t, dir, all, time.Now().Add(-2*365*24*time.Hour), 365*24*time.Hour)
		}},
		{"expires in 3 days", func(t *testing.T, dir string) {
			writePair(t, dir, all, time.Now().Add(-362*24*time.Hour), 365*24*time.Hour)
		}},
		{"not yet valid", func(t *testing.T, dir string) {
			writePair(t, dir, all, time.Now().Add(48*time.Hour), 365*24*time.Hour)
		}},
		{"missing a host", func(t *testing.T, dir string) {
			writePair(t, dir, []string{"localhost", "127.0.0.1", "::1"}, time.Now(), 365*24*time.Hour)
		}},
		{"key from another pair", func(t *testing.T, dir string) {
			writePair(t, dir, all, time.Now(), 365*24*time.Hour)
			_, otherKey, _ := generate(all, time.Now(), time.Hour)
			os.WriteFile(filepath.Join(dir, SelfSignedKeyFile), otherKey, 0o600)
		}},
		{"garbage", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, SelfSignedCertFile), []byte("not a cert"), 0o644)
			os.WriteFile(filepath.Join(dir, SelfSignedKeyFile), []byte("not a key"), 0o600)
		}},
		{"key missing", func(t *testing.T, dir string) {
			writePair(t, dir, all, time.Now(), 365*24*time.Hour)
			os.Remove(filepath.Join(dir, SelfSignedKeyFile))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			old, _ := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))
			cfg, err := SelfSigned(dir, []string{"mail.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			leaf := leafOf(t, cfg)
			if now := time.Now(); now.Before(leaf.NotBefore) || now.Add(300*24*time.Hour).After(leaf.NotAfter) {
				t.Errorf("new certificate valid %v to %v", leaf.NotBefore, leaf.NotAfter)
			}
			if err := leaf.VerifyHostname("mail.example.com"); err != nil {
				t.Error(err)
			}
			onDisk, _ := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))
			if bytes.Equal(old, onDisk) {
				t.Error("certificate file not replaced")
			}
			// The files now hold the pair that was returned.
			if _, err := tls.LoadX509KeyPair(filepath.Join(dir, SelfSignedCertFile), filepath.Join(dir, SelfSignedKeyFile)); err != nil {
				t.Errorf("written pair does not load: %v", err)
			}
		})
	}
}

func TestSelfSignedErrors(t *testing.T) {
	if _, err := SelfSigned("", nil); err == nil {
		t.Error("SelfSigned with empty dir succeeded")
	}
	// A file where the directory should be.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := SelfSigned(file, nil); err == nil {
		t.Error("SelfSigned with a file as dir succeeded")
	}
}

// handshake runs a TLS server with serverCfg on 127.0.0.1:0 that echoes
// one line, and connects with a client trusting roots and naming
// serverName.
func handshake(t *testing.T, serverCfg *tls.Config, roots *x509.CertPool, serverName string) (*x509.Certificate, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		io.CopyN(c, c, 5)
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := conn.Write([]byte("hello")); err != nil {
		return nil, err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestSelfSignedHandshake(t *testing.T) {
	dir := t.TempDir()
	cfg, err := SelfSigned(dir, []string{"mail.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("certificate file holds no PEM certificate")
	}
	for _, name := range []string{"127.0.0.1", "localhost", "mail.example.com"} {
		if _, err := handshake(t, cfg, roots, name); err != nil {
			t.Errorf("handshake as %s: %v", name, err)
		}
	}
	if _, err := handshake(t, cfg, roots, "other.example.com"); err == nil {
		t.Error("handshake for a name not in the certificate succeeded")
	}
	if _, err := handshake(t, cfg, x509.NewCertPool(), "localhost"); err == nil {
		t.Error("handshake with an untrusted certificate succeeded")
	}
}

func TestNewTestPair(t *testing.T) {
	server, roots, err := NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := handshake(t, server, roots, name); err != nil {
			t.Errorf("handshake as %s: %v", name, err)
		}
	}
	// Each call makes a new certificate: tests do not share trust.
	_, otherRoots, _ := NewTestPair()
	if _, err := handshake(t, server, otherRoots, "localhost"); err == nil {
		t.Error("second pair's roots trust the first pair's certificate")
	}
}

func TestMinVersion(t *testing.T) {
	server, roots, err := NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(got) != "new" || fi.Mode().Perm() != 0o600 {
		t.Errorf("file %q mode %v, want \"new\" 0600", got, fi.Mode().Perm())
	}
}
