package admin

import (
	"context"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// adminKnownIPs keeps administrators' known sign-in IPs in the store's
// known IPs (store.KnownIPs), as IMAP and webmail users' are, so that the
// admin lock-out lets an administrator's own IP through after a restart
// and on every node. Their keys are "admin:" and the email: a colon never
// appears in a normalised address (store.NormalizeAddress), so an
// administrator whose email is also a protected address keeps two
// separate sets, one per password.
type adminKnownIPs struct{ st store.KnownIPs }

const adminKnownPrefix = "admin:"

func (k adminKnownIPs) TouchKnownIP(ctx context.Context, email, ip string, seen, expired time.Time, keep int) error {
	return k.st.TouchKnownIP(ctx, adminKnownPrefix+email, ip, seen, expired, keep)
}

func (k adminKnownIPs) KnownIP(ctx context.Context, email, ip string) (time.Time, bool, error) {
	return k.st.KnownIP(ctx, adminKnownPrefix+email, ip)
}

func (k adminKnownIPs) ForgetKnownIPs(ctx context.Context, email string) error {
	return k.st.ForgetKnownIPs(ctx, adminKnownPrefix+email)
}

// PurgeKnownIPs purges every key's expired entries, users' too: the same
// rule for both.
func (k adminKnownIPs) PurgeKnownIPs(ctx context.Context, before time.Time) (int, error) {
	return k.st.PurgeKnownIPs(ctx, before)
}
