// Package queue delivers outgoing mail: it takes due entries from the
// store's queue (one per recipient), delivers them per recipient domain
// over one connection each, through the configured relay or directly to
// the domain's MX hosts (opportunistic STARTTLS, MTA-STS enforced), signs
// them with the sender domain's DKIM key, and settles each attempt in the
// store: delivered, deferred with exponential backoff and jitter, or
// failed with a delivery status notification (RFC 3464) to the sender.
//
// Exactly once: an entry is settled as delivered in one durable store
// write right after the remote server's 250, before anything else is
// sent, and entries are leased while an attempt runs, so that a crash
// retries what was not acknowledged and never resends what was.
package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/hostport"
	"github.com/xtramail/xtramail/internal/mtasts"
	"github.com/xtramail/xtramail/internal/store"
)

// Store is what the queue needs of the store.
type Store interface {
	store.Queue
	Deliver(ctx context.Context, d *store.Delivery) ([]store.Delivered, error)
	OpenBodyer
	// Body gives a queued body's parsed structure, for the conversion to
	// 7 bits (sevenbit.go).
	Body(ctx context.Context, accountID, bodyID int64) (store.Body, error)
}

// Resolver looks up what delivery to an MX needs; *net.Resolver is one.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Relay is a smarthost that takes all outgoing mail.
type Relay struct {
	Host string
	Port int
	// TLS is "starttls" (required, certificate verified), "implicit"
	// (RFC 8314) or "none".
	TLS      string
	Username string // AUTH PLAIN when set
	Password string
}

// DefaultConcurrency is Config.Concurrency's default. A session sends
// its next message only once the last one is settled (durable in the
// store), so each carries about one message per store round trip: with
// 8, xtramail-bench submit at 16 connections queued 1,270-1,340 msg/s
// but relayed only 1,080-1,130; with 16, all of it (1,270-1,300).
// Postfix opens up to 20 sessions to one destination.
const DefaultConcurrency = 16

// Config configures a Worker. Zero durations take the defaults.
type Config struct {
	// Hostname is our EHLO name and the Reporting-MTA of notifications.
	Hostname string
	// Relay, when set, takes every message; else each domain's MX.
	Relay *Relay
	// MXPort is the port of MX hosts: 25, other in tests.
	MXPort   int
	Resolver Resolver
	// RootCAs verify relay and MTA-STS certificates; nil: the system's.
	RootCAs *x509.CertPool
	// MTASTS, when set, looks up recipient domains' policies (MX mode).
	MTASTS *mtasts.Client
	// RouteNetworks are the networks that the hosts others name may be
	// reached at besides public addresses: an entry's own route (a
	// domain's relay host, which a tenant administrator sets) and, in MX
	// mode, a recipient domain's MX hosts (which whoever owns that
	// domain's DNS names). Loopback, private, link-local and other
	// special addresses are refused otherwise, when the connection is
	// made: a tenant, or any sender writing to a domain of their own,
	// must not have the service connect inside the operator's network
	// (server-side request forgery, or a relay there that trusts this
	// host), by address or by a name that resolves there. The
	// configured Relay is the operator's own and is not confined.
	RouteNetworks []netip.Prefix

	Lifetime    time.Duration // give up after (5 days)
	DelayNotice time.Duration // warn the sender once after (4 h)
	MinBackoff  time.Duration // first retry after about this (5 min)
	MaxBackoff  time.Duration // retries at most this far apart (4 h)
	Lease       time.Duration // an attempt's hold on its entries (15 min)
	Batch       int           // entries per claim (200)
	Concurrency int           // domains (MX) or sessions (relay) at once (DefaultConcurrency)
	Poll        time.Duration // how often the worker looks (DefaultPoll)
	IdleConn    time.Duration // an idle session is kept this long (2 s)
	// SessionMessages is how many messages one session carries before
	// it is closed and a new one opened for the rest (100), so that no
	// session lasts without end and a server's own limit is seldom met.
	SessionMessages int
	DialTimeout     time.Duration // per address (30 s)
	// CommandTimeout bounds the wait for each reply but the one to the
	// end of the data, the greeting included (5 min, RFC 5321 4.5.3.2).
	CommandTimeout time.Duration
	// DKIMKeyTTL is how long a sender domain's DKIM key, once read, is
	// used before the store is read again (dkim.DefaultKeyTTL).
	DKIMKeyTTL time.Duration
	// DKIMCheck is how often Run looks up the TXT records of pending
	// DKIM keys and activates those published (dkim.DefaultCheckEvery).
	DKIMCheck time.Duration

	// Now is the clock and Rand the jitter source in [0,1); tests inject
	// both.
	Now  func() time.Time
	Rand func() float64
}

// DefaultPoll is how often a worker looks at the queue for entries due:
// it is woken at once only for what its own process queues, so an entry
// made due by another process (`xtramail queue retry`) waits up to this
// long.
const DefaultPoll = 15 * time.Second

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.Lifetime, 5*24*time.Hour)
	set(&c.DelayNotice, 4*time.Hour)
	set(&c.MinBackoff, 5*time.Minute)
	set(&c.MaxBackoff, 4*time.Hour)
	set(&c.Lease, 15*time.Minute)
	set(&c.Poll, DefaultPoll)
	set(&c.DialTimeout, 30*time.Second)
	set(&c.CommandTimeout, 5*time.Minute)
	set(&c.IdleConn, 2*time.Second)
	set(&c.DKIMCheck, dkim.DefaultCheckEvery)
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.SessionMessages <= 0 {
		c.SessionMessages = 100
	}
	if c.MXPort == 0 {
		c.MXPort = 25
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
}

