package capture

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// The domain settings capture honours (store.DomainSettings, edited in the
// console):
//
//   - WholeDomain: every address of the domain is protected. A copy for an
//     address without an account creates it (enabled, without a password:
//     its user can be given one later) when its recipient is accepted, and
//     an audit record says so. An address an administrator disabled stays
//     refused.
//   - AllowedIPs: when set, only those upstream addresses may hand over
//     this domain's copies; others get 550 5.7.1 for its recipients (the
//     service-wide capture allow-list still decides who may connect).

// domainCache remembers domain settings for a moment, like accountCache.
type domainCache struct {
	st  Store
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedDomain
}

type cachedDomain struct {
	d       store.Domain
	err     error
	expires time.Time
}

func newDomainCache(st Store, now func() time.Time) *domainCache {
	return &domainCache{st: st, now: now, entries: make(map[string]cachedDomain)}
}

// lookup returns a domain's settings, or an error wrapping
// store.ErrNotFound.
func (c *domainCache) lookup(ctx context.Context, name string) (store.Domain, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.d, e.err
	}
	d, err := c.st.Domain(ctx, name)
	if err == nil || isNotFound(err) {
		c.mu.Lock()
		if len(c.entries) >= accountCacheLimit {
			clear(c.entries)
		}
		c.entries[name] = cachedDomain{d: d, err: err, expires: now.Add(accountTTL)}
		c.mu.Unlock()
	}
	return d, err
}

// upstreamAllowed reports whether ip may hand over copies for domain d.
func upstreamAllowed(d store.Domain, ip string) bool {
	if len(d.AllowedIPs) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, s := range d.AllowedIPs {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
			return true
		}
		if b, err := netip.ParseAddr(s); err == nil && b.Unmap() == a {
			return true
		}
	}
	return false
}

// recipientPolicy is what the domain settings say of one recipient.
type recipientPolicy struct {
	acct     store.Account
	err      error  // the lookup's error, ErrNotFound included
	refused  string // non-empty: the upstream may not send this domain's copies
	domainID int64
}

// recipient looks up the account of a recipient address, creating it when
// its domain protects every address, and checks the domain's upstream
// allow-list for ip.
func (s *Server) recipient(ctx context.Context, addr, ip string) recipientPolicy {
	d, derr := s.domains.lookup(ctx, store.DomainOf(addr))
	if derr != nil && !isNotFound(derr) {
		return recipientPolicy{err: derr}
	}
	if derr == nil && !upstreamAllowed(d, ip) {
		return recipientPolicy{refused: "upstream " + ip + " not allowed for " + d.Name, domainID: d.ID}
	}
	var delims string
	if derr == nil {
		delims = d.RecipientDelimiter
	}
	a, err := store.RecipientAccount(ctx, s.accounts.lookup, delims, addr)
	if isNotFound(err) && derr == nil && d.WholeDomain {
		// A sub-address's first copy protects the address it stands
		// for: its later copies, and those of its other tags, go there.
		addr := store.BaseAddress(addr, delims)
		a, err = s.store.CreateAccount(ctx, addr, "")
		if errors.Is(err, store.ErrExists) {
			// Another connection created it meanwhile.
			a, err = s.store.Account(ctx, addr)
		} else if err == nil {
			s.log.Info("address of a whole-domain domain protected at its first copy", "rcpt", addr)
			rec := store.AuditRecord{Time: s.now(), Actor: "capture", Action: "address.add",
				Object: "address " + addr, Detail: "whole-domain continuity: first copy from " + ip, CustomerID: d.CustomerID}
			if c, cerr := s.store.Customer(ctx, store.AllScope(), d.CustomerID); cerr == nil {
				rec.ResellerID = c.ResellerID
			}
			aerr := s.store.AppendAudit(ctx, rec)
			if aerr != nil {
				s.log.Error("audit address created at first copy", "rcpt", addr, "err", aerr)
			}
		}
		if err == nil {
			s.accounts.forget(addr)
		}
	}
	return recipientPolicy{acct: a, err: err}
}

// sender looks up the account of an envelope sender: its own or, for a
// sub-address, that of the address it stands for (with its domain's
// recipient delimiter), as for a recipient. allowed says whether copies
// of its outgoing mail (journaled) from ip may be kept: its domain's
// upstream allow-list.
func (s *Server) sender(ctx context.Context, addr, ip string) (a store.Account, allowed bool, err error) {
	d, derr := s.domains.lookup(ctx, store.DomainOf(addr))
	if derr != nil && !isNotFound(derr) {
		return a, false, derr
	}
	var delims string
	if derr == nil {
		delims = d.RecipientDelimiter
	}
	a, err = store.RecipientAccount(ctx, s.accounts.lookup, delims, addr)
	return a, derr != nil || upstreamAllowed(d, ip), err
}
