package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/hostport"
	"github.com/xtramail/xtramail/internal/store"
)

func checkTenantName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", fieldErr("name", "a name is required")
	}
	if len(n) > 200 {
		return "", fieldErr("name", "at most 200 characters")
	}
	for _, r := range n {
		if r < ' ' || r == 0x7f {
			return "", fieldErr("name", "no control characters")
		}
	}
	return n, nil
}

// --- resellers

// AddReseller creates a reseller (provider only).
func (s *Service) AddReseller(ctx context.Context, p Principal, name string) (store.Reseller, error) {
	if err := s.allow(ctx, p, OpResellerAdd); err != nil {
		return store.Reseller{}, err
	}
	n, err := checkTenantName(name)
	if err != nil {
		return store.Reseller{}, err
	}
	r, err := s.st.CreateReseller(ctx, p.Scope(), n)
	if err != nil {
		return r, err
	}
	s.audit(ctx, p, tenant{reseller: r.ID}, OpResellerAdd, fmt.Sprintf("reseller %d %s", r.ID, r.Name), "")
	return r, nil
}

// Resellers lists the resellers p sees (a reseller admin: their own).
func (s *Service) Resellers(ctx context.Context, p Principal) ([]store.Reseller, error) {
	if err := s.allow(ctx, p, OpResellerList); err != nil {
		return nil, err
	}
	return s.st.Resellers(ctx, p.Scope())
}

// Reseller returns one reseller in p's scope.
func (s *Service) Reseller(ctx context.Context, p Principal, id int64) (store.Reseller, error) {
	if err := s.allow(ctx, p, OpResellerList); err != nil {
		return store.Reseller{}, err
	}
	r, err := s.st.Reseller(ctx, p.Scope(), id)
	return r, s.denied(ctx, p, OpResellerList, fmt.Sprintf("reseller %d", id), s.resellerExists(id), err)
}

// RemoveReseller removes a reseller without customers, with its admins.
func (s *Service) RemoveReseller(ctx context.Context, p Principal, id int64) error {
	if err := s.allow(ctx, p, OpResellerRemove); err != nil {
		return err
	}
	if err := s.st.DeleteReseller(ctx, p.Scope(), id); err != nil {
		return err
	}
	s.audit(ctx, p, tenant{reseller: id}, OpResellerRemove, fmt.Sprintf("reseller %d", id), "")
	return nil
}

func (s *Service) resellerExists(id int64) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := s.st.Reseller(ctx, store.AllScope(), id)
		return err == nil
	}
}

// --- customers

// AddCustomer creates a customer under a reseller, or under the provider
// with resellerID 0. A reseller admin's customers always go under their
// reseller (resellerID 0 means theirs).
func (s *Service) AddCustomer(ctx context.Context, p Principal, resellerID int64, name string) (store.Customer, error) {
	if err := s.allow(ctx, p, OpCustomerAdd); err != nil {
		return store.Customer{}, err
	}
	n, err := checkTenantName(name)
	if err != nil {
		return store.Customer{}, err
	}
	if p.Role == store.RoleReseller && resellerID == 0 {
		resellerID = p.ScopeID
	}
	c, err := s.st.CreateCustomer(ctx, p.Scope(), resellerID, n)
	if err != nil {
		return c, s.denied(ctx, p, OpCustomerAdd, fmt.Sprintf("reseller %d", resellerID), s.resellerExists(resellerID), err)
	}
	s.audit(ctx, p, tenant{reseller: c.ResellerID, customer: c.ID}, OpCustomerAdd, fmt.Sprintf("customer %d %s", c.ID, c.Name), "")
	return c, nil
}

// Customers lists the customers p sees.
func (s *Service) Customers(ctx context.Context, p Principal) ([]store.Customer, error) {
	if err := s.allow(ctx, p, OpCustomerList); err != nil {
		return nil, err
	}
	return s.st.Customers(ctx, p.Scope())
}

