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
//
// Most Infos take a few KiB, but a hostile message's can take megabytes
// (message.Parse bounds one, not a few thousand), so the cache is bounded
// in bytes too, counted as the size of the Info's JSON.
type infoCache struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	bytes    int64
	order    *list.List // of *infoEntry, most recent first
	byID     map[int64]*list.Element
}

type infoEntry struct {
	id   int64
	key  string
	info *message.Info
	cost int64
}

// defaultInfoCache entries of a few KiB each: the newest messages of the
// mailboxes in use; at most defaultInfoCacheBytes of them.
const (
	defaultInfoCache      = 4096
	defaultInfoCacheBytes = 64 << 20
)

func newInfoCache(n int, maxBytes int64) *infoCache {
	return &infoCache{max: n, maxBytes: maxBytes, order: list.New(), byID: make(map[int64]*list.Element)}
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
		c.remove(el)
		return nil
	}
	c.order.MoveToFront(el)
	return e.info
}

// put caches info, whose JSON is cost bytes. An Info of more than a
// sixteenth of the byte bound is not kept: decoding it again is cheap
// next to the rest of the cache it would push out.
func (c *infoCache) put(id int64, key string, info *message.Info, cost int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.remove(el)
	}
	if int64(cost) > c.maxBytes/16 {
		return
	}
	c.byID[id] = c.order.PushFront(&infoEntry{id, key, info, int64(cost)})
	c.bytes += int64(cost)
	for c.order.Len() > c.max || c.bytes > c.maxBytes {
		c.remove(c.order.Back())
	}
}

func (c *infoCache) remove(el *list.Element) {
	e := el.Value.(*infoEntry)
	c.order.Remove(el)
	delete(c.byID, e.id)
	c.bytes -= e.cost
}

// drop forgets a body, when it is deleted.
func (c *infoCache) drop(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.remove(el)
	}
}