// Worker delivers the queue. Run it once per process; RunOnce is for
// tests and the CLI.
type Worker struct {
	cfg     Config
	st      Store
	log     *slog.Logger
	metrics *Metrics
	wake    chan struct{}
	// room is signalled when a session ends, so that Run claims more.
	room chan struct{}
	// sessions bounds the SMTP sessions under way, across passes.
	sessions chan struct{}
	inflight atomic.Int64 // entries claimed and not yet settled or dropped
	pool     *pool
	keys     *dkim.Keys // sender domains' DKIM keys, parsed once
	// settles joins the sessions' settles into fewer store writes.
	settles settleBatch
	// unsettled holds what the store could not settle, for the next
	// pass.
	unsettled unsettled
	// relay is relayTargets of Config.Relay, nil without one.
	relay []target
	// down holds the addresses not to dial for now (suspend.go).
	down suspensions
	// headers holds *headerReaders (hops) for reuse.
	headers sync.Pool
}

// New returns a Worker. metrics may be nil.
func New(cfg Config, st Store, log *slog.Logger, metrics *Metrics) *Worker {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg, st: st, log: log, metrics: metrics, wake: make(chan struct{}, 1),
		room: make(chan struct{}, 1), sessions: make(chan struct{}, cfg.Concurrency), pool: newPool(cfg.IdleConn),
		keys: dkim.NewKeys(st, cfg.DKIMKeyTTL, cfg.Now)}
	if cfg.Relay != nil {
		w.relay = relayTargets(cfg.Relay)
	}
	return w
}

// Wake makes Run look at the queue now (after a message was queued).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, looking at the queue every Poll and when
// woken. It does not wait for one pass's sessions before claiming what
// came in meanwhile: new entries go out over the sessions that are free,
// and sessions stay open for IdleConn after their last message, so that
// a steady stream of submissions is relayed over a few long sessions.
// Attempts under way when ctx ends are abandoned; their leases bring them
// back.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		w.pool.closeAll()
	}()
	// Apart from the passes: a slow DNS answer must not hold up
	// delivery.
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.checkDKIM(ctx)
	}()
	for {
		// At most two batches claimed and not settled: enough to keep
		// every session busy, few enough that none waits past its lease.
		for room := int64(2*w.cfg.Batch) - w.inflight.Load(); room > 0 && ctx.Err() == nil; {
			limit := int(min(room, int64(w.cfg.Batch)))
			n, err := w.pass(ctx, limit, &wg)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Error("outbound queue pass", "err", err)
				}
				break
			}
			// A full claim means more may be due.
			if n < limit {
				break
			}
			room = int64(2*w.cfg.Batch) - w.inflight.Load()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.wake:
		case <-w.room:
		}
	}
}

