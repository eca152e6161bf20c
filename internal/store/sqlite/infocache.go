package sqlite

import (
	"container/list"
	"sync"

	"github.com/xtramail/xtramail/internal/message"
)

// infoCache keeps recently decoded message.Info values by body. Decoding
// the JSON of a body's Info was about a third of FETCH's cost under load
// (PROFILE-IMAP.md): clients fetch the same newest messages again and
// again. A body's Info never changes; an entry also holds the body's blob
// key, so that a body row that is not the one cached (an id given out
// again) is never served from it.
type infoCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *infoEntry, most recent first
	byID  map[int64]*list.Element
}

type infoEntry struct {
	id   int64
	key  string
	info *message.Info
}

// defaultInfoCache entries of a few KiB each: the newest messages of the
// mailboxes in use.
const defaultInfoCache = 4096

func newInfoCache(n int) *infoCache {
	return &infoCache{max: n, order: list.New(), byID: make(map[int64]*list.Element)}
}

// get returns the cached Info of body id stored under blob key, or nil.
func (c *infoCache) get(id int64, key string) *message.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return nil
	}
	e := el.Value.(*infoEntry)
	if e.key != key {
		c.order.Remove(el)
		delete(c.byID, id)
		return nil
	}
	c.order.MoveToFront(el)
	return e.info
}

func (c *infoCache) put(id int64, key string, info *message.Info) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		el.Value = &infoEntry{id, key, info}
		c.order.MoveToFront(el)
		return
	}
	c.byID[id] = c.order.PushFront(&infoEntry{id, key, info})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byID, last.Value.(*infoEntry).id)
	}
}

// drop forgets a body, when it is deleted.
func (c *infoCache) drop(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.Remove(el)
		delete(c.byID, id)
	}
}
