package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/xtramail/xtramail/internal/store"
)

// group is one group transaction of the writer: the requests it runs,
// their answers, and what their changes tell once committed.
type group struct {
	s     *Store
	sqltx *sql.Tx
	t     *tx
	reqs  []*writeReq
	errs  []error
	ran   []int // the requests run in this transaction, in order
	// bare: every request run so far in this transaction ran outside a
	// savepoint and may run again (writeReq.rerun), so the next one may
	// run outside one too.
	bare bool

	changes     []store.Change
	trashed     []string
	index       []ftsRow
	logSubjects []logSubject

	syncs    []chan error // one per set of bodies being synced
	syncErrs []error
}

// commit runs a batch in one transaction and commits it.
//
// A request whose failure must not fail the others runs in a savepoint;
// but a savepoint makes SQLite copy every page the request changes
// before changing it (the sub-journal): 5% of the server's CPU under
// xtramail-bench submit, a tenth of the writer's. So a request runs
// outside one as long as every request before it in the transaction may
// run again (writeRerun); should it fail, the transaction is rolled back
// and those before it run again, in savepoints this time. The
// deliveries, nearly all of the writes under load, are such requests:
// they run first, and the others once no more requests join.
//
// The group cannot commit before its bodies are synced. With extend, the
// writer does not wait for that idle: it runs the requests queued
// meanwhile in the same transaction. Under xtramail-bench submit the wait
// was about a fifth of the writer's time, in which requests queued behind
// it; now they run, and share the group's commit (a WAL frame per page it
// changed, most of a small group's cost). It returns a request met then
// that must be a group of its own (writeAlone), to run next.
func (s *Store) commit(batch []*writeReq, extend bool) (alone *writeReq) {
	g := &group{s: s, reqs: batch, errs: make([]error, len(batch))}
	g.startSyncs(batch)
	if err := g.begin(); err != nil {
		g.fail(err)
		return nil
	}
	var others []int
	for i, r := range batch {
		if !r.rerun {
			others = append(others, i)
		} else if err := g.run(i); err != nil {
			g.fail(err)
			return nil
		}
	}
	// Requests join only while the batch's own bodies sync, so that a
	// stream of them cannot hold the commit back.
	extend = extend && !batch[0].alone && len(g.syncs) > 0
	for extend && len(g.reqs) < maxBatch {
		select {
		case err := <-g.syncs[0]: // the batch's own: joiners' come after
			g.syncErrs = append(g.syncErrs, err)
			g.syncs = g.syncs[1:]
			extend = false
		case r := <-s.reqs:
			if r.alone {
				alone = r
				extend = false
				continue
			}
			g.reqs = append(g.reqs, r)
			g.errs = append(g.errs, nil)
			g.startSyncs([]*writeReq{r})
			if !r.rerun {
				others = append(others, len(g.reqs)-1)
			} else if err := g.run(len(g.reqs) - 1); err != nil {
				g.fail(err)
				return alone
			}
		}
	}
	for _, i := range others {
		if err := g.run(i); err != nil {
			g.fail(err)
			return alone
		}
	}
	g.finish()
	return alone
}

// begin starts the group's transaction, or starts it again.
func (g *group) begin() error {
	sqltx, err := g.s.w.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	g.sqltx, g.t = sqltx, &tx{Tx: sqltx, stmts: g.s.stmts, clock: g.s.clock}
	g.bare = true
	g.ran = nil
	g.changes, g.trashed, g.index, g.logSubjects = nil, nil, nil, nil
	return nil
}