// checkDKIM activates pending DKIM keys whose records are published, at
// once and then every DKIMCheck, until ctx ends.
func (w *Worker) checkDKIM(ctx context.Context) {
	t := time.NewTicker(w.cfg.DKIMCheck)
	defer t.Stop()
	for {
		if _, err := w.ActivateDKIM(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("check pending dkim keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ActivateDKIM looks up the TXT records of every pending DKIM key with
// the worker's resolver and makes those published their domains'
// signing keys (dkim.ActivatePending), used from the next message on.
func (w *Worker) ActivateDKIM(ctx context.Context) ([]dkim.Check, error) {
	checks, err := dkim.ActivatePending(ctx, w.st, w.cfg.Resolver, "", false, w.cfg.Now())
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		log := w.log.With("domain", c.Domain, "selector", c.Key.Selector)
		switch {
		case c.Activated:
			w.keys.Forget(c.Domain)
			log.Info("dkim key activated: its record is published")
		case errors.Is(c.Err, dkim.ErrNotPublished):
			log.Debug("dkim key still pending", "reason", c.Err)
		default:
			log.Warn("dkim key still pending: check failed", "err", c.Err)
		}
	}
	return checks, nil
}

// RunOnce claims the entries due now, delivers them and returns how many
// it took; sessions it opened are closed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	var wg sync.WaitGroup
	n, err := w.pass(ctx, w.cfg.Batch, &wg)
	wg.Wait()
	w.pool.closeAll()
	return n, err
}

// pass claims up to limit due entries and starts their sessions, which
// wg waits for.
func (w *Worker) pass(ctx context.Context, limit int, wg *sync.WaitGroup) (int, error) {
	if n, err := w.unsettled.retry(ctx); err != nil {
		w.log.Error("settle queue entries again", "waiting", n, "err", err)
	}
	entries, err := w.st.ClaimQueue(ctx, w.cfg.Now(), w.cfg.Lease, limit)
	if err != nil {
		return 0, fmt.Errorf("claim queue: %w", err)
	}
	got := len(entries)
	// An entry whose settlement waits was attempted already.
	entries = slices.DeleteFunc(entries, func(e store.QueueEntry) bool { return w.unsettled.has(e.ID) })
	if len(entries) == 0 {
		return got, nil
	}
	// A session sends its next message only once the last one is
	// settled, so sessions are the unit of parallelism: one per
	// recipient domain for MX delivery, and for a relay, which takes
	// every domain, the messages spread over Concurrency sessions.
	type session struct {
		domain string
		msgs   []*outMsg
	}
	var sessions []session
	// Entries with their own route (a redelivery to a domain's relay
	// host) go there whatever the mode: one session per route.
	claimed := len(entries)
	routed := map[string][]store.QueueEntry{}
	var routes []string
	entries = slices.DeleteFunc(entries, func(e store.QueueEntry) bool {
		if e.Route == "" {
			return false
		}
		if _, ok := routed[e.Route]; !ok {
			routes = append(routes, e.Route)
		}
		routed[e.Route] = append(routed[e.Route], e)
		return true
	})
	if w.cfg.Relay != nil && len(entries) > 0 {
		msgs := groupMessages(entries)
		n := min(w.cfg.Concurrency, len(msgs))
		sessions = make([]session, n)
		for i, m := range msgs {
			sessions[i%n].domain = "(relay)"
			sessions[i%n].msgs = append(sessions[i%n].msgs, m)
		}
	} else {
		byDomain := map[string][]store.QueueEntry{}
		var domains []string
		for _, e := range entries {
			if _, ok := byDomain[e.RcptDomain]; !ok {
				domains = append(domains, e.RcptDomain)
			}
			byDomain[e.RcptDomain] = append(byDomain[e.RcptDomain], e)
		}
		for _, d := range domains {
			sessions = append(sessions, session{d, groupMessages(byDomain[d])})
		}
	}
	for _, r := range routes {
		sessions = append(sessions, session{routePrefix + r, groupMessages(routed[r])})
	}
	// An MX session takes a message's recipients at one domain, and an
	// entry's own route takes its own: a message may go out over several.
	all := make([][]*outMsg, len(sessions))
	for i, ss := range sessions {
		all[i] = ss.msgs
	}
	joinMessages(all)
	w.inflight.Add(int64(claimed))
	for _, ss := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				for _, m := range ss.msgs {
					if m.join != nil {
						m.join.done(ctx, w)
					}
				}
			}()
			n := 0
			for _, m := range ss.msgs {
				n += len(m.entries)
			}
			defer func() {
				w.inflight.Add(-int64(n))
				select {
				case w.room <- struct{}{}:
				default:
				}
			}()
			select {
			case w.sessions <- struct{}{}:
			case <-ctx.Done():
				return // the leases bring the entries back
			}
			defer func() { <-w.sessions }()
			w.deliverDomain(ctx, ss.domain, ss.msgs)
		}()
	}
	return claimed, nil
}

// outMsg is the entries of one body from one sender to one domain: one
// SMTP transaction with a RCPT each.
type outMsg struct {
	entries []store.QueueEntry
	// held are entries an earlier transaction of the message settled
	// nothing of (tooMany), with their results, to settle with these.
	held    []store.QueueEntry
	heldRes []result
	// join, for a message whose recipients are at several domains,
	// gathers the failures of its sessions into one notification.
	join *joiner
	// lines says whether the stored body has a line over 998 octets,
	// when hops read it all (linesUnknown: send looks).
	lines lineLength
	// tried: a session broke while the message's transaction was on
	// the wire, so the attempt is the message's, whatever comes of it
	// (deliverDomain).
	tried bool
}

func groupMessages(entries []store.QueueEntry) []*outMsg {
	type key struct {
		body int64
		from string
	}
	idx := map[key]*outMsg{}
	var out []*outMsg
	for _, e := range entries {
		k := key{e.BodyID, e.MailFrom}
		m, ok := idx[k]
		if !ok {
			m = &outMsg{}
			idx[k] = m
			out = append(out, m)
		}
		m.entries = append(m.entries, e)
	}
	return out
}

// target is a host to try, in order.
type target struct {
	host     string // name, for TLS verification and the log
	port     int
	implicit bool // TLS from the first byte
	// tlsMode: "required" verifies and fails without TLS; "opportunistic"
	// takes TLS when offered without verifying; "none" stays plain.
	tlsMode string
	// sts is the MTA-STS policy for MX targets, nil without one.
	sts *mtasts.Policy
	// confined: a host named by others, an entry's own route or an MX,
	// dialled only at the addresses Config.RouteNetworks allows.
	confined bool
	// noMX: the domain itself, which has no MX records (RFC 5321 5.1).
	noMX bool
	// k is key(), when made once for every delivery (the relay's).
	k string
}

// result is the outcome of one entry's attempt.
type result struct {
	outcome store.QueueOutcome // delivered, deferred or failed
	reply   string             // the remote answer or our reason
	status  string             // enhanced status code, for notifications
	host    string             // the remote host, when one answered
	note    string             // e.g. an MTA-STS testing-mode report
	// dsnOn: delivered to a server that announced DSN, which took the
	// sender's requests on (RFC 3461 4.2), success reports included.
	dsnOn bool
	code  int // the remote reply's code, 0 for a reason of our own
	// rank says how much a reason for not reaching a host tells the
	// sender (keep).
	rank int
}

// tooMany reports a recipient refused for being one too many for the
// transaction (RFC 5321 4.5.3.1.10): 452, or 552 with 5.5.3, which older
// servers used.
func (r result) tooMany() bool {
	return r.code == 452 || r.code == 552 && r.status == "5.5.3"
}

