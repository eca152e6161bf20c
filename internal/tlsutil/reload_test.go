package tlsutil

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
)

// writeFiles writes a new pair for localhost to certFile and keyFile, the
// way an operator rotating certificates would (each file renamed into
// place), and returns the certificate's DER.
func writeFiles(t *testing.T, certFile, keyFile string) []byte {
	t.Helper()
	certPEM, keyPEM, err := generate([]string{"localhost"}, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair.Certificate[0]
}

func current(t *testing.T, r *reloader) []byte {
	t.Helper()
	c, err := r.getCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil || c == nil {
		t.Fatalf("getCertificate = %v, %v", c, err)
	}
	return c.Certificate[0]
}

func TestFromFilesRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeFiles(t, certFile, keyFile)
	clock := clocktest.New(time.Now())
	r, err := newReloader(certFile, keyFile, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(current(t, r), first) {
		t.Fatal("not serving the initial certificate")
	}

	second := writeFiles(t, certFile, keyFile)
	clock.Advance(30 * time.Second)
	if !bytes.Equal(current(t, r), first) {
		t.Error("reloaded before a minute had passed")
	}
	clock.Advance(30 * time.Second)
	if !bytes.Equal(current(t, r), second) {
		t.Fatal("rotated certificate not picked up after a minute")
	}

	// Half-done rotation: a certificate whose key is not there yet. Keep
	// serving the old pair, then pick up the new one once the key lands.
	certPEM, keyPEM, err := generate([]string{"localhost"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if !bytes.Equal(current(t, r), second) {
		t.Error("mismatched pair: not serving the previous certificate")
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	third, _ := tls.X509KeyPair(certPEM, keyPEM)
	if !bytes.Equal(current(t, r), third.Certificate[0]) {
		t.Error("completed rotation not picked up")
	}

	// Files removed: keep serving.
	os.Remove(certFile)
	clock.Advance(time.Minute)
	if !bytes.Equal(current(t, r), third.Certificate[0]) {
		t.Error("removed file: not serving the last good certificate")
	}
}

func TestFromFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := FromFiles(certFile, keyFile); err == nil {
		t.Error("FromFiles with missing files succeeded")
	}
	writeFiles(t, certFile, keyFile)
	cfg, err := FromFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil {
		t.Errorf("config MinVersion %x, GetCertificate set %v", cfg.MinVersion, cfg.GetCertificate != nil)
	}
	// A real handshake through GetCertificate.
	certPEM, _ := os.ReadFile(certFile)
	roots := newPool(t, certPEM)
	if _, err := handshake(t, cfg, roots, "localhost"); err != nil {
		t.Errorf("handshake: %v", err)
	}
	if _, err := FromFiles(keyFile, certFile); err == nil {
		t.Error("FromFiles with swapped files succeeded")
	}
}
