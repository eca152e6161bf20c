package webmail

import "sync"

// pendingSet collects the folders changed since the stream last wrote.
type pendingSet struct {
	mu  sync.Mutex
	ids []int64
}

func newPendingSet() *pendingSet { return &pendingSet{} }

func (p *pendingSet) add(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.ids {
		if x == id {
			return
		}
	}
	if len(p.ids) < 64 {
		p.ids = append(p.ids, id)
	}
}

func (p *pendingSet) take() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.ids
	p.ids = nil
	return ids
}