// Ranks of the reasons a host was not reached: a host's own reply says
// most, then a refusal of ours for its security (TLS, MTA-STS, its
// address), then a failed connection or lookup.
const (
	rankNetwork = iota + 1
	rankSecurity
	rankReply
)

// reason is the result of a failed attempt to reach a host or to keep a
// session with it: deferred whatever the code, with its rank.
func reason(err error, host string) result {
	r := failure(err, host)
	r.outcome = store.QueueDeferred
	var ce *closedError
	switch {
	case isSMTP(err) || errors.As(err, &ce) || errors.As(err, new(*unexpectedReply)):
		r.rank = rankReply
	case errors.Is(err, errTLSFailed) || errors.Is(err, errRouteRefused) || errors.Is(err, errNoTLS) ||
		strings.Contains(err.Error(), "mta-sts"):
		r.rank = rankSecurity
	default:
		r.rank = rankNetwork
	}
	return r
}

// keep makes r the reason kept for the entries still pending when it
// tells more than the one kept; of equal ones, the first (the most
// preferred host's) stays.
func keep(last *result, r result) {
	if r.rank > last.rank {
		*last = r
	}
}

// maxAddresses bounds the addresses one attempt at a domain dials (or
// whose session fails before a message is settled), across its MX hosts:
// with a 30-second dial timeout each, the attempt stays well within its
// lease however many hosts and addresses a domain lists. Postfix stops at
// 5 (smtp_mx_address_limit); a few more reach past a dead IPv6 address
// and a backup MX.
const maxAddresses = 10

// domainLog is the logger of a domain's delivery, with the domain: made
// when first used, as most deliveries log nothing and slog's With
// formats the attribute at once. Used by one goroutine.
type domainLog struct {
	base   *slog.Logger
	domain string
	l      *slog.Logger
}

func (d *domainLog) get() *slog.Logger {
	if d.l == nil {
		d.l = d.base.With("domain", d.domain)
	}
	return d.l
}

// deliverDomain delivers messages to one domain over one session (trying
// the next address, then the next host, when one fails) and settles every
// entry.
func (w *Worker) deliverDomain(ctx context.Context, domain string, msgs []*outMsg) {
	log := &domainLog{base: w.log, domain: domain}
	msgs = w.dropLoops(ctx, msgs)
	if len(msgs) == 0 {
		return
	}
	targets, res := w.targets(ctx, domain)
	if res != nil {
		for _, m := range msgs {
			w.settleMsg(ctx, m, uniform(m, *res))
		}
		return
	}
	pending := msgs
	var last result // the most useful reason a host gave, for what is left
	// reached: a host took a transaction or was sent one that broke its
	// session, so what is left untried was not for want of a host.
	reached := false
	budget := maxAddresses
	absent := 0 // hosts whose names have no address at all
	for _, t := range targets {
		if len(pending) == 0 || budget <= 0 || ctx.Err() != nil {
			break
		}
		key := t.key()
		var addrs []string
		resolved := false
		next := 0 // the address dialled next
		for len(pending) > 0 && ctx.Err() == nil {
			c := w.pool.get(ctx, key)
			pooled := c != nil
			if c == nil {
				if !resolved {
					resolved = true
					var err error
					if addrs, err = w.addresses(ctx, t); err != nil {
						log.get().Info("outbound connection failed", "host", t.host, "err", err)
						keep(&last, reason(err, t.host))
						var de *net.DNSError
						if errors.As(err, &de) && de.IsNotFound {
							absent++
						}
						break
					}
				}
				for c == nil && next < len(addrs) && budget > 0 {
					if left := pending[0].entries[0].LeaseUntil.Sub(w.cfg.Now()); left < w.cfg.Lease/3 {
						// Slow hosts (each may take a dial timeout, or
						// a command timeout to greet) used up the
						// attempt: what is left of the lease is for
						// sending, as in run.
						log.get().Info("no more hosts tried: the attempt's lease runs out", "host", t.host)
						budget = 0
						break
					}
					addrKey := key + " " + addrs[next]
					if why, ok := w.down.check(addrKey, w.cfg.Now()); ok {
						keep(&last, why)
						next++
						continue
					}
					budget--
					var err error
					if c, err = w.open(ctx, t, addrs[next], log); err != nil {
						// Deferred even for a 5xx: a refusing host says
						// nothing of the others, and a relay refusing our
						// AUTH is our set-up to fix, not the message's
						// fault. The lifetime bounds the retries.
						log.get().Info("outbound connection failed", "host", t.host, "addr", addrs[next], "err", err)
						why := reason(err, t.host)
						keep(&last, why)
						w.down.failed(addrKey, err, why, w.cfg.Now().Add(w.suspendFor()))
						next++
					} else {
						w.down.reached(addrKey)
					}
				}
				if c == nil {
					break
				}
			}
			sent, err := w.run(ctx, c, t, &pending, log)
			reached = reached || sent > 0
			switch {
			case err == nil && len(pending) == 0 && ctx.Err() == nil && c.reusable():
				w.pool.put(key, c)
				continue
			case err == nil:
				// The session carried its share of messages, or the
				// server fell out of step after its last one (desync):
				// a new one takes the rest.
				c.close()
				continue
			}
			c.abort()
			if !pooled || !errors.Is(err, errStale) {
				// run stopped at the message the session broke on.
				pending[0].tried, reached = true, true
			}
			switch {
			case pooled && errors.Is(err, errStale):
				// The pooled session had died while idle, before
				// anything of the message reached the server: try it on
				// a new session, as if none had been pooled.
				log.get().Debug("pooled session gone", "host", t.host, "err", err)
			case sent > 0:
				// The server ended a session that carried messages (its
				// limit per session, or a restart): a new one takes the
				// rest.
				log.get().Info("outbound session ended, opening another", "host", c.host, "delivered", sent, "err", err)
			default:
				log.get().Info("outbound connection lost", "host", c.host, "err", err)
				keep(&last, reason(err, c.host))
				if !pooled {
					next++ // the address it was opened to
				}
				budget--
			}
		}
	}
	if absent == len(targets) {
		// RFC 5321 5.1: when no host it names has an address, the domain
		// cannot take mail; the sender hears of it now rather than in
		// five days. Without MX records, that is a domain that does not
		// exist (or has no address): 5.1.2, bad destination system
		// (RFC 3463); with them, 5.4.4, unable to route.
		last = result{outcome: store.QueueFailed, status: "5.4.4", reply: "no MX host of " + domain + " has an address: " + last.reply}
		if targets[0].noMX {
			last = result{outcome: store.QueueFailed, status: "5.1.2", reply: "domain " + domain + " has neither MX records nor an address: " + last.reply}
		}
	}
	if last.outcome == 0 {
		last = result{outcome: store.QueueDeferred, reply: "no host could be reached", status: "4.4.1"}
	}
	// What is left is deferred with the reason, an attempt counted,
	// when it was tried or no host could be reached for it. A message
	// that never went out because the session broke on another before
	// it (or the worker is stopping) was not attempted: the session's
	// error is not its own, and it goes back to the queue as it was,
	// due after the first backoff: RFC 5321 4.5.4.1 has a destination
	// retried only after a delay once an attempt failed, and due at
	// once, each pass tried one message on a new connection and
	// released the rest, a connection per queued message within
	// seconds to a server that throttles with a 421 (found by a probe).
	// The worker stopping releases them due at once, for the next run.
	var untried []*outMsg
	for _, m := range pending {
		if !m.tried && (reached || ctx.Err() != nil) {
			untried = append(untried, m)
			continue
		}
		w.settleMsg(ctx, m, uniform(m, last))
	}
	var due time.Time
	if ctx.Err() == nil {
		due = w.cfg.Now().Add(w.backoff(0))
	}
	w.release(ctx, log, untried, due)
}

