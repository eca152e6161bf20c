// Package mtaststest serves MTA-STS policy files over HTTPS for tests of
// the mtasts package and of the outbound queue: a real TLS server on
// loopback with a test certificate, and an HTTP transport that trusts it
// and sends the policy host's connections there (the public internet,
// mocked; RFC 8461 3.3).
package mtaststest

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xtramail/xtramail/internal/tlsutil"
)

// Server is an HTTPS server standing for https://<host>/.
type Server struct {
	// Transport dials host:443 to the server and trusts its certificate;
	// dials to any other address fail.
	Transport *http.Transport

	srv     *httptest.Server
	fetches atomic.Int32

	mu     sync.Mutex
	policy string
}

// Start serves h as host, with a certificate issued for certName (host,
// or another name to test certificate checks). The server stops at the
// end of the test.
func Start(t testing.TB, host, certName string, h http.Handler) *Server {
	t.Helper()
	srvTLS, roots, err := tlsutil.NewTestPairFor(certName)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{srv: httptest.NewUnstartedServer(h)}
	s.srv.TLS = srvTLS
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	addr := s.srv.Listener.Addr().String()
	s.Transport = &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a != host+":443" {
				return nil, errors.New("mtaststest: dial to unexpected " + a)
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	return s
}

// Serve serves policy as the policy file of domain, at
// https://mta-sts.<domain>/.well-known/mta-sts.txt with the text/plain
// type RFC 8461 3.3 asks for, and counts the fetches.
func Serve(t testing.TB, domain, policy string) *Server {
	t.Helper()
	var s *Server
	s = Start(t, "mta-sts."+domain, "mta-sts."+domain, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		s.mu.Lock()
		p := s.policy
		s.mu.Unlock()
		w.Write([]byte(p))
	}))
	s.SetPolicy(policy)
	return s
}

// SetPolicy changes the policy file Serve serves.
func (s *Server) SetPolicy(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// Fetches is how many times Serve's policy file was fetched.
func (s *Server) Fetches() int { return int(s.fetches.Load()) }

// Close stops the server: later fetches fail to connect, as when an
// attacker blocks them.
func (s *Server) Close() { s.srv.Close() }
