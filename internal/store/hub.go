package store

import "sync"

// Hub is the in-process change feed: backends publish after a commit and
// IMAP sessions or webmail pages subscribe per account. A PostgreSQL
// backend replaces it with LISTEN/NOTIFY across nodes.
type Hub struct {
	mu   sync.Mutex
	next int
	subs map[int64]map[int]func(Change)
}

// NewHub returns an empty feed.
func NewHub() *Hub {
	return &Hub{subs: make(map[int64]map[int]func(Change))}
}

// Subscribe implements Store.Subscribe.
func (h *Hub) Subscribe(accountID int64, fn func(Change)) (cancel func()) {
	h.mu.Lock()
	h.next++
	id := h.next
	m := h.subs[accountID]
	if m == nil {
		m = make(map[int]func(Change))
		h.subs[accountID] = m
	}
	m[id] = fn
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[accountID], id)
			if len(h.subs[accountID]) == 0 {
				delete(h.subs, accountID)
			}
			h.mu.Unlock()
		})
	}
}

// Publish calls their account's subscribers for each change. Backends
// call it before they acknowledge the writes that made the changes.
func (h *Hub) Publish(changes ...Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range changes {
		for _, fn := range h.subs[c.AccountID] {
			fn(c)
		}
	}
}