// release gives the entries of messages that were not tried back to the
// queue (store.QueueReleased): due again at due (at once when it is
// zero), with no attempt counted, no error kept and nothing logged as
// their outcome. The results of an earlier transaction that a message
// held (tooMany) are its own, and settled.
func (w *Worker) release(ctx context.Context, log *domainLog, msgs []*outMsg, due time.Time) {
	if len(msgs) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var settles []store.QueueSettle
	for _, m := range msgs {
		for _, e := range m.entries {
			settles = append(settles, store.QueueSettle{ID: e.ID, Outcome: store.QueueReleased, Next: due})
		}
		if len(m.held) > 0 {
			w.settleMsg(ctx, &outMsg{entries: m.held, join: m.join}, m.heldRes)
		}
	}
	log.get().Info("queue entries not tried go back to the queue", "entries", len(settles), "due", due)
	if err := w.settles.settle(ctx, w.st, settles, nil); err != nil {
		// Nothing went out for them: their leases bring them back.
		log.get().Warn("release untried queue entries; their leases bring them back", "entries", len(settles), "err", err)
	}
}

// run sends pending messages over c, settling each, until none is left,
// c has carried its share (conn.mailMax), or the session breaks (err, with
// the message it broke on still pending). sent is how many were settled.
func (w *Worker) run(ctx context.Context, c *conn, t target, pending *[]*outMsg, log *domainLog) (sent int, err error) {
	for len(*pending) > 0 && c.reusable() {
		m := (*pending)[0]
		// An entry's lease must not run out while it is tried, or
		// another worker could send it too. One that waited behind the
		// others of a long session until less than a third of its lease
		// is left is not tried: it is left to its lease and retried
		// then, with no attempt counted (it did not fail). A started
		// attempt has at least a sixth of the lease, and is cut off a
		// sixth before the lease ends.
		left := m.entries[0].LeaseUntil.Sub(w.cfg.Now())
		if left < w.cfg.Lease/3 {
			log.get().Info("queue entry left to its lease: its session is long", "message_id", m.entries[0].MessageID)
			*pending = (*pending)[1:]
			continue
		}
		// RFC 9422: a server that announces how many recipients it
		// takes per transaction gets no more; the others go in the
		// next one.
		part, unsent := m, []store.QueueEntry(nil)
		if n := c.rcptMax; n > 0 && len(m.entries) > n {
			part, unsent = &outMsg{entries: m.entries[:n], lines: m.lines}, m.entries[n:]
		}
		if c.cut == nil {
			c.cut = time.AfterFunc(left-w.cfg.Lease/6, c.abort)
		} else {
			c.cut.Reset(left - w.cfg.Lease/6)
		}
		results, connErr := w.send(ctx, c, t, part)
		c.cut.Stop()
		if connErr != nil {
			if len(unsent) > 0 {
				// The session broke on part: the recipients past it,
				// never named to the server, are a message of their
				// own, not tried (deliverDomain).
				m.entries = part.entries
				*pending = slices.Insert(*pending, 1, &outMsg{entries: unsent, join: m.join, lines: m.lines})
			}
			return sent, connErr
		}
		c.sent++
		if c.desync != nil {
			log.get().Info("outbound session out of step after a transaction: closed, the next message goes over another",
				"host", c.host, "err", c.desync)
		}
		for i := range results {
			results[i].note = c.note
		}
		if rest := w.tooMany(ctx, m, part, results, unsent); rest != nil {
			// The rest go at once, in a transaction of their own.
			(*pending)[0] = rest
			sent++
			continue
		}
		w.settleMsg(ctx, m, results)
		*pending = (*pending)[1:]
		sent++
	}
	return sent, nil
}

