package sqlite

import (
	"database/sql"
)

// The writer's statements are prepared once and kept (issue 13, speed):
// a statement that is not is compiled again by SQLite at every use, which
// was 12-17% of the single writer's CPU in the submission path (queue
// inserts and settles, sends, contacts, claims). hotQueries are prepared
// at Open; any other query the writer runs twice is prepared after that
// group commits, when the writer's one connection is free again (a
// statement prepared inside a transaction would die with it). The cache
// is bounded, so that queries made with varying text (IN lists) cannot
// grow it without limit; those past the bound keep being compiled.
const (
	// maxPrepared bounds the writer's kept statements.
	maxPrepared = 256
	// maxSeen bounds the queries counted while waiting for their second
	// use; the count starts over when it is reached.
	maxSeen = 1024
)

// stmtCache is the writer's statements. Only the writer goroutine uses
// it (and Close, once the writer has stopped).
type stmtCache struct {
	prepared map[string]*sql.Stmt
	seen     map[string]int // uses of queries not prepared yet
	wanted   []string       // used twice: to prepare after the commit
}

func newStmtCache(prepared map[string]*sql.Stmt) *stmtCache {
	return &stmtCache{prepared: prepared, seen: make(map[string]int)}
}

// stmt returns the prepared statement of query, nil when it has none
// yet (and counts the use).
func (c *stmtCache) stmt(query string) *sql.Stmt {
	if st, ok := c.prepared[query]; ok {
		return st
	}
	if len(c.prepared) >= maxPrepared {
		return nil
	}
	if len(c.seen) >= maxSeen {
		clear(c.seen)
	}
	c.seen[query]++
	if c.seen[query] == 2 {
		c.wanted = append(c.wanted, query)
	}
	return nil
}

// prepareWanted prepares the queries used twice, on db outside any
// transaction. A query that fails to prepare (it needs a table that a
// later statement of its request creates, say) is left to be compiled
// at each use.
func (c *stmtCache) prepareWanted(db *sql.DB) {
	for _, q := range c.wanted {
		delete(c.seen, q)
		if len(c.prepared) >= maxPrepared {
			continue
		}
		if st, err := db.Prepare(q); err == nil {
			c.prepared[q] = st
		}
	}
	c.wanted = c.wanted[:0]
}

func (c *stmtCache) close() []error {
	var errs []error
	for _, st := range c.prepared {
		errs = append(errs, st.Close())
	}
	return errs
}
