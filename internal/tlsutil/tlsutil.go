// Package tlsutil owns the server certificates of every xtramail listener
// (IMAP 993, SMTP 587 STARTTLS, webmail, API): a self-signed certificate
// kept on disk as the zero-configuration default, operator-supplied
// certificate files reloaded when they change, ACME (Let's Encrypt)
// certificates via golang.org/x/crypto/acme/autocert, and an in-memory
// certificate pair for other packages' tests.
//
// Every config it returns has MinVersion TLS 1.2. Callers serving
// IMAP or SMTP should Clone a config and set NextProtos for their
// protocol ("imap", "smtp") or leave it empty: a Go server refuses a
// client whose ALPN list shares nothing with a non-empty NextProtos.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names used by [SelfSigned] inside its directory.
const (
	SelfSignedCertFile = "selfsigned-cert.pem"
	SelfSignedKeyFile  = "selfsigned-key.pem"
)

const (
	selfSignedValidity = 365 * 24 * time.Hour
	// renewBefore: a certificate this close to expiry is replaced at
	// start-up, so a long-running process does not cross its NotAfter
	// within a typical restart interval.
	renewBefore = 7 * 24 * time.Hour
)

// defaultHosts are always in a generated certificate, so local clients
// and tests can connect without configuration.
func defaultHosts() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// SelfSigned returns a server config with a self-signed certificate for
// hosts (names or IP addresses) plus localhost, 127.0.0.1 and ::1. It
// reuses dir/selfsigned-cert.pem and dir/selfsigned-key.pem if they hold
// a matching pair that covers all those hosts and is valid for at least
// another week; otherwise it makes a new ECDSA P-256 certificate valid for
// a year and writes both files (the key with mode 0600, the certificate
// 0640), each to a temporary file renamed into place, so a crash never
// leaves half a file.
// dir is created (0700) if missing.
//
// Clients must trust the certificate explicitly (pin it or add it to
// their roots); it is meant for first start and for development.
func SelfSigned(dir string, hosts []string) (*tls.Config, error) {
	if dir == "" {
		return nil, fmt.Errorf("self-signed certificate: no directory given")
	}
	all := allHosts(hosts)
	certPath := filepath.Join(dir, SelfSignedCertFile)
	keyPath := filepath.Join(dir, SelfSignedKeyFile)

	cert, err := loadUsable(certPath, keyPath, all, time.Now())
	if err != nil {
		// Missing, unreadable, expired, mismatched or not covering a
		// host: all mean we make a new one. These files are ours alone.
		certPEM, keyPEM, err := generate(all, time.Now(), selfSignedValidity)
		if err != nil {
			return nil, fmt.Errorf("self-signed certificate in %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("self-signed certificate: %w", err)
		}
		// Key first: a crash between the renames leaves a mismatched
		// pair, which the next start detects and replaces.
		if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
			return nil, fmt.Errorf("self-signed certificate: write key: %w", err)
		}
		// Not the world's either: it is in the data directory, whose
		// files are the service's (and its group's); clients get it
		// from the handshake.
		if err := writeFileAtomic(certPath, certPEM, 0o640); err != nil {
			return nil, fmt.Errorf("self-signed certificate: write certificate: %w", err)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("self-signed certificate: load generated pair: %w", err)
		}
		cert = &c
	}
	return &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}, nil
}

// loadUsable loads the pair and checks it is usable at now for all hosts.
func loadUsable(certPath, keyPath string, hosts []string, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	leaf := cert.Leaf // Set by LoadX509KeyPair since Go 1.23.
	if now.Before(leaf.NotBefore) || now.Add(renewBefore).After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate valid %v to %v", leaf.NotBefore, leaf.NotAfter)
	}
	for _, h := range hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			return nil, err
		}
	}
	return &cert, nil
}

// allHosts returns hosts plus the defaults, trimmed, without duplicates.
func allHosts(hosts []string) []string {
	var all []string
	for _, h := range slices.Concat(hosts, defaultHosts()) {
		h = strings.TrimSpace(h)
		if h != "" && !slices.ContainsFunc(all, func(s string) bool { return strings.EqualFold(s, h) }) {
			all = append(all, h)
		}
	}
	return all
}

// generate makes a self-signed ECDSA P-256 certificate for hosts, valid
// from an hour before now (client clock skew) for validFor, and returns
// the certificate and PKCS #8 key in PEM.
func generate(hosts []string, now time.Time, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"xtramail self-signed"}, CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		// Marked as a CA, like net/http/httptest's certificate, so that
		// clients which take it as a trust anchor (Python's ssl with
		// cafile=, OpenSSL in strict mode) accept it.
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFileAtomic writes data to a temporary file in path's directory,
// syncs it and renames it to path, so readers see the old or the new
// file, never a partial one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file 0600; set perm before the data is in it.
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// NewTestPair returns a server config with a fresh in-memory self-signed
// certificate for localhost, 127.0.0.1 and ::1, and a pool holding that
// certificate for clients. It is for tests in other packages (servers on
// 127.0.0.1:0); nothing touches the disk.
func NewTestPair() (serverCfg *tls.Config, clientRoots *x509.CertPool, err error) {
	return NewTestPairFor(defaultHosts()...)
}

// NewTestPairFor is NewTestPair for other names: tests of outbound
// delivery play remote hosts (mx.example.net, mta-sts.example.net).
func NewTestPairFor(hosts ...string) (serverCfg *tls.Config, clientRoots *x509.CertPool, err error) {
	certPEM, keyPEM, err := generate(hosts, time.Now(), 24*time.Hour)
	if err != nil {
		return nil, nil, fmt.Errorf("test certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("test certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, roots, nil
}