// tooMany handles the recipients of m that the transaction of part
// (m, or its first recipients) left for another: unsent, past the
// server's RCPTMAX, and those refused for being too many for one
// transaction (RFC 5321 4.5.3.1.10: 452, or 552 5.5.3 from older
// servers) while others were delivered. It settles the delivered ones,
// as delivery must be settled before anything more is sent, and returns
// the message for the others to send at once in a new transaction,
// carrying the rest's results so that the sender gets one notification
// for the message. It returns nil when nothing is left to send: then a
// 452 with none delivered is a plain deferral.
func (w *Worker) tooMany(ctx context.Context, m, part *outMsg, results []result, unsent []store.QueueEntry) *outMsg {
	delivered, refused := false, false
	for _, r := range results {
		delivered = delivered || r.outcome == store.QueueDelivered
		refused = refused || r.tooMany()
	}
	if len(unsent) == 0 && (!delivered || !refused) {
		return nil
	}
	done := &outMsg{}
	var doneRes []result
	rest := &outMsg{held: m.held, heldRes: m.heldRes, join: m.join, lines: m.lines}
	for i, e := range part.entries {
		switch r := results[i]; {
		case delivered && r.tooMany():
			rest.entries = append(rest.entries, e)
		case r.outcome == store.QueueDelivered:
			done.entries = append(done.entries, e)
			doneRes = append(doneRes, r)
		default:
			rest.held = append(rest.held, e)
			rest.heldRes = append(rest.heldRes, r)
		}
	}
	rest.entries = append(rest.entries, unsent...)
	if len(done.entries) > 0 {
		w.settle(ctx, done, doneRes)
	}
	return rest
}

// settleMsg settles a message's entries with their results, and those
// its earlier transactions held (tooMany).
func (w *Worker) settleMsg(ctx context.Context, m *outMsg, results []result) {
	if len(m.held) > 0 {
		results = append(slices.Clip(results), m.heldRes...)
		m = &outMsg{entries: append(slices.Clip(m.entries), m.held...), join: m.join}
	}
	if m.join != nil {
		if m, results = m.join.take(w, m, results); m == nil {
			return
		}
	}
	w.settle(ctx, m, results)
}

// open connects to a target at an address, in the clear again when
// opportunistic TLS fails and no policy enforces it.
func (w *Worker) open(ctx context.Context, t target, a string, log *domainLog) (*conn, error) {
	c, _, err := w.connect(ctx, t, a)
	if errors.Is(err, errTLSFailed) && t.tlsMode == "opportunistic" && (t.sts == nil || t.sts.Mode != mtasts.Enforce) {
		// RFC 7435 4: opportunistic security must not fail where
		// cleartext would work; unless a policy enforces TLS, try
		// again in the clear rather than never deliver to an MX with
		// broken TLS (RFC 8461 5: testing mode delivers).
		log.get().Info("STARTTLS failed, retrying in the clear", "host", t.host, "addr", a, "err", err)
		clear := t
		clear.tlsMode = "none"
		c, _, err = w.connect(ctx, clear, a)
	}
	return c, err
}

func uniform(m *outMsg, r result) []result {
	out := make([]result, len(m.entries))
	for i := range out {
		out[i] = r
	}
	return out
}

// relayTargets is where every message goes with a relay: the relay, its
// pool key made once.
func relayTargets(r *Relay) []target {
	t := target{host: r.Host, port: r.Port}
	switch r.TLS {
	case "implicit":
		t.implicit, t.tlsMode = true, "required"
	case "none":
		t.tlsMode = "none"
	default:
		t.tlsMode = "required"
	}
	t.k = t.key()
	return []target{t}
}