// Customer returns one customer in p's scope.
func (s *Service) Customer(ctx context.Context, p Principal, id int64) (store.Customer, error) {
	if err := s.allow(ctx, p, OpCustomerList); err != nil {
		return store.Customer{}, err
	}
	c, err := s.st.Customer(ctx, p.Scope(), id)
	return c, s.denied(ctx, p, OpCustomerList, fmt.Sprintf("customer %d", id), s.customerExists(id), err)
}

// RemoveCustomer removes a customer without domains, with its admins.
func (s *Service) RemoveCustomer(ctx context.Context, p Principal, id int64) error {
	if err := s.allow(ctx, p, OpCustomerRemove); err != nil {
		return err
	}
	t := s.customerTenant(ctx, id)
	if err := s.st.DeleteCustomer(ctx, p.Scope(), id); err != nil {
		return s.denied(ctx, p, OpCustomerRemove, fmt.Sprintf("customer %d", id), s.customerExists(id), err)
	}
	s.audit(ctx, p, t, OpCustomerRemove, fmt.Sprintf("customer %d", id), "")
	return nil
}

func (s *Service) customerExists(id int64) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := s.st.Customer(ctx, store.AllScope(), id)
		return err == nil
	}
}

// --- domains

func checkRetention(days int) error {
	if days < 1 || days > 3650 {
		return fieldErr("retention_days", "between 1 and 3650 days")
	}
	return nil
}

// AddDomain protects a domain for a customer in p's scope. customerID 0
// means the default customer (provider and CLI only). retentionDays 0
// means store.DefaultRetentionDays.
func (s *Service) AddDomain(ctx context.Context, p Principal, customerID int64, name string, retentionDays int) (store.Domain, error) {
	if err := s.allow(ctx, p, OpDomainAdd); err != nil {
		return store.Domain{}, err
	}
	n, err := store.NormalizeDomain(name)
	if err != nil {
		return store.Domain{}, fieldErr("name", "%q is not a domain name", name)
	}
	if retentionDays == 0 {
		retentionDays = store.DefaultRetentionDays
	}
	if err := checkRetention(retentionDays); err != nil {
		return store.Domain{}, err
	}
	if customerID == 0 {
		if p.Scope().Kind != store.ScopeAll {
			return store.Domain{}, fieldErr("customer_id", "name the customer")
		}
		customerID = store.DefaultCustomerID
	}
	d, err := s.st.AddDomain(ctx, p.Scope(), customerID, n, retentionDays)
	if err != nil {
		return d, s.denied(ctx, p, OpDomainAdd, fmt.Sprintf("customer %d", customerID), s.customerExists(customerID), err)
	}
	s.audit(ctx, p, s.customerTenant(ctx, customerID), OpDomainAdd, "domain "+d.Name, fmt.Sprintf("customer %d, retention %d days", customerID, d.RetentionDays))
	return d, nil
}

// Domains lists the domains p sees; customerID > 0 narrows to one
// customer.
func (s *Service) Domains(ctx context.Context, p Principal, customerID int64) ([]store.Domain, error) {
	if err := s.allow(ctx, p, OpDomainList); err != nil {
		return nil, err
	}
	ds, err := s.st.ScopedDomains(ctx, p.Scope(), customerID)
	return ds, s.denied(ctx, p, OpDomainList, fmt.Sprintf("customer %d", customerID), s.customerExists(customerID), err)
}

// Domain returns one domain in p's scope.
func (s *Service) Domain(ctx context.Context, p Principal, name string) (store.Domain, error) {
	if err := s.allow(ctx, p, OpDomainList); err != nil {
		return store.Domain{}, err
	}
	d, err := s.st.ScopedDomain(ctx, p.Scope(), name)
	return d, s.denied(ctx, p, OpDomainList, "domain "+name, s.domainExists(name), err)
}

func (s *Service) domainExists(name string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := s.st.ScopedDomain(ctx, store.AllScope(), name)
		return err == nil
	}
}

