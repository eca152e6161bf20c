package auth

// Slots returns how many computations the Hasher runs at once. Bulk work
// (an import hashing thousands of passwords) keeps to fewer, so that a
// sign-in always finds a slot free instead of queueing behind the batch.
func (h *Hasher) Slots() int { return cap(h.sem) }

// InUse returns how many of the slots are held at this moment (for tests
// and metrics: the figure is stale as soon as it is read).
func (h *Hasher) InUse() int { return len(h.sem) }
