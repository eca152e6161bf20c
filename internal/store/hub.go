package store

import "sync"

// Hub is the in-process change feed: backends publish after a commit and
// IMAP sessions or webmail pages subscribe per account. A PostgreSQL
// backend replaces it with LISTEN/NOTIFY across nodes.
type Hub struct {
	mu   sync.Mutex
	subs map[int64]map[chan Change]struct{}
}

// NewHub returns an empty feed.
func NewHub() *Hub {
	return &Hub{subs: make(map[int64]map[chan Change]struct{})}
}

// hubBuffer is how many events a subscriber may lag before it starts to
// miss them; it then re-reads its mailbox on the next event it gets.
const hubBuffer = 64

// Subscribe implements Store.Subscribe.
func (h *Hub) Subscribe(accountID int64) (<-chan Change, func()) {
	ch := make(chan Change, hubBuffer)
	h.mu.Lock()
	m := h.subs[accountID]
	if m == nil {
		m = make(map[chan Change]struct{})
		h.subs[accountID] = m
	}
	m[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[accountID], ch)
			if len(h.subs[accountID]) == 0 {
				delete(h.subs, accountID)
			}
			h.mu.Unlock()
		})
	}
}

// Publish sends changes to their account's subscribers without blocking.
func (h *Hub) Publish(changes ...Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range changes {
		for ch := range h.subs[c.AccountID] {
			select {
			case ch <- c:
			default:
			}
		}
	}
}
