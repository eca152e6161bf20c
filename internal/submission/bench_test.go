package submission

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/message/messagetest"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// benchStore is a store that answers at once: the benchmarks measure the
// session's own path, from the socket to the store call. DeliverAll reads
// every body, as a store does.
type benchStore struct {
	mu      sync.Mutex
	domains map[string]store.Domain
	accts   map[string]store.Account
	domainLookups,
	delivered int
}

func newBenchStore(accounts ...string) *benchStore {
	st := &benchStore{domains: map[string]store.Domain{}, accts: map[string]store.Account{}}
	for i, a := range accounts {
		d := store.DomainOf(a)
		if _, ok := st.domains[d]; !ok {
			st.domains[d] = store.Domain{ID: int64(len(st.domains) + 1), Name: d}
		}
		st.accts[a] = store.Account{ID: int64(i + 1), DomainID: st.domains[d].ID, Address: a, Enabled: true}
	}
	return st
}

func (st *benchStore) Account(_ context.Context, address string) (store.Account, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.accts[address]
	if !ok {
		return a, store.ErrNotFound
	}
	return a, nil
}

func (st *benchStore) AccountByID(_ context.Context, id int64) (store.Account, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, a := range st.accts {
		if a.ID == id {
			return a, nil
		}
	}
	return store.Account{}, store.ErrNotFound
}

func (st *benchStore) Domain(_ context.Context, name string) (store.Domain, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.domainLookups++
	d, ok := st.domains[name]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func (st *benchStore) DeliverAll(_ context.Context, ds ...*store.Delivery) ([][]store.Delivered, error) {
	for _, d := range ds {
		if _, err := io.Copy(io.Discard, d.Body); err != nil {
			return nil, err
		}
	}
	st.mu.Lock()
	st.delivered++
	st.mu.Unlock()
	return make([][]store.Delivered, len(ds)), nil
}

func (st *benchStore) AppendLog(context.Context, ...store.LogEvent) error { return nil }

func (st *benchStore) SendsSince(context.Context, int64, time.Time) (int, time.Time, error) {
	return 0, time.Time{}, nil
}

// benchAuth signs in every known account with any password.
type benchAuth struct{ st *benchStore }

func (a benchAuth) Authenticate(ctx context.Context, username, _, _ string) (auth.Credential, error) {
	acct, err := a.st.Account(ctx, username)
	if err != nil {
		return auth.Credential{}, auth.ErrInvalidCredentials
	}
	return auth.Credential{AccountID: acct.ID, Username: acct.Address, Enabled: true}, nil
}

// benchBody is a message like xtramail-bench submit's: a short header
// and about 10 KiB of plain text lines.
func benchBody(from string) string {
	return "From: Bench <" + from + ">\r\nTo: remote@remote.test\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + string(messagetest.Words(10<<10, "\r\n"))
}

// BenchmarkSession submits 10 KiB messages to one remote recipient each
// over one STARTTLS+AUTH connection, as xtramail-bench submit does, with
// a store that answers at once: what one message costs the server's
// session (go-smtp, the body's way into the spool, parsing, Submit up to
// the store call) and the client.
func BenchmarkSession(b *testing.B) {
	const user = "bench1@bench.test"
	st := newBenchStore(user)
	tc, err := tlsutil.SelfSigned(b.TempDir(), []string{"localhost"})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv := New(Config{Config: smtpserver.Config{TLS: tc, SpoolDir: b.TempDir()}}, st, benchAuth{st},
		NewSubmitter(st, Limits{}, nil, nil), log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})

	roots := x509.NewCertPool()
	leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		b.Fatal(err)
	}
	roots.AddCert(leaf)
	c, err := smtp.DialStartTLS(ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, "pw")); err != nil {
		b.Fatal(err)
	}
	body := benchBody(user)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		rcpt := "r" + strconv.Itoa(n) + "@remote.test"
		if err := c.Mail(user, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Rcpt(rcpt, nil); err != nil {
			b.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(w, "Message-ID: <"+strconv.Itoa(n)+"@bench.test>\r\nSubject: load test "+rcpt+"\r\n"+body)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.delivered != n {
		b.Fatalf("%d messages stored of %d sent", st.delivered, n)
	}
	b.ReportMetric(float64(st.domainLookups)/float64(n), "domain-lookups/op")
}