// SetDomainSettings changes a domain's settings (all of them: read them
// with Domain first to change one).
func (s *Service) SetDomainSettings(ctx context.Context, p Principal, name string, set store.DomainSettings) error {
	if err := s.allow(ctx, p, OpDomainSettings); err != nil {
		return err
	}
	if err := checkRetention(set.RetentionDays); err != nil {
		return err
	}
	ips := make([]string, 0, len(set.AllowedIPs))
	for _, ip := range set.AllowedIPs {
		ip = strings.TrimSpace(ip)
		if ip == "" {
			continue
		}
		if pf, err := netip.ParsePrefix(ip); err == nil {
			ips = append(ips, pf.Masked().String())
		} else if a, err := netip.ParseAddr(ip); err == nil {
			ips = append(ips, a.String())
		} else {
			return fieldErr("allowed_ips", "%q is not an IP address or CIDR prefix", ip)
		}
	}
	set.AllowedIPs = ips
	set.RelayHost = strings.TrimSpace(set.RelayHost)
	if set.RelayHost != "" {
		// Read as the queue reads it (hostport.Parse), and kept in the
		// form it writes: a port that is no port was taken and the
		// whole value then tried as a host on port 25 (probe 38c).
		host, port, err := hostport.Parse(set.RelayHost)
		if err != nil {
			return fieldErr("relay_host", "%q: %v (want a host name or IP address, optionally :port)", set.RelayHost, err)
		}
		set.RelayHost = hostport.String(host, port)
	}
	if err := store.CheckRecipientDelimiter(set.RecipientDelimiter); err != nil {
		return fieldErr("recipient_delimiter", "%q: use one or more of %s, each once, or nothing for no sub-addresses",
			set.RecipientDelimiter, strings.Join(strings.Split(store.RecipientDelimiterChars, ""), " "))
	}
	d, err := s.st.ScopedDomain(ctx, p.Scope(), name)
	if err == nil {
		err = s.st.SetDomainSettings(ctx, p.Scope(), d.Name, set)
	}
	if err != nil {
		return s.denied(ctx, p, OpDomainSettings, "domain "+name, s.domainExists(name), err)
	}
	s.audit(ctx, p, s.customerTenant(ctx, d.CustomerID), OpDomainSettings, "domain "+d.Name,
		fmt.Sprintf("retention %d days, whole domain %t, allowed IPs %q, relay %q, continuity only %t, recipient delimiter %q",
			set.RetentionDays, set.WholeDomain, strings.Join(set.AllowedIPs, " "), set.RelayHost, set.ContinuityOnly, set.RecipientDelimiter))
	return nil
}

// RemoveDomain stops protecting a domain that has no addresses left.
func (s *Service) RemoveDomain(ctx context.Context, p Principal, name string) error {
	if err := s.allow(ctx, p, OpDomainRemove); err != nil {
		return err
	}
	d, err := s.st.ScopedDomain(ctx, p.Scope(), name)
	if err == nil {
		err = s.st.RemoveDomain(ctx, p.Scope(), d.Name)
	}
	if err != nil {
		return s.denied(ctx, p, OpDomainRemove, "domain "+name, s.domainExists(name), err)
	}
	s.audit(ctx, p, s.customerTenant(ctx, d.CustomerID), OpDomainRemove, "domain "+d.Name, "")
	return nil
}

// DKIMState is where a DKIM key stands in a rotation.
type DKIMState string

const (
	// DKIMSigning: the key signs the domain's mail; its record must stay
	// published.
	DKIMSigning DKIMState = "signing"
	// DKIMPending: the key waits for its record to be seen in DNS
	// (dkim.ActivatePending), then signs; the signing key, if any, signs
	// till then.
	DKIMPending DKIMState = "pending"
	// DKIMRetired: a newer key replaced it; its record stays published
	// until RemoveAfter, for mail signed with it still on its way.
	DKIMRetired DKIMState = "retired"
)

// DKIM is a domain's DKIM key as the console and API show it.
type DKIM struct {
	Selector   string
	State      DKIMState
	RecordName string // the DNS name of the TXT record
	// Algorithm and Record (the TXT record to publish) are of signing
	// and pending keys: a retired key's private key is not kept, and its
	// record is only to be removed.
	Algorithm string
	Record    string
	Created   time.Time // signing and pending keys: when it was made
	Retired   time.Time // retired keys: when the next key replaced it
	// RemoveAfter is when a retired key's record may be removed
	// (dkim.RetiredRecordKeep after Retired).
	RemoveAfter time.Time
}

