package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xtramail/xtramail/internal/clocktest"
	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/mtasts"
	"github.com/xtramail/xtramail/internal/mtasts/mtaststest"
	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// mxSetup is a recipient domain example.net whose MX, mx.example.net, is
// a sink with STARTTLS on a certificate the worker's roots trust, found
// through a test DNS server.
type mxSetup struct {
	st    store.Store
	acc   store.Account
	sink  *sink
	clock *clocktest.Clock
	cfg   Config
	sts   *mtaststest.Server // the policy host, with stsSetup
	dns   *queuetest.DNS     // serves cfg.Resolver's answers
}

func newMX(t *testing.T, extra ...string) *mxSetup {
	t.Helper()
	st, acc := newStore(t)
	srvTLS, roots, err := tlsutil.NewTestPairFor("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	sk := startSink(t, srvTLS, false)
	records := append([]string{
		"example.net. 300 IN MX 10 mx.example.net.",
		"mx.example.net. 300 IN A 127.0.0.1",
	}, extra...)
	c := clocktest.New(t0)
	d := queuetest.StartDNS(t, records...)
	return &mxSetup{st: st, acc: acc, sink: sk, clock: c, dns: d, cfg: Config{
		Hostname: "queue.example.org",
		MXPort:   sk.port,
		Resolver: d.Resolver(),
		RootCAs:  roots,
		// The test's MX hosts are on loopback, refused otherwise.
		RouteNetworks: loopback,
		Now:           c.Now,
		Rand:          func() float64 { return 0.5 }, // backoff without jitter: d/2 + d/2
	}}
}

// TestMXDeliverySignedOverOneConnection sends two messages to example.net
// found through DNS: one SMTP transaction each (two RCPTs in the first),
// over one TLS connection, DKIM-signed so that go-msgauth verifies.
func TestMXDeliverySignedOverOneConnection(t *testing.T) {
	s := newMX(t)
	ctx := context.Background()
	key, err := xdkim.GenerateKey("ed25519", "sel", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.SetDKIMKey(ctx, "example.org", key); err != nil {
		t.Fatal(err)
	}
	record, _ := xdkim.Record(key)
	reg := prometheus.NewRegistry()
	w := New(s.cfg, s.st, nil, NewMetrics(reg, s.st, s.clock.Now))
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net", "carol@Example.NET")
	enqueue(t, s.st, s.acc, t0, "m2", "bob@example.net")
	if got := gauge(t, reg, "xtramail_queue_entries"); got != 3 {
		t.Fatalf("queue size metric %v, want 3", got)
	}
	s.clock.Set(t0.Add(90 * time.Second))
	if got := gauge(t, reg, "xtramail_queue_oldest_age_seconds"); got != 90 {
		t.Fatalf("oldest age metric %v, want 90", got)
	}
	if n := runOnce(t, w); n != 3 {
		t.Fatalf("took %d entries", n)
	}
	got := s.sink.received()
	if len(got) != 2 || len(s.sink.conns) != 1 {
		t.Fatalf("sink got %d messages over %d connections, want 2 over 1", len(got), len(s.sink.conns))
	}
	if !got[0].tls || got[0].from != "alice@example.org" || strings.Join(got[0].rcpts, ",") != "bob@example.net,carol@example.net" {
		t.Fatalf("first transaction %+v", got[0])
	}
	for _, m := range got {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			if name != "sel._domainkey.example.org" {
				return nil, errors.New("unexpected lookup " + name)
			}
			return []string{record}, nil
		}})
		if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.org" {
			t.Fatalf("dkim verification %v %+v", err, vs)
		}
	}
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue after delivery %+v", q)
	}
	ev := events(t, s.st, msglog.Delivered)
	if len(ev) != 3 || !strings.Contains(ev[0].Detail, "mx.example.net[127.0.0.1]: 250") || ev[0].Rcpt != "bob@example.net" {
		t.Fatalf("delivered events %+v", ev)
	}
	if n := len(events(t, s.st, msglog.Queued)); n != 3 {
		t.Fatalf("%d queued events", n)
	}
	if got := gauge(t, reg, "xtramail_queue_entries"); got != 0 {
		t.Fatalf("queue size metric %v after delivery", got)
	}
	if got := testutil.ToFloat64(w.metrics.attempts.WithLabelValues("delivered")); got != 3 {
		t.Fatalf("delivered attempts %v", got)
	}
}

