package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

func (s *Service) accountExists(address string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := s.st.ScopedAccount(ctx, store.AllScope(), address)
		return err == nil
	}
}

// hashAll hashes passwords ("" stays "") through the shared Hasher, in
// bulkHashWorkers at once.
func (s *Service) hashAll(ctx context.Context, passwords []string) ([]string, []error) {
	return s.hashAllWith(ctx, passwords, s.hasher.Params())
}

// hashAllWith is hashAll with other parameters: auth.GeneratedParams for
// passwords generated here.
func (s *Service) hashAllWith(ctx context.Context, passwords []string, params auth.Params) ([]string, []error) {
	jobs := make([]hashJob, len(passwords))
	for i, pw := range passwords {
		jobs[i] = hashJob{password: pw, params: params}
	}
	s.hashJobs(ctx, jobs)
	hashes := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		hashes[i], errs[i] = j.hash, j.err
	}
	return hashes, errs
}

// hashJob is one password of a bulk operation to hash with params; hash
// or err is its outcome ("" stays "").
type hashJob struct {
	password string
	params   auth.Params
	hash     string
	err      error
}

// bulkHashWorkers is how many hashes a bulk operation (an import, a
// batch of generated passwords) runs at once: one fewer than the shared
// Hasher's slots (and than the cores), at least one. The slots are a FIFO
// semaphore that sign-ins share; a batch that took all of them would
// make every IMAP or console sign-in wait behind the hash queued before
// it, while with one slot always left over a sign-in starts at once
// (issue 15: 10,000 addresses imported while users keep signing in).
func (s *Service) bulkHashWorkers() int {
	return max(1, min(s.hasher.Slots(), runtime.NumCPU())-1)
}

// hashJobs runs jobs through the shared Hasher, bulkHashWorkers at once.
func (s *Service) hashJobs(ctx context.Context, jobs []hashJob) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(s.bulkHashWorkers(), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				jobs[i].hash, jobs[i].err = s.hasher.HashWith(ctx, jobs[i].password, jobs[i].params)
			}
		}()
	}
	for i := range jobs {
		if jobs[i].password != "" {
			work <- i
		}
	}
	close(work)
	wg.Wait()
}

// AddAddress protects an address of a domain in p's scope. An empty
// password leaves it without one (no sign-in until set).
func (s *Service) AddAddress(ctx context.Context, p Principal, address, password string, enabled bool) (store.Account, error) {
	if err := s.allow(ctx, p, OpAddressAdd); err != nil {
		return store.Account{}, err
	}
	addr, err := store.NormalizeAddress(address)
	if err != nil {
		return store.Account{}, fieldErr("address", "%q is not an email address", address)
	}
	var hash string
	if password != "" {
		if err := CheckPassword(addr, password); err != nil {
			return store.Account{}, err
		}
		if hash, err = s.hasher.Hash(ctx, password); err != nil {
			return store.Account{}, fmt.Errorf("hash password of %s: %w", addr, err)
		}
	}
	accts, errs, err := s.st.AddAccounts(ctx, p.Scope(), []store.NewAccount{{Address: addr, PasswordHash: hash, Enabled: enabled}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		dom := store.DomainOf(addr)
		return store.Account{}, s.denied(ctx, p, OpAddressAdd, "domain "+dom, s.domainExists(dom), err)
	}
	a := accts[0]
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), OpAddressAdd, "address "+a.Address,
		fmt.Sprintf("enabled %t, password set %t", a.Enabled, hash != ""))
	return a, nil
}

// Addresses lists the addresses p sees, by address (q.After is the
// cursor: the last address of the previous page).
func (s *Service) Addresses(ctx context.Context, p Principal, q store.AccountQuery) ([]store.Account, error) {
	if err := s.allow(ctx, p, OpAddressList); err != nil {
		return nil, err
	}
	as, err := s.st.ScopedAccounts(ctx, p.Scope(), q)
	return as, s.denied(ctx, p, OpAddressList, "domain "+q.Domain, s.domainExists(q.Domain), err)
}

// Address returns one address in p's scope.
func (s *Service) Address(ctx context.Context, p Principal, address string) (store.Account, error) {
	if err := s.allow(ctx, p, OpAddressList); err != nil {
		return store.Account{}, err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	return a, s.denied(ctx, p, OpAddressList, "address "+address, s.accountExists(address), err)
}

// SetAddressEnabled turns continuity on or off for an address: off
// refuses its copies and its sign-ins (and ends its IMAP sessions).
func (s *Service) SetAddressEnabled(ctx context.Context, p Principal, address string, on bool) error {
	op := OpAddressDisable
	if on {
		op = OpAddressEnable
	}
	if err := s.allow(ctx, p, op); err != nil {
		return err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err == nil {
		err = s.st.SetAccountEnabled(ctx, p.Scope(), a.Address, on)
	}
	if err != nil {
		return s.denied(ctx, p, op, "address "+address, s.accountExists(address), err)
	}
	s.forget(a.Address)
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), op, "address "+a.Address, "")
	return nil
}