// GenerateDKIM makes a new DKIM key for a domain ("ed25519" or "rsa";
// selector "" picks one from the date) and returns the DNS record to
// publish. The key is pending: the domain's key, if any, signs until the
// record is seen in DNS (a key signing before would fail every
// signature), and a pending key made before is replaced.
func (s *Service) GenerateDKIM(ctx context.Context, p Principal, domain, algorithm, selector string) (DKIM, error) {
	if err := s.allow(ctx, p, OpDomainDKIM); err != nil {
		return DKIM{}, err
	}
	if algorithm == "" {
		algorithm = "ed25519"
	}
	if algorithm != "ed25519" && algorithm != "rsa" {
		return DKIM{}, fieldErr("algorithm", "ed25519 or rsa")
	}
	if selector != "" {
		if _, err := store.NormalizeDomain(selector); err != nil {
			return DKIM{}, fieldErr("selector", "letters, digits and hyphens")
		}
	}
	d, err := s.st.ScopedDomain(ctx, p.Scope(), domain)
	if err != nil {
		return DKIM{}, s.denied(ctx, p, OpDomainDKIM, "domain "+domain, s.domainExists(domain), err)
	}
	cur, err := s.st.DKIMKey(ctx, d.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return DKIM{}, err
	}
	if selector == "" {
		// After the newest name in use: a pending key's is newer.
		last := cur.Selector
		pending, err := s.st.PendingDKIMKeys(ctx, d.Name)
		if err != nil {
			return DKIM{}, err
		}
		if len(pending) > 0 {
			last = pending[0].Selector
		}
		selector = dkim.NewSelector(s.now(), last)
	}
	if selector == cur.Selector {
		return DKIM{}, fieldErr("selector", "a name other than the active key's")
	}
	k, err := dkim.GenerateKey(algorithm, selector, s.now())
	if err != nil {
		return DKIM{}, err
	}
	if err := s.st.SetPendingDKIMKey(ctx, d.Name, k); err != nil {
		return DKIM{}, err
	}
	s.audit(ctx, p, s.customerTenant(ctx, d.CustomerID), OpDomainDKIM, "domain "+d.Name, "new "+algorithm+" key "+k.Selector+" (pending)")
	return dkimView(k, d.Name, DKIMPending)
}

// DKIMKeys lists a domain's DKIM keys with the records they need: the
// signing key, then the pending one, then the retired ones, newest
// first; none is an empty list.
func (s *Service) DKIMKeys(ctx context.Context, p Principal, domain string) ([]DKIM, error) {
	d, err := s.Domain(ctx, p, domain)
	if err != nil {
		return nil, err
	}
	var out []DKIM
	k, err := s.st.DKIMKey(ctx, d.Name)
	switch {
	case err == nil:
		v, err := dkimView(k, d.Name, DKIMSigning)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	pending, err := s.st.PendingDKIMKeys(ctx, d.Name)
	if err != nil {
		return nil, err
	}
	for _, k := range pending {
		v, err := dkimView(k, d.Name, DKIMPending)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	retired, err := s.st.RetiredDKIMKeys(ctx, d.Name)
	if err != nil {
		return nil, err
	}
	for _, r := range retired {
		out = append(out, DKIM{Selector: r.Selector, State: DKIMRetired, Retired: r.Retired,
			RecordName:  dkim.RecordName(store.DKIMKey{Selector: r.Selector}, d.Name),
			RemoveAfter: r.Retired.Add(dkim.RetiredRecordKeep)})
	}
	return out, nil
}

func dkimView(k store.DKIMKey, domain string, state DKIMState) (DKIM, error) {
	rec, err := dkim.Record(k)
	if err != nil {
		return DKIM{}, fmt.Errorf("dkim record of %s key %s: %w", domain, k.Selector, err)
	}
	return DKIM{Selector: k.Selector, State: state, Algorithm: k.Algorithm, RecordName: dkim.RecordName(k, domain), Record: rec, Created: k.Created}, nil
}
