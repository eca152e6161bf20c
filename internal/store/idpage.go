package store

// IDPage asks MessagesByID for one page of an account's messages.
type IDPage struct {
	MailboxID int64 // 0: every mailbox of the account
	Deleted   bool  // the deleted, still restorable ones instead of live ones
	AfterID   int64 // the last id of the previous page; 0 for the first
	Limit     int
}