// SetAddressesEnabled is SetAddressEnabled for many addresses (the
// console's bulk enable); errs[i] is addresses[i]'s error. All are
// looked up first (inScope): when one is unknown or outside p's scope,
// none is changed, and errs holds the refused ones' errors only.
func (s *Service) SetAddressesEnabled(ctx context.Context, p Principal, addresses []string, on bool) []error {
	op := OpAddressDisable
	if on {
		op = OpAddressEnable
	}
	if err := s.allow(ctx, p, op); err != nil {
		errs := make([]error, len(addresses))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if errs, refused := s.inScope(ctx, p, op, addresses); refused {
		return errs
	}
	errs := make([]error, len(addresses))
	for i, a := range addresses {
		errs[i] = s.SetAddressEnabled(ctx, p, a, on)
	}
	return errs
}

// inScope looks every address of a bulk change up in p's scope before
// anything changes: when one is unknown or outside it (audited as a
// cross-tenant attempt), the request is refused whole, so that its 404
// never leaves part of it done. errs[i] is addresses[i]'s error; refused
// says whether any has one.
func (s *Service) inScope(ctx context.Context, p Principal, op string, addresses []string) (errs []error, refused bool) {
	errs = make([]error, len(addresses))
	for i, addr := range addresses {
		if _, err := s.st.ScopedAccount(ctx, p.Scope(), addr); err != nil {
			errs[i], refused = s.denied(ctx, p, op, "address "+addr, s.accountExists(addr), err), true
		}
	}
	return errs, refused
}

// SetPassword sets an address's password under the policy.
func (s *Service) SetPassword(ctx context.Context, p Principal, address, password string) error {
	if err := s.allow(ctx, p, OpAddressPass); err != nil {
		return err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err != nil {
		return s.denied(ctx, p, OpAddressPass, "address "+address, s.accountExists(address), err)
	}
	if err := CheckPassword(a.Address, password); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password of %s: %w", a.Address, err)
	}
	if err := s.st.SetAccountPassword(ctx, p.Scope(), a.Address, hash); err != nil {
		return err
	}
	s.forget(a.Address)
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), OpAddressPass, "address "+a.Address, "set")
	return nil
}

// GeneratedPassword is a password made by GeneratePasswords, shown once.
type GeneratedPassword struct {
	Address  string
	Password string // empty when Err is set
	Err      error
}

// passwordBatch is how many generated passwords are hashed and stored
// together: one round of hashing through the shared Hasher's slots, then
// one durable store transaction holding the passwords and their audit
// records (a few hundred rows commit in about the time of one, where
// one write per password and one per audit record made 20,000 commits
// of 10,000 addresses).
const passwordBatch = 250

// GeneratePasswords gives each address a new random password and
// returns them (the only time they can be read: offer them as CSV). All
// are looked up first (inScope): when one is unknown or outside p's
// scope, no password is set, the error matches store.ErrNotFound and the
// refused rows carry theirs (a request mixing another tenant's address
// in must not change the others' passwords and then lose them in its
// 404). Addresses are done in batches, each wholly or not at all; when
// the store fails, the returned error says so, the rows of the batches
// done before keep their passwords (set and returned) and the others
// carry the error.
func (s *Service) GeneratePasswords(ctx context.Context, p Principal, addresses []string) ([]GeneratedPassword, error) {
	if err := s.allow(ctx, p, OpAddressPass); err != nil {
		return nil, err
	}
	out := make([]GeneratedPassword, len(addresses))
	for i, addr := range addresses {
		out[i].Address = addr
	}
	if errs, refused := s.inScope(ctx, p, OpAddressPass, addresses); refused {
		for i := range out {
			out[i].Err = errs[i]
		}
		return out, fmt.Errorf("generate passwords: an address is unknown or another tenant's: %w", store.ErrNotFound)
	}
	for from := 0; from < len(out); from += passwordBatch {
		batch := out[from:min(from+passwordBatch, len(out))]
		if err := s.generateBatch(ctx, p, batch); err != nil {
			for i := from; i < len(out); i++ {
				if out[i].Password == "" && out[i].Err == nil {
					out[i].Err = err
				}
			}
			return out, fmt.Errorf("generate passwords: %w", err)
		}
	}
	return out, nil
}