// gauge gathers reg and returns the value of a gauge without labels.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestTemporaryFailureRetriedWithBackoff: a 451 defers with exponential
// backoff on the injected clock; nothing is tried before it is due; the
// third attempt delivers.
func TestTemporaryFailureRetriedWithBackoff(t *testing.T) {
	s := newMX(t)
	fails := 2
	s.sink.set(func() {
		s.sink.rcptHook = func(string) error {
			if fails > 0 {
				fails--
				return errTemp
			}
			return nil
		}
	})
	w := New(s.cfg, s.st, nil, nil)
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
	runOnce(t, w)
	q := queued(t, s.st)
	// Rand 0.5 takes out the jitter: the first wait is MinBackoff.
	if len(q) != 1 || q[0].Attempts != 1 || !q[0].NextAttempt.Equal(t0.Add(5*time.Minute)) ||
		!strings.Contains(q[0].LastError, "451 4.3.0 try again later") {
		t.Fatalf("after a 451: %+v", q)
	}
	s.clock.Set(t0.Add(4 * time.Minute))
	if n := runOnce(t, w); n != 0 {
		t.Fatalf("took %d entries before they were due", n)
	}
	s.clock.Set(t0.Add(5 * time.Minute))
	runOnce(t, w)
	q = queued(t, s.st)
	if len(q) != 1 || q[0].Attempts != 2 || !q[0].NextAttempt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("after a second 451 the wait doubles: %+v", q)
	}
	s.clock.Set(t0.Add(15 * time.Minute))
	runOnce(t, w)
	if q := queued(t, s.st); len(q) != 0 || len(s.sink.received()) != 1 {
		t.Fatalf("not delivered on the third attempt: %+v", q)
	}
	if d := events(t, s.st, msglog.Deferred); len(d) != 2 || !strings.Contains(d[0].Detail, "451") {
		t.Fatalf("deferred events %+v", d)
	}
	if len(storetest.Inbox(t, s.st, s.acc)) != 0 {
		t.Fatal("a notification for a delay shorter than DelayNotice")
	}
}

// TestBackoffJitterBounds: the wait after n failed attempts is the
// exponential one (MinBackoff doubled n times, capped at MaxBackoff) from
// half of it to half again, and never past MaxBackoff, which config
// documents as how far apart retries are at most: it was up to 1.5 times
// it. Random bounds and jitter, the seed logged.
func TestBackoffJitterBounds(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	for range 200 {
		minB := time.Minute + time.Duration(rnd.Int64N(int64(30*time.Minute)))
		maxB := minB + time.Duration(rnd.Int64N(int64(10*time.Hour)))
		r := []float64{0, 0.5, 0.999999, rnd.Float64()}[rnd.IntN(4)]
		w := New(Config{MinBackoff: minB, MaxBackoff: maxB, Rand: func() float64 { return r }}, nil, nil, nil)
		base := minB
		for n := range 40 {
			d := min(base, maxB)
			if got := w.backoff(n); got < d/2 || got > min(d+d/2, maxB) {
				t.Fatalf("min %v, max %v, rand %v: backoff(%d) = %v, want in [%v, %v]", minB, maxB, r, n, got, d/2, min(d+d/2, maxB))
			}
			base = min(2*base, 100*time.Hour)
		}
	}
}

