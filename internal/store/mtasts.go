package store

import (
	"context"
	"time"
)

// MTASTSPolicy is a recipient domain's MTA-STS policy as last fetched
// (RFC 8461 3.3): kept in the store rather than in a process's memory, so
// that a restart or another node keeps enforcing it until it expires, and
// an attacker who blocks the policy fetch or the TXT lookup after a
// restart cannot turn enforcement off (RFC 8461 10.2).
type MTASTSPolicy struct {
	Domain string // lower case, without a trailing dot
	// ID is the id= of the _mta-sts TXT record the policy was fetched
	// under; a different id makes the sender refresh (RFC 8461 3.1).
	ID string
	// Policy is the policy file as served; the mtasts package parses it.
	Policy  []byte
	Fetched time.Time
	// Expires is Fetched plus the policy's max_age: until then the policy
	// is used even when a refresh fails (RFC 8461 5.1).
	Expires time.Time
}

// MTASTSCache keeps recipient domains' MTA-STS policies for the outbound
// queue.
type MTASTSCache interface {
	// MTASTSPolicy returns the cached policy of a domain, expired or not,
	// ErrNotFound without one.
	MTASTSPolicy(ctx context.Context, domain string) (MTASTSPolicy, error)
	// SetMTASTSPolicy stores (replacing) a domain's policy, durably.
	SetMTASTSPolicy(ctx context.Context, p MTASTSPolicy) error
}
