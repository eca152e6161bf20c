package store

import "context"

// SharedRange is a range of a new draft version's body that holds the
// same bytes as a range of the version it replaces: a file kept from one
// version to the next, copied still encoded.
type SharedRange struct {
	Off, Len int64 // in the new body
	SrcOff   int64 // in the replaced draft's body
}

// DraftSharing lets a draft's new version keep the bytes it shares with
// the version it replaces where they are, instead of writing them again:
// an autosave of a draft with a large file writes its text, not the file.
type DraftSharing interface {
	// SaveDraftSharing is SaveDraft (replaces must name a live draft of
	// the account's Drafts), except that the ranges shared of the new
	// body are not written again: they are taken from the replaced
	// draft's stored body, which must hold the same bytes there (the
	// caller copied them from it; d.Info describes the whole new body).
	// d.Body is read whole and only the other bytes are stored. Ranges
	// must be in order, not overlap and lie inside both bodies, else
	// ErrInvalid. The bytes stay stored while any body refers to them:
	// expunging, purging or replacing one version never loses another's,
	// and a crash at any moment keeps every acknowledged version whole.
	SaveDraftSharing(ctx context.Context, accountID, replaces int64, d *Delivery, shared []SharedRange) (Delivered, error)
}
