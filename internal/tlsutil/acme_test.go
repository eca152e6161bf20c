package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/crypto/acme"
)

func newPool(t *testing.T, certPEM []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(certPEM) {
		t.Fatal("no certificate in PEM")
	}
	return p
}

// TestACME checks the config and host policy without contacting any CA:
// refused names fail before the CA would be asked.
func TestACME(t *testing.T) {
	cfg, handler, err := ACME(filepath.Join(t.TempDir(), "acme"), []string{"mail.example.com", " "}, "postmaster@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil {
		t.Errorf("MinVersion %x, GetCertificate set %v", cfg.MinVersion, cfg.GetCertificate != nil)
	}
	if !slices.Contains(cfg.NextProtos, acme.ALPNProto) {
		t.Errorf("NextProtos %q lack %s (TLS-ALPN-01)", cfg.NextProtos, acme.ALPNProto)
	}
	for _, name := range []string{"evil.example.org", "example.com", "mail.example.com.evil.org"} {
		if _, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: name}); err == nil {
			t.Errorf("GetCertificate(%s) succeeded, want host policy refusal", name)
		}
	}

	tests := []struct {
		host, path string
		want       int
	}{
		{"evil.example.org", "/.well-known/acme-challenge/token", http.StatusForbidden},
		{"mail.example.com", "/.well-known/acme-challenge/token", http.StatusNotFound}, // allowed, no such token
		{"mail.example.com", "/", http.StatusFound},                                    // redirect to https
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "http://"+tt.host+tt.path, nil)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET %s%s: status %d, want %d", tt.host, tt.path, rec.Code, tt.want)
		}
	}
}

func TestACMEErrors(t *testing.T) {
	if _, _, err := ACME("", []string{"mail.example.com"}, ""); err == nil {
		t.Error("ACME with no cache dir succeeded")
	}
	if _, _, err := ACME(t.TempDir(), []string{"", " "}, ""); err == nil {
		t.Error("ACME with no hosts succeeded")
	}
}