// targets lists where a domain's mail goes, or a result for every entry
// when it cannot go anywhere now.
func (w *Worker) targets(ctx context.Context, domain string) ([]target, *result) {
	if route, ok := strings.CutPrefix(domain, routePrefix); ok {
		return routeTargets(route)
	}
	if w.relay != nil {
		return w.relay, nil
	}
	var policy *mtasts.Policy
	if w.cfg.MTASTS != nil {
		p, err := w.cfg.MTASTS.Lookup(ctx, domain)
		if errors.Is(err, mtasts.ErrCache) {
			// Whether a policy applies is unknown: wait rather than
			// deliver where an enforced policy might refuse.
			return nil, &result{outcome: store.QueueDeferred, reply: err.Error(), status: "4.3.0"}
		}
		if err != nil {
			// RFC 8461 5: a failed fetch without a cached policy means
			// no policy; deliver as before, and say so.
			w.log.Warn("mta-sts policy lookup failed", "domain", domain, "err", err)
		} else if p != nil && p.Mode != mtasts.None {
			policy = p
		}
	}
	mxs, err := w.cfg.Resolver.LookupMX(ctx, domain)
	if err != nil && len(mxs) > 0 {
		// Go's resolver drops malformed records and says so with an
		// error, next to the others: those are used.
		w.log.Warn("malformed MX records ignored", "domain", domain, "err", err)
		err = nil
	}
	var dnsErr *net.DNSError
	noMX := false
	switch {
	case err == nil && len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == ""):
		// RFC 7505: a null MX says the domain takes no mail.
		return nil, &result{outcome: store.QueueFailed, reply: "domain " + domain + " accepts no mail (null MX)", status: "5.1.10"}
	case err == nil && len(mxs) > 0:
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound || err == nil:
		// RFC 5321 5.1: without MX records, the domain itself is the host.
		// Whether it exists at all is learnt when its address is looked up.
		mxs, noMX = []*net.MX{{Host: domain, Pref: 0}}, true
	default:
		// SERVFAIL, a timeout: whether the domain has MX records is
		// unknown, so it does not fall back to its address.
		return nil, &result{outcome: store.QueueDeferred, reply: fmt.Sprintf("MX lookup for %s: %v", domain, err), status: "4.4.3"}
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	// RFC 5321 5.1: hosts of equal preference are tried in random order,
	// which spreads the load as the domain asked.
	for lo := 0; lo < len(mxs); {
		hi := lo + 1
		for hi < len(mxs) && mxs[hi].Pref == mxs[lo].Pref {
			hi++
		}
		for i := hi - 1; i > lo; i-- {
			j := lo + min(int(w.cfg.Rand()*float64(i-lo+1)), i-lo)
			mxs[i], mxs[j] = mxs[j], mxs[i]
		}
		lo = hi
	}
	var out []target
	var unusable *result
	skipped := false
	seen := map[string]bool{}
	for _, mx := range mxs {
		host := trimDot(mx.Host)
		if seen[strings.ToLower(host)] {
			// Listed again at another preference: tried once, where it
			// is preferred most.
			continue
		}
		seen[strings.ToLower(host)] = true
		if r := unusableMX(domain, host); r != nil {
			if host != "." {
				w.log.Warn("unusable MX host skipped", "domain", domain, "mx", host, "reason", r.reply)
			}
			unusable = r
			continue
		}
		t := target{host: host, port: w.cfg.MXPort, tlsMode: "opportunistic", sts: policy, confined: true, noMX: noMX}
		if policy != nil && !policy.Match(host) {
			if policy.Mode == mtasts.Enforce {
				// RFC 8461 4.1: a host the policy does not list is not
				// tried at all.
				w.log.Warn("mta-sts: MX not in policy, skipped", "domain", domain, "mx", host)
				skipped = true
				continue
			}
			w.log.Warn("mta-sts testing: MX not in policy", "domain", domain, "mx", host)
		}
		out = append(out, t)
	}
	switch {
	case len(out) > 0:
		return out, nil
	case !skipped && unusable != nil:
		// RFC 5321 5.1: MX records none of which is usable are an error.
		return nil, unusable
	}
	return nil, &result{outcome: store.QueueDeferred, reply: "mta-sts: no MX host of " + domain + " matches its enforced policy", status: "4.7.5"}
}

// unusableMX says why an MX host cannot take a domain's mail, nil when it
// may: a null MX among other records (RFC 7505 3 forbids the mix; the
// others are used), an IP address where a name must be (RFC 5321 5.1;
// Postfix skips those too), or localhost, which loops back (RFC 6761
// 6.3).
func unusableMX(domain, host string) *result {
	h := strings.ToLower(host)
	switch _, err := netip.ParseAddr(strings.Trim(h, "[]")); {
	case h == "." || h == "":
		return &result{outcome: store.QueueFailed, status: "5.1.10", reply: "domain " + domain + " accepts no mail (null MX)"}
	case err == nil:
		return &result{outcome: store.QueueFailed, status: "5.4.4",
			reply: "MX host " + host + " of " + domain + " is an IP address, not a host name (RFC 5321 5.1)"}
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		return &result{outcome: store.QueueFailed, status: "5.4.6",
			reply: "MX host " + host + " of " + domain + " is localhost: mail for it would loop back"}
	}
	return nil
}

// maxHops is how many Received fields a message may carry before it is
// taken for a loop (RFC 5321 6.3) and returned instead of sent again:
// Postfix's hopcount_limit.
const maxHops = 50

// dropLoops settles as failed the messages that carry maxHops Received
// fields or more, and returns the others, with what their bodies' lines
// are (outMsg.lines), found on the same read.
func (w *Worker) dropLoops(ctx context.Context, msgs []*outMsg) []*outMsg {
	out := msgs[:0:0]
	for _, m := range msgs {
		n, err := w.hops(ctx, m)
		if err != nil || n < maxHops {
			// A body that cannot be read fails its attempt the same way
			// when it is sent.
			out = append(out, m)
			continue
		}
		w.settleMsg(ctx, m, uniform(m, result{outcome: store.QueueFailed, status: "5.4.6",
			reply: fmt.Sprintf("the message carries %d Received fields: it is looping (RFC 5321 6.3)", n)}))
	}
	return out
}