// generateBatch makes, hashes and stores the passwords of one batch,
// setting each row's Password or Err; the error is the batch's as a
// whole (nothing of it stored).
func (s *Service) generateBatch(ctx context.Context, p Principal, batch []GeneratedPassword) error {
	pws := make([]string, len(batch))
	for i := range batch {
		addr, err := store.NormalizeAddress(batch[i].Address)
		if err != nil {
			batch[i].Err = fmt.Errorf("address %q: %w", batch[i].Address, store.ErrNotFound)
			continue
		}
		batch[i].Address, pws[i] = addr, GeneratePassword()
	}
	// High-entropy secrets: the cheap parameters (auth.GeneratedParams).
	hashes, herrs := s.hashAllWith(ctx, pws, auth.GeneratedParams())
	var rows []store.AccountPassword
	var idx []int
	for i := range batch {
		if batch[i].Err != nil {
			continue
		}
		if herrs[i] != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			batch[i].Err = fmt.Errorf("hash password of %s: %w", batch[i].Address, herrs[i])
			continue
		}
		rows = append(rows, store.AccountPassword{Address: batch[i].Address, PasswordHash: hashes[i],
			// The store places the record under the address's customer.
			Audit: s.auditRecord(p, tenant{}, OpAddressPass, "address "+batch[i].Address, "generated")})
		idx = append(idx, i)
	}
	if len(rows) == 0 {
		return nil
	}
	errs, err := s.st.SetAccountPasswords(ctx, p.Scope(), rows)
	if err != nil {
		return fmt.Errorf("store %d passwords: %w", len(rows), err)
	}
	for k, i := range idx {
		addr := batch[i].Address
		if errs[k] != nil {
			batch[i].Err = s.denied(ctx, p, OpAddressPass, "address "+addr, s.accountExists(addr), errs[k])
			continue
		}
		s.forget(addr)
		batch[i].Password = pws[i]
	}
	return nil
}

// RemoveAddress deletes an address with all its messages.
func (s *Service) RemoveAddress(ctx context.Context, p Principal, address string) error {
	if err := s.allow(ctx, p, OpAddressRemove); err != nil {
		return err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err == nil {
		err = s.st.RemoveAccount(ctx, p.Scope(), a.Address)
	}
	if err != nil {
		return s.denied(ctx, p, OpAddressRemove, "address "+address, s.accountExists(address), err)
	}
	s.forget(a.Address)
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), OpAddressRemove, "address "+a.Address, "")
	return nil
}

// MessageCount counts an address's messages (live ones, every mailbox),
// for a confirmation before RemoveAddress.
func (s *Service) MessageCount(ctx context.Context, p Principal, address string) (int, error) {
	a, err := s.Address(ctx, p, address)
	if err != nil {
		return 0, err
	}
	mbs, err := s.st.Mailboxes(ctx, a.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, mb := range mbs {
		n += int(mb.Messages)
	}
	return n, nil
}

// --- one-time sign-in links

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateSignInLink makes a one-time sign-in token for a user, valid for
// Options.SignInLinkTTL; only its hash is stored. The caller builds the
// link (the webmail's sign-in URL with the token) and sends or shows it.
func (s *Service) CreateSignInLink(ctx context.Context, p Principal, address string) (token string, expires time.Time, err error) {
	if err := s.allow(ctx, p, OpSignInLink); err != nil {
		return "", time.Time{}, err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err != nil {
		return "", time.Time{}, s.denied(ctx, p, OpSignInLink, "address "+address, s.accountExists(address), err)
	}
	if !a.Enabled {
		return "", time.Time{}, fieldErr("address", "%s is disabled: enable it first", a.Address)
	}
	token = auth.NewToken()
	expires = s.now().Add(s.opts.SignInLinkTTL)
	if err := s.st.CreateSignInLink(ctx, p.Scope(), a.Address, tokenHash(token), expires); err != nil {
		return "", time.Time{}, err
	}
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), OpSignInLink, "address "+a.Address, "expires "+expires.UTC().Format(time.RFC3339))
	return token, expires, nil
}

// ConsumeSignInLink returns the account of a sign-in link token, once:
// the webmail then starts a user session for it. An unknown, used or
// expired token, or a disabled account, is ErrUnauthenticated.
func (s *Service) ConsumeSignInLink(ctx context.Context, token string) (store.Account, error) {
	if token == "" || len(token) > 256 {
		return store.Account{}, fmt.Errorf("sign-in link: %w", ErrUnauthenticated)
	}
	a, err := s.st.ConsumeSignInLink(ctx, tokenHash(token), s.now())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrReplay):
		return store.Account{}, fmt.Errorf("sign-in link: %w: %w", ErrUnauthenticated, err)
	case err != nil:
		return store.Account{}, err
	case !a.Enabled:
		return store.Account{}, fmt.Errorf("sign-in link for disabled %s: %w", a.Address, ErrUnauthenticated)
	}
	return a, nil
}
