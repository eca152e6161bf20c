package submission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// ErrNoRoute: a recipient at a "continuity only" domain that is not a
// protected address; with no relay leg for the domain, it has nowhere to
// go.
var ErrNoRoute = errors.New("submission: not a protected address of a continuity-only domain")

// route is what becomes of one recipient (issue 13 part 6): a protected
// colleague gets an INBOX copy at once and, unless their domain is
// "continuity only", the message is relayed too so that their primary
// mailbox has it when it is back; anyone else is relayed.
type route struct {
	local *store.Account // protected: gets the INBOX copy
	relay bool           // queued for the relay or MX
}

// route decides for one normalised recipient. domains caches the
// recipient domains looked up in one submission.
func (s *Submitter) route(ctx context.Context, rcpt string, domains map[string]*store.Domain) (route, error) {
	name := store.DomainOf(rcpt)
	d, seen := domains[name]
	if !seen && s.foreign.has(name) {
		return route{relay: true}, nil
	}
	if !seen {
		dom, err := s.st.Domain(ctx, name)
		switch {
		case err == nil:
			d = &dom
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
			s.foreign.add(name)
		default:
			return route{}, fmt.Errorf("look up domain of %s: %w", rcpt, err)
		}
		if domains != nil {
			domains[name] = d
		}
	}
	if d == nil {
		// Every account is an address of one of our domains: a
		// recipient elsewhere (most of them) is relayed without
		// looking up an account.
		return route{relay: true}, nil
	}
	// A sub-address (bob+x@, RFC 5233) without an account of its own is
	// its base address's mail.
	a, err := store.RecipientAccount(ctx, s.st.Account, d.RecipientDelimiter, rcpt)
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
	default:
		return route{}, fmt.Errorf("look up recipient %s: %w", rcpt, err)
	}
	protected := err == nil && a.Enabled
	only := d.ContinuityOnly
	switch {
	case protected:
		return route{local: &a, relay: !only}, nil
	case only:
		return route{}, fmt.Errorf("recipient %s: %w", rcpt, ErrNoRoute)
	}
	return route{relay: true}, nil
}

// foreignDomains remembers for foreignTTL the recipient domains found not
// to be ours, which most recipients are at: without it, each RCPT of
// every message queried the store for its domain (issue 13, speed).
//
// Only that answer is kept: one of our domains is looked up every time,
// so that a change of its settings (continuity only, the recipient
// delimiter), made in the console or by the command line in another
// process, counts from the next message. A domain added is seen within
// foreignTTL; until then a recipient there is relayed, as before it was
// added, and gets no continuity INBOX copy. The capture listener takes as
// long to see a domain's change (its own caches of domains and accounts).
type foreignDomains struct {
	now func() time.Time // the real clock: staleness is wall time

	mu    sync.Mutex
	until map[string]time.Time // when each answer expires
}

const (
	foreignTTL = 2 * time.Second
	// foreignMax bounds the domains kept: past it, all are forgotten.
	foreignMax = 10000
)

func (f *foreignDomains) has(name string) bool {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.until[name]
	return ok && now.Before(until)
}

func (f *foreignDomains) add(name string) {
	until := f.now().Add(foreignTTL)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.until == nil || len(f.until) >= foreignMax {
		f.until = make(map[string]time.Time)
	}
	f.until[name] = until
}

// CheckRecipient reports whether a normalised recipient can be sent to
// (nil) or is refused (ErrNoRoute), for the listener's RCPT: a refused
// recipient is refused alone and the client sends to the others.
func (s *Submitter) CheckRecipient(ctx context.Context, rcpt string) error {
	_, err := s.route(ctx, rcpt, nil)
	return err
}

// checkRoute is CheckRecipient that also returns the route, for the
// listener to hand to Submit with the message (Message.routes), so that
// each recipient is looked up once per message, not at RCPT and again
// after DATA.
func (s *Submitter) checkRoute(ctx context.Context, rcpt string) (route, error) {
	return s.route(ctx, rcpt, nil)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