// hops counts the Received fields in the header of a message's body
// (within its first maxOriginalHeaders octets). On the same read it
// looks for lines over 998 octets in the whole body, and sets m.lines,
// so that send need not read the body again for them; not for a sender
// whose domain signs, as signing reads the body and looks then.
func (w *Worker) hops(ctx context.Context, m *outMsg) (int, error) {
	e := m.entries[0]
	whole := e.MailFrom == ""
	if !whole {
		signer, err := w.keys.Signer(ctx, store.DomainOf(e.MailFrom))
		whole = err == nil && signer == nil
	}
	rc, err := w.st.OpenQueuedBody(ctx, e)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	h, _ := w.headers.Get().(*headerReader)
	if h == nil {
		h = &headerReader{br: bufio.NewReader(nil)}
	}
	h.br.Reset(rc)
	defer func() {
		h.br.Reset(nil)
		w.headers.Put(h)
	}()
	br := h.br
	var long longLines
	n := 0
	var read int64 // octets of the header read
	for {
		line, err := br.ReadSlice('\n')
		if read+9 <= maxOriginalHeaders && len(line) >= 9 && strings.EqualFold(string(line[:9]), "received:") {
			n++
		}
		read += int64(len(line))
		long.Write(line)
		// The blank line ends the header.
		end := len(bytes.TrimRight(line, "\r\n")) == 0
		for err == bufio.ErrBufferFull {
			// A long line: its rest is no field's start.
			line, err = br.ReadSlice('\n')
			read += int64(len(line))
			long.Write(line)
		}
		switch {
		case err == io.EOF:
			m.lines = long.lines()
			return n, nil
		case err != nil:
			return n, nil
		case (end || read >= maxOriginalHeaders) && !whole:
			return n, nil
		case end || read >= maxOriginalHeaders:
			// The rest of the body, for its lines only, straight
			// from the reader's buffer.
			for {
				if _, err := br.Peek(1); err != nil {
					if err == io.EOF {
						m.lines = long.lines()
					}
					return n, nil
				}
				b, _ := br.Peek(br.Buffered())
				long.Write(b)
				br.Discard(len(b))
			}
		}
	}
}

// headerReader reads a body in hops: a buffered reader, kept for the next
// body rather than made for each.
type headerReader struct {
	br *bufio.Reader
}

// routePrefix marks a session's "domain" as an entry's own route
// (store.Outbound.Route); a domain name never has a space.
const routePrefix = "route "

// routeTargets is where an entry with its own route goes: that host, port
// 25 unless it names one. It is the customer's own mail system, reached
// like an MX: STARTTLS when offered, unverified (RFC 7435), as such
// servers often have certificates for internal names only.
//
// The route is read as admin.SetDomainSettings checked it (hostport). One
// stored before that check that does not read fails: it was tried as a
// host named by the whole value, port and all.
func routeTargets(route string) ([]target, *result) {
	host, port, err := hostport.Parse(route)
	if err != nil {
		return nil, &result{outcome: store.QueueFailed, reply: fmt.Sprintf("relay host %q: %v", route, err), status: "5.4.4"}
	}
	if port == 0 {
		port = 25
	}
	return []target{{host: host, port: port, tlsMode: "opportunistic", confined: true}}, nil
}

// routeAllowed says whether a route may connect to ip: a public address,
// or one in networks.
func routeAllowed(ip netip.Addr, networks []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, n := range networks {
		if n.Contains(ip) {
			return true
		}
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !sharedAddressSpace.Contains(ip)
}

// sharedAddressSpace is carrier-grade NAT's (RFC 6598), inside providers'
// networks like the private ranges.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

func trimDot(s string) string {
	if len(s) > 1 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// backoff is the wait before the next attempt after n failed ones:
// exponential from MinBackoff, capped at MaxBackoff, with jitter so that
// entries deferred together do not come back together: from half the
// wait to half again, but never past MaxBackoff, which says how far
// apart retries are at most (config's max_backoff); at the cap the
// jitter is all below it.
func (w *Worker) backoff(n int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 0; i < n && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	lo, hi := d/2, min(d+d/2, w.cfg.MaxBackoff)
	return lo + time.Duration(w.cfg.Rand()*float64(hi-lo))
}

func addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// tlsConfig returns the client TLS config for a target, and where a
// testing-mode MTA-STS certificate failure is reported.
func (w *Worker) tlsConfig(t target, report *string) *tls.Config {
	cfg := &tls.Config{ServerName: t.host, RootCAs: w.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if t.tlsMode == "required" {
		return cfg
	}
	// Opportunistic TLS is not verified (RFC 7435) unless an MTA-STS
	// policy asks for it (RFC 8461 4.2); in testing mode a failure is
	// reported and delivery goes on.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verifyChain(cs, w.cfg.RootCAs, t.host)
		if err == nil {
			return nil
		}
		if t.sts == nil {
			// Delivered all the same (RFC 7435 4, RFC 7672's stance for
			// MX hosts without a policy), but an operator asked why a
			// message went over a certificate that did not verify
			// finds it here.
			w.log.Info("opportunistic TLS: certificate not verified, delivering all the same", "host", t.host, "err", err)
			return nil
		}
		if t.sts.Mode == mtasts.Enforce {
			return fmt.Errorf("mta-sts: certificate of %s: %w", t.host, err)
		}
		*report = fmt.Sprintf("mta-sts testing: certificate of %s: %v", t.host, err)
		return nil
	}
	return cfg
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	return err
}