// run runs request i. The error is one that fails the whole group.
func (g *group) run(i int) error {
	r, t := g.reqs[i], g.t
	if err := r.ctx.Err(); err != nil {
		g.errs[i] = err
		return nil
	}
	g.ran = append(g.ran, i)
	bare := g.bare
	if !bare {
		if _, err := t.Exec("SAVEPOINT req"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
	}
	t.changes, t.trashed, t.index, t.logSubjects = t.changes[:0], t.trashed[:0], t.index[:0], t.logSubjects[:0]
	err := r.fn(t)
	switch {
	case err == nil:
		g.changes = append(g.changes, t.changes...)
		g.trashed = append(g.trashed, t.trashed...)
		g.index = append(g.index, t.index...)
		g.logSubjects = append(g.logSubjects, t.logSubjects...)
	case bare:
		// What it wrote is mixed with what the requests before it
		// wrote: all goes, and they run again. Its own answer stays the
		// one it gave, after them, as in a savepoint.
		g.errs[i] = err
		return g.restart()
	default:
		g.errs[i] = err
		if _, rerr := t.Exec("ROLLBACK TO req"); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
		}
	}
	if bare {
		g.bare = r.rerun
	} else if _, err := t.Exec("RELEASE req"); err != nil && g.errs[i] == nil {
		g.errs[i] = fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// restart rolls the transaction back after the last request run failed
// outside a savepoint, and runs those before it again, each in a
// savepoint, as every request after them will be.
func (g *group) restart() error {
	if err := g.sqltx.Rollback(); err != nil {
		return fmt.Errorf("roll back group: %w", err)
	}
	before := g.ran[:len(g.ran)-1]
	if err := g.begin(); err != nil {
		return err
	}
	g.bare = false
	for _, i := range before {
		if err := g.run(i); err != nil {
			return err
		}
	}
	return nil
}

// startSyncs starts making the bodies of rs durable.
func (g *group) startSyncs(rs []*writeReq) {
	var fns []func() error
	for _, r := range rs {
		if r.sync != nil {
			fns = append(fns, r.sync)
		}
	}
	if len(fns) == 0 {
		return
	}
	c := make(chan error, 1)
	go func() {
		var errs []error
		for _, fn := range fns {
			errs = append(errs, fn())
		}
		c <- errors.Join(errs...)
	}()
	g.syncs = append(g.syncs, c)
}

// waitSynced waits for every sync started; each is waited for whatever
// happens to the transaction.
func (g *group) waitSynced() error {
	for _, c := range g.syncs {
		g.syncErrs = append(g.syncErrs, <-c)
	}
	g.syncs = nil
	return errors.Join(g.syncErrs...)
}

// fail rolls the group back and answers every request with err.
func (g *group) fail(err error) {
	if g.sqltx != nil {
		g.sqltx.Rollback()
	}
	g.waitSynced()
	for _, r := range g.reqs {
		r.err <- err
	}
}

// finish indexes what the group stored, commits once its bodies are
// durable, and hands it to the syncer.
func (g *group) finish() {
	s, t := g.s, g.t
	if !slices.Contains(g.errs, nil) {
		// Nothing to commit: every request failed.
		g.sqltx.Rollback()
		g.waitSynced()
		for i, r := range g.reqs {
			r.err <- g.errs[i]
		}
		return
	}
	// The search index is written outside the savepoints: FTS5 writes
	// out what it holds in memory at each one.
	for _, row := range g.index {
		if err := t.insertFTS(row); err != nil {
			g.fail(fmt.Errorf("index message text: %w", err))
			return
		}
	}
	for _, ls := range g.logSubjects {
		if _, err := t.Exec(insertLogWords, ls.id, ls.subject); err != nil {
			g.fail(fmt.Errorf("index message log subject: %w", err))
			return
		}
	}
	// No commit record may reach the log before the bodies it names are
	// on disk.
	if err := g.waitSynced(); err != nil {
		g.fail(fmt.Errorf("store bodies: %w", err))
		return
	}
	// Numbered before COMMIT: from the moment a read can see the group,
	// WaitAnnounced waits for it.
	seq := s.commits.Add(1)
	if err := g.sqltx.Commit(); err != nil {
		for _, r := range g.reqs {
			r.err <- fmt.Errorf("commit: %w", err)
		}
		// Nothing to announce, but its number is passed in order.
		s.committed <- &committed{seq: seq}
		return
	}
	s.committed <- &committed{seq: seq, batch: g.reqs, errs: g.errs, changes: g.changes, trashed: g.trashed, index: g.index}
}
