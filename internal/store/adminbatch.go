package store

import "context"

// AccountPassword is one row of AdminBatch.SetAccountPasswords.
type AccountPassword struct {
	Address      string
	PasswordHash string
	// Audit is appended in the same transaction when the password is
	// set (not when the row fails). Its ResellerID and CustomerID are
	// filled in by the store from the account's domain, so that the
	// caller need not look the tree up once per address.
	Audit AuditRecord
}

// AdminBatch holds administrative writes made many at a time, and
// checks an administrator's ids against the whole tree in one query.
type AdminBatch interface {
	// SetAccountPasswords sets the password of each row's address in sc
	// and appends each changed row's audit record, all in one durable
	// transaction (a bulk password generation writes a few hundred rows
	// per call instead of two transactions per address). errs[i] is
	// rows[i]'s error: ErrNotFound for an address outside sc or unknown
	// (nothing of that row is written). err fails the whole call:
	// nothing of any row is written.
	SetAccountPasswords(ctx context.Context, sc Scope, rows []AccountPassword) (errs []error, err error)

	// QueueEntriesOutside returns, in one query, those of ids that are
	// outbound queue entries outside sc: ids an administrator of sc
	// named that belong to another tenant (a cross-tenant attempt, to
	// audit). Ids that are no queue entry at all are not returned.
	QueueEntriesOutside(ctx context.Context, sc Scope, ids []int64) ([]int64, error)
}
