package tlsutil

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/crypto/acme/autocert"
)

// ACME returns a server config whose certificates for hosts are obtained
// and renewed from Let's Encrypt, cached in cacheDir, and the handler that
// answers HTTP-01 challenges, to be served on port 80 (other requests to
// it are redirected to https).
//
// Only names in hosts get certificates: any other SNI name is refused
// before contacting the CA, so a client cannot make us request
// certificates for names of its choosing (and exhaust the CA's rate
// limits). Configuring ACME means accepting the CA's terms of service;
// email, if not empty, is given to the CA for expiry notices.
//
// The config's NextProtos are for HTTPS and the TLS-ALPN-01 challenge
// ("h2", "http/1.1", "acme-tls/1"); see the package doc for IMAP and SMTP.
func ACME(cacheDir string, hosts []string, email string) (*tls.Config, http.Handler, error) {
	if cacheDir == "" {
		return nil, nil, fmt.Errorf("acme: no cache directory given")
	}
	var names []string
	for _, h := range hosts {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("acme: no hosts given")
	}
	m := &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		// DirCache creates the directory with mode 0700 on first write.
		Cache:      autocert.DirCache(cacheDir),
		HostPolicy: autocert.HostWhitelist(names...),
		Email:      email,
	}
	cfg := m.TLSConfig()
	cfg.MinVersion = tls.VersionTLS12
	return cfg, m.HTTPHandler(nil), nil
}