// TestPermanentFailureNotifiesSender: a 550 to one of two recipients
// bounces that one into a multipart/report in alice's INBOX, with the
// original header; the other is delivered.
// refuseNobody makes s's MX refuse every recipient nobody@ with 550
// 5.1.1, and take the others.
func refuseNobody(s *mxSetup) {
	s.sink.set(func() {
		s.sink.rcptHook = func(rcpt string) error {
			if strings.HasPrefix(rcpt, "nobody@") {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		}
	})
}

func TestPermanentFailureNotifiesSender(t *testing.T) {
	s := newMX(t)
	refuseNobody(s)
	w := New(s.cfg, s.st, nil, nil)
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net", "nobody@example.net")
	runOnce(t, w)
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
	if got := s.sink.received(); len(got) != 1 || len(got[0].rcpts) != 1 {
		t.Fatalf("sink %+v", got)
	}
	in := storetest.Inbox(t, s.st, s.acc)
	if len(in) != 1 {
		t.Fatalf("%d messages in the sender's INBOX, want the notification", len(in))
	}
	if err := contains(in[0],
		"Content-Type: multipart/report; report-type=delivery-status",
		"Content-Type: message/delivery-status", "Reporting-MTA: dns; queue.example.org",
		"Final-Recipient: rfc822; nobody@example.net", "Action: failed", "Status: 5.1.1",
		"Remote-MTA: dns; mx.example.net", "Diagnostic-Code: smtp; 550 5.1.1 no such user",
		"Content-Type: text/rfc822-headers", "Subject: subject m1", "Message-ID: <m1@example.org>",
		"Auto-Submitted: auto-replied", "Subject: Undelivered Mail Returned to Sender: subject m1",
	); err != nil {
		t.Fatalf("notification %v:\n%s", err, in[0])
	}
	if bytes.Contains(in[0], []byte("this is m1")) {
		t.Fatal("the notification carries the original body")
	}
	// An independent parser reads it as RFC 3464 has it: Python's email
	// package, which splits a message/delivery-status body into its
	// per-message and per-recipient field blocks.
	if got := checkReport(t, in[0]); got != "rfc822; nobody@example.net failed 5.1.1\n" {
		t.Fatalf("Python's email package reads the recipients as %q", got)
	}
	if bytes.Contains(in[0], []byte("Final-Recipient: rfc822; bob@")) {
		t.Fatal("the notification names the delivered recipient")
	}
	if b := events(t, s.st, msglog.Bounced); len(b) != 1 || b[0].Rcpt != "nobody@example.net" || !strings.Contains(b[0].Detail, "550") {
		t.Fatalf("bounced events %+v", b)
	}
	checkNoticeLogged(t, s.st, in[0], "failed", "m1@example.org")
}

// checkNoticeLogged checks that a notification has its stored record,
// under its own Message-ID, naming the sender and the message it is
// about: a delay notice had none, so nothing said the sender was told.
func checkNoticeLogged(t *testing.T, st store.Store, notice []byte, action, about string) {
	t.Helper()
	id := message.Parse(notice).MessageID
	if id == "" {
		t.Fatalf("notification without a Message-ID:\n%s", notice)
	}
	evs, err := st.SearchLog(context.Background(), store.LogQuery{MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Status != msglog.Stored || evs[0].Rcpt != "alice@example.org" ||
		!strings.Contains(evs[0].Detail, "delivery notice ("+action+") about <"+about+">") {
		t.Fatalf("records of notification %s: %+v", id, evs)
	}
}

// TestDelayNoticeThenExpiry: a domain answering 451 for ever gets one
// delay notice after DelayNotice, then a failure notice at the end of the
// lifetime, and the entry goes.
func TestDelayNoticeThenExpiry(t *testing.T) {
	s := newMX(t)
	s.sink.set(func() { s.sink.rcptHook = func(string) error { return errTemp } })
	w := New(s.cfg, s.st, nil, nil)
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
	attempts := 0
	for now := t0; attempts < 200; attempts++ {
		s.clock.Set(now)
		runOnce(t, w)
		q := queued(t, s.st)
		if len(q) == 0 {
			break
		}
		if q[0].NextAttempt.After(t0.Add(5*24*time.Hour)) || !q[0].NextAttempt.After(now) {
			t.Fatalf("next attempt %v at %v", q[0].NextAttempt, now)
		}
		now = q[0].NextAttempt
	}
	in := storetest.Inbox(t, s.st, s.acc)
	if len(in) != 2 {
		t.Fatalf("%d notifications after %d attempts, want a delay and a failure notice", len(in), attempts)
	}
	if err := contains(in[0], "Action: delayed", "Status: 4.3.0", "Will-Retry-Until: ", "Subject: Delayed Mail"); err != nil {
		t.Fatalf("delay notice %v:\n%s", err, in[0])
	}
	if err := contains(in[1], "Action: failed", "Status: 5.4.7", "Diagnostic-Code: smtp; 451"); err != nil {
		t.Fatalf("failure notice %v:\n%s", err, in[1])
	}
	checkNoticeLogged(t, s.st, in[0], "delayed", "m1@example.org")
	checkNoticeLogged(t, s.st, in[1], "failed", "m1@example.org")
	if e := events(t, s.st, msglog.Expired); len(e) != 1 || !strings.Contains(e[0].Detail, "gave up after 120h0m0s") {
		t.Fatalf("expired events %+v", e)
	}
	// Postfix-like pacing: a few dozen attempts over five days, not hundreds.
	if attempts < 10 || attempts > 60 {
		t.Fatalf("%d attempts in five days", attempts)
	}
}

// TestNullMXFails: RFC 7505.
func TestNullMXFails(t *testing.T) {
	s := newMX(t, "null.test. 300 IN MX 0 .")
	w := New(s.cfg, s.st, nil, nil)
	enqueue(t, s.st, s.acc, t0, "m1", "x@null.test")
	runOnce(t, w)
	if b := events(t, s.st, msglog.Bounced); len(b) != 1 || !strings.Contains(b[0].Detail, "null MX") {
		t.Fatalf("bounced %+v", b)
	}
}

// TestNoMXFallsBackToAddress: RFC 5321 5.1, a domain without MX is its
// own mail host.
func TestNoMXFallsBackToAddress(t *testing.T) {
	s := newMX(t, "plain.test. 300 IN A 127.0.0.1")
	w := New(s.cfg, s.st, nil, nil)
	enqueue(t, s.st, s.acc, t0, "m1", "x@plain.test")
	runOnce(t, w)
	if got := s.sink.received(); len(got) != 1 || got[0].rcpts[0] != "x@plain.test" {
		t.Fatalf("sink %+v", got)
	}
}

// stsSetup adds an MTA-STS policy for example.net, served over HTTPS as
// mta-sts.example.net with its _mta-sts TXT record in the test DNS, and
// cached in the store.
func stsSetup(t *testing.T, policy string, extra ...string) *mxSetup {
	t.Helper()
	s := newMX(t, append([]string{`_mta-sts.example.net. 300 IN TXT "v=STSv1; id=20261205"`}, extra...)...)
	s.sts = mtaststest.Serve(t, "example.net", policy)
	s.cfg.MTASTS = mtasts.NewClient(s.cfg.Resolver, s.sts.Transport, s.st, s.clock.Now)
	return s
}

// TestMTASTSPolicyCachedAcrossRestart: a policy the worker fetched is
// enforced after a restart (a new worker and client over the reopened
// store) without fetching it again, also when an attacker then blocks the
// policy host, drops the _mta-sts record and points the MX elsewhere
// (RFC 8461 10.2): the message waits instead of going to that MX.
func TestMTASTSPolicyCachedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	st, acc := newStoreIn(t, dir)
	srvTLS, roots, err := tlsutil.NewTestPairFor("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	sk := startSink(t, srvTLS, false)
	sts := mtaststest.Serve(t, "example.net", "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n")
	c := clocktest.New(t0)
	config := func(st store.Store, records ...string) Config {
		res := startDNS(t, records...)
		return Config{Hostname: "queue.example.org", MXPort: sk.port, Resolver: res, RootCAs: roots, Now: c.Now,
			RouteNetworks: loopback, MTASTS: mtasts.NewClient(res, sts.Transport, st, c.Now)}
	}
	honest := []string{"example.net. 300 IN MX 10 mx.example.net.", "mx.example.net. 300 IN A 127.0.0.1",
		`_mta-sts.example.net. 300 IN TXT "v=STSv1; id=1"`}
	enqueue(t, st, acc, t0, "m1", "bob@example.net")
	runOnce(t, New(config(st, honest...), st, nil, nil))
	if got := sk.received(); len(got) != 1 || !got[0].tls || sts.Fetches() != 1 {
		t.Fatalf("before the restart: sink %d, %d fetches", len(got), sts.Fetches())
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	c.Set(t0.Add(time.Hour))
	enqueue(t, st, acc, c.Now(), "m2", "bob@example.net")
	runOnce(t, New(config(st, honest...), st, nil, nil))
	if got := len(sk.received()); got != 2 || sts.Fetches() != 1 {
		t.Fatalf("after the restart: sink %d, %d fetches; want 2 and the cached policy", got, sts.Fetches())
	}

	sts.Close()
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	c.Set(t0.Add(2 * time.Hour))
	enqueue(t, st, acc, c.Now(), "m3", "bob@example.net")
	runOnce(t, New(config(st, "example.net. 300 IN MX 10 mx.evil.test.", "mx.evil.test. 300 IN A 127.0.0.1"), st, nil, nil))
	if got := len(sk.received()); got != 2 {
		t.Fatalf("delivered to an MX the cached enforced policy does not list (sink has %d)", got)
	}
	if d := events(t, st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, "mta-sts") {
		t.Fatalf("deferred %+v", d)
	}
}

func TestMTASTS(t *testing.T) {
	const enforce = "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n"
	t.Run("enforce with matching MX and good certificate delivers", func(t *testing.T) {
		s := stsSetup(t, enforce)
		enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
		runOnce(t, New(s.cfg, s.st, nil, nil))
		if got := s.sink.received(); len(got) != 1 || !got[0].tls {
			t.Fatalf("sink %+v", got)
		}
	})
	t.Run("enforce with mismatching MX defers", func(t *testing.T) {
		s := stsSetup(t, "version: STSv1\nmode: enforce\nmx: *.mail.example.net\nmax_age: 86400\n")
		enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
		runOnce(t, New(s.cfg, s.st, nil, nil))
		if len(s.sink.received()) != 0 || len(s.sink.conns) != 0 {
			t.Fatal("delivered to an MX the enforced policy does not list")
		}
		if d := events(t, s.st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, "mta-sts") {
			t.Fatalf("deferred %+v", d)
		}
	})
	t.Run("enforce with a bad certificate defers", func(t *testing.T) {
		s := stsSetup(t, enforce)
		_, otherRoots, err := tlsutil.NewTestPairFor("mx.example.net")
		if err != nil {
			t.Fatal(err)
		}
		s.cfg.RootCAs = otherRoots // the sink's certificate is not signed by these
		enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
		runOnce(t, New(s.cfg, s.st, nil, nil))
		if len(s.sink.received()) != 0 {
			t.Fatal("delivered over a certificate the enforced policy refuses")
		}
		if d := events(t, s.st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, "certificate") {
			t.Fatalf("deferred %+v", d)
		}
	})
	t.Run("testing mode delivers and logs", func(t *testing.T) {
		s := stsSetup(t, "version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 86400\n")
		_, otherRoots, err := tlsutil.NewTestPairFor("mx.example.net")
		if err != nil {
			t.Fatal(err)
		}
		s.cfg.RootCAs = otherRoots
		enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
		runOnce(t, New(s.cfg, s.st, nil, nil))
		if len(s.sink.received()) != 1 {
			t.Fatal("testing mode did not deliver")
		}
		if d := events(t, s.st, msglog.Delivered); len(d) != 1 || !strings.Contains(d[0].Detail, "mta-sts testing: certificate of mx.example.net") {
			t.Fatalf("delivered %+v", d)
		}
	})
	t.Run("without a policy a bad certificate is fine", func(t *testing.T) {
		s := newMX(t)
		_, otherRoots, _ := tlsutil.NewTestPairFor("mx.example.net")
		s.cfg.RootCAs = otherRoots
		enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
		var logs bytes.Buffer // slog's handler writes under its own lock
		runOnce(t, New(s.cfg, s.st, slog.New(slog.NewTextHandler(&logs, nil)), nil))
		if got := s.sink.received(); len(got) != 1 || !got[0].tls {
			t.Fatalf("opportunistic TLS: %+v", got)
		}
		if l := logs.String(); !strings.Contains(l, "certificate not verified") || !strings.Contains(l, "host=mx.example.net") {
			t.Fatalf("the unverified certificate is not logged:\n%s", l)
		}
	})
}

// TestRelayImplicitTLSWithAuth: relay mode over implicit TLS (RFC 8314)
// with AUTH PLAIN; a wrong password defers.
func TestRelayImplicitTLSWithAuth(t *testing.T) {
	st, acc := newStore(t)
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	sk := startSink(t, srvTLS, true)
	sk.set(func() { sk.user, sk.pass = "relayuser", "secret" })
	c := clocktest.New(t0)
	cfg := Config{
		Hostname: "queue.example.org", RootCAs: roots, Now: c.Now,
		Relay: &Relay{Host: "localhost", Port: sk.port, TLS: "implicit", Username: "relayuser", Password: "wrong"},
	}
	enqueue(t, st, acc, t0, "m1", "bob@anywhere.test", "carol@elsewhere.test")
	runOnce(t, New(cfg, st, nil, nil))
	if d := events(t, st, msglog.Deferred); len(d) != 2 || !strings.Contains(d[0].Detail, "535") {
		t.Fatalf("wrong relay password: deferred %+v", d)
	}
	cfg.Relay.Password = "secret"
	c.Set(t0.Add(time.Hour))
	runOnce(t, New(cfg, st, nil, nil))
	// Through a relay, the two domains' recipients share one transaction.
	got := sk.received()
	if len(got) != 1 || len(got[0].rcpts) != 2 || !got[0].tls {
		t.Fatalf("relay got %d transactions: %+v", len(got), got)
	}
	if q := queued(t, st); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
}

// TestRelayRequiresSTARTTLS: a relay in starttls mode that does not offer
// it gets nothing.
func TestRelayRequiresSTARTTLS(t *testing.T) {
	st, acc := newStore(t)
	sk := startSink(t, nil, false)
	cfg := Config{Hostname: "queue.example.org", Now: clocktest.New(t0).Now,
		Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "starttls"}}
	enqueue(t, st, acc, t0, "m1", "bob@anywhere.test")
	runOnce(t, New(cfg, st, nil, nil))
	if len(sk.received()) != 0 {
		t.Fatal("sent in the clear to a relay configured for STARTTLS")
	}
	if d := events(t, st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, "STARTTLS") {
		t.Fatalf("deferred %+v", d)
	}
}

// TestBrokenSTARTTLSFallsBackToClear: an MX whose STARTTLS handshake
// fails still gets the message in the clear when no MTA-STS policy asks
// for TLS (RFC 7435), and never when one does.
func TestBrokenSTARTTLSFallsBackToClear(t *testing.T) {
	broken := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no certificate here")
	}}
	s := newMX(t)
	sk := startSink(t, broken, false)
	s.cfg.MXPort = sk.port
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if got := sk.received(); len(got) != 1 || got[0].tls {
		t.Fatalf("without a policy: %+v", got)
	}

	e := stsSetup(t, "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n")
	sk2 := startSink(t, broken, false)
	e.cfg.MXPort = sk2.port
	enqueue(t, e.st, e.acc, t0, "m1", "bob@example.net")
	runOnce(t, New(e.cfg, e.st, nil, nil))
	if got := sk2.received(); len(got) != 0 {
		t.Fatalf("enforced policy, broken TLS: sent in the clear %+v", got)
	}
	if d := events(t, e.st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, "tls handshake failed") {
		t.Fatalf("deferred %+v", d)
	}
}

// TestUTF8AddressesNeedSMTPUTF8: a UTF-8 recipient goes with SMTPUTF8 to a
// server that offers it, and bounces (5.6.7) from one that does not.
func TestUTF8AddressesNeedSMTPUTF8(t *testing.T) {
	for _, offer := range []bool{true, false} {
		s := newMX(t)
		sk := startSinkWith(t, nil, false, func(srv *smtp.Server) { srv.EnableSMTPUTF8 = offer })
		s.cfg.MXPort = sk.port
		enqueue(t, s.st, s.acc, t0, "u1", "jörg@example.net")
		runOnce(t, New(s.cfg, s.st, nil, nil))
		got := sk.received()
		if offer && (len(got) != 1 || got[0].rcpts[0] != "jörg@example.net") {
			t.Fatalf("SMTPUTF8 offered: sink got %+v", got)
		}
		if !offer {
			if len(got) != 0 {
				t.Fatalf("sent UTF-8 to a server without SMTPUTF8: %+v", got)
			}
			if b := events(t, s.st, msglog.Bounced); len(b) != 1 || !strings.Contains(b[0].Detail, "SMTPUTF8") {
				t.Fatalf("bounced %+v", b)
			}
		}
	}
}

// TestSettleSurvivesEndedContext guards exactly-once across a shutdown:
// a delivery the remote server acknowledged is recorded even when the
// attempt's context ended meanwhile, else it would be sent again.
func TestSettleSurvivesEndedContext(t *testing.T) {
	s := newMX(t)
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
	w := New(s.cfg, s.st, nil, nil)
	entries, err := s.st.ClaimQueue(context.Background(), t0, time.Minute, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("claim %v %+v", err, entries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.settle(ctx, &outMsg{entries: entries}, []result{{outcome: store.QueueDelivered, reply: "250 ok", host: "mx.example.net[127.0.0.1]"}})
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("acknowledged entry still queued after its context ended: %+v", q)
	}
	if d := events(t, s.st, msglog.Delivered); len(d) != 1 {
		t.Fatalf("delivered events %+v", d)
	}
}
