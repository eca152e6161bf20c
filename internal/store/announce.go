package store

import "context"

// Announcements bound what a reader can see to what the change feed has
// told. A backend makes a commit visible to reads as soon as it is
// written, but calls the feed's subscribers only once it is durable (the
// WAL fsync, Subscribe), so for a moment a read can show a state that no
// subscriber was told of. A front end that answers from a read and then
// decides "nothing changed" from the feed would leave its client without
// that change until some other change came (issue 11, the stale-snapshot
// class).
type Announcements interface {
	// WaitAnnounced returns once every change committed before the call
	// has been passed to its subscribers: whatever a read that ended
	// before the call saw, the feed has told. It returns at once when no
	// commit is on its way to durability, and ctx's error if ctx ends
	// first. A write's own return is such a point too: a write is
	// acknowledged only after every commit before it, its own group
	// included, was announced.
	WaitAnnounced(ctx context.Context) error
}
