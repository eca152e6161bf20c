// Package sqlite is the embedded store backend: metadata, the message log
// and full-text index in one SQLite database (WAL, fsynced before each
// answer), and message bodies in a blob.Store.
//
// All writes go through one goroutine that commits in groups: it takes
// every request queued while the previous commit was syncing, runs each in
// its own savepoint (or outside one where it may run again: group.go) and
// commits once. A second goroutine then fsyncs the
// WAL and answers them all, while the writer already runs the next group:
// SQLite runs with synchronous=NORMAL (no fsync in COMMIT) and durability
// comes from that fsync, so one fsync is shared by every client waiting for
// its 250 and never stalls the writer. Reads use a separate read-only pool
// and never wait for the writer.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xtramail/xtramail/internal/blob"
	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/store"
)

// readConns is the size of the read-only pool.
const readConns = 8

// readCacheKiB bounds each read connection's page cache (Open).
const readCacheKiB = 16 << 10

// writeCacheKiB bounds the writer connection's page cache (Open).
const writeCacheKiB = 64 << 10

// maxBatch bounds one group commit so that a flood of requests cannot make
// a transaction (and the WAL) grow without limit.
const maxBatch = 256

// Store implements store.Store.
type Store struct {
	w     *sql.DB // single connection, owned by the writer goroutine
	r     *sql.DB // read-only pool
	blobs blob.Store
	hub   *store.Hub
	log   *slog.Logger

	maxMailboxes int // Options.MaxMailboxes

	stmts *stmtCache // statements of the writer's connection
	vocab vocabulary
	// unindexed is the highest id of the bodies stored before the
	// search index that are not indexed yet (0: none); see reindex.
	unindexed atomic.Int64
	bg        sync.WaitGroup // background work that Close waits for
	infos     *infoCache     // decoded Info of recently read bodies

	readMu    sync.Mutex
	readStmts map[string]*sql.Stmt // read statements, prepared on first use

	wal       *walSyncer
	reqs      chan *writeReq
	committed chan *committed // groups waiting for the WAL fsync
	closing   chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// sendMu orders every send on reqs before the close of closing:
	// enqueue sends under its read lock while stopped is false, and
	// Close sets stopped under the write lock first. So the writer,
	// which answers what is queued when closing is closed and then
	// returns, never leaves a request behind that no one will answer.
	sendMu  sync.RWMutex
	stopped bool

	// commits numbers the group transactions handed to COMMIT, in
	// order; announced is the last whose changes the feed has passed on
	// (or that failed), and announcedCh is closed when it moves
	// (WaitAnnounced). announced is written under annMu, and read
	// without it by WaitAnnounced's fast path.
	commits     atomic.Uint64
	annMu       sync.Mutex
	announced   atomic.Uint64
	announcedCh chan struct{}

	// The pending deletes' timer (pending.go): the earliest due a
	// DeleteLater added, and its wake-up.
	pendingMu   sync.Mutex
	pendingNext time.Time
	pendingWake chan struct{}
	clock       clock.Clock // when pending deletes fall due; the outbox's times
}

var _ store.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	Hub    *store.Hub // shared change feed; a new one when nil
	// SyncDelay makes every WAL fsync last at least this long: tests
	// play a slow disk with it, on which a commit stays visible to reads
	// and unannounced for that long (store.Announcements).
	SyncDelay time.Duration
	// Clock tells when pending deletes fall due (ExpungeDue's now and
	// the wait for the next one) and the outbox's times (a held
	// message's lease, read by CancelSend, is taken on the caller's
	// clock by ClaimSends); the system clock when nil. Tests move
	// a clocktest.Clock through an undo window instead of sleeping.
	Clock clock.Clock
	// MaxMailboxes bounds the mailboxes of each account (CreateMailbox);
	// 0 means store.DefaultMaxMailboxes.
	MaxMailboxes int
	// syncDir, when set, syncs the WAL's directory instead of syncDir:
	// tests see from it when the directory is synced.
	syncDir func(dir string) error
}

// Open opens (creating if needed) the database at path with bodies in
// blobs.
func Open(path string, blobs blob.Store, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Hub == nil {
		opts.Hub = store.NewHub()
	}
	if opts.syncDir == nil {
		opts.syncDir = syncDir
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("database dir: %w", err)
	}
	if err := privateDatabase(path, opts.Logger); err != nil {
		return nil, err
	}
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	// In a URI file name, '?' and '#' would end the path.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	// temp_store(2): each request of a group runs in a savepoint, whose
	// sub-journal is otherwise a temporary file written page by page on
	// the one writer goroutine (12% of CPU in xtramail-bench submit); in
	// memory it is bounded by the pages one request changes.
	//
	// wal_autocheckpoint(8000): the hot pages of a delivery (the last
	// leaf of each of its 40-odd tables and indexes) are written to the
	// WAL by nearly every group commit, and a checkpoint copies each
	// page's last version once: checkpointing every 8,000 pages (a WAL
	// of about 32 MiB) instead of SQLite's 1,000 copies each hot page an
	// eighth as often (BenchmarkSubmitPath: 10% fewer bytes written).
	//
	// cache_size(writeCacheKiB): a delivery changes a leaf of each of
	// some 40 tables and indexes, most of them at a place of their own
	// (an account's, an address's), which SQLite's default 2 MiB of
	// pages did not keep: in 30 s of xtramail-bench submit (29,000
	// messages) the writer's pread took 1.03 s of CPU, 0.30 s with
	// 64 MiB. The writer is alone and the store's bottleneck.
	w, err := sql.Open("sqlite", uri+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(2)&_pragma=wal_autocheckpoint(8000)&_pragma=cache_size(-"+strconv.Itoa(writeCacheKiB)+")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	// The database file may have just been created: make its name durable.
	if err := syncDir(filepath.Dir(path)); err != nil {
		w.Close()
		return nil, fmt.Errorf("sync database dir: %w", err)
	}
	// Prepared before the writer starts: its one connection is then busy
	// in transactions, where database/sql reuses these statements.
	prepared := make(map[string]*sql.Stmt)
	for _, q := range hotQueries {
		st, err := w.Prepare(q)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		prepared[q] = st
	}
	// No mmap_size on the read connections: mapped, every connection
	// re-initialised each page it touched (btreeInitPage, the page's
	// first minor fault) after each growth of the file, and the IMAP
	// realistic mix cost 932 CPU ms per 1,000 commands against 603
	// without it (xtramail-bench imap, 30 s); the pread it saved was
	// a fraction of that.
	//
	// Instead each read connection keeps up to readCacheKiB of pages
	// (SQLite's default is 2 MiB): a SEARCH TO at 100,000 messages
	// checks about 1,100 candidates' rows scattered over some 2,000
	// pages of messages and search_fields, which 2 MiB cannot hold, so
	// every repeat read them all again with pread: 40-51 CPU ms per
	// SEARCH TO/BCC against 20-33 with the larger cache (23-26 mapped),
	// BenchmarkSearchTo/Bcc at load 55. SQLite empties a connection's
	// cache when another connection has written since its last read
	// (WAL mode), so the gain is for a mailbox not written to in
	// between, and the memory is taken only by connections that read
	// that much: at most readConns * readCacheKiB.
	r, err := sql.Open("sqlite", uri+"?mode=ro&"+common+"&_pragma=query_only(1)&_pragma=cache_size(-"+strconv.Itoa(readCacheKiB)+")")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	// Idle connections as many as open ones: database/sql closes those
	// beyond MaxIdleConns (default 2), and every statement prepared on a
	// closed connection is prepared again on its replacement, which cost
	// a tenth of the server's CPU under concurrent FETCHes
	// (PROFILE-IMAP.md).
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	s := &Store{
		w: w, r: r, blobs: blobs, hub: opts.Hub, log: opts.Logger, stmts: newStmtCache(prepared),
		maxMailboxes: cmp.Or(opts.MaxMailboxes, store.DefaultMaxMailboxes),
		infos:        newInfoCache(defaultInfoCache, defaultInfoCacheBytes),
		wal:          &walSyncer{path: path + "-wal", syncDir: opts.syncDir, delay: opts.SyncDelay},
		reqs:         make(chan *writeReq, maxBatch),
		committed:    make(chan *committed, 64),
		closing:      make(chan struct{}),
		done:         make(chan struct{}),

		pendingWake: make(chan struct{}, 1),
		clock:       clock.Or(opts.Clock),
		announcedCh: make(chan struct{}),
	}
	var unindexed int64
	if err := w.QueryRow("SELECT value FROM meta WHERE key = 'search_unindexed_max'").Scan(&unindexed); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("read search index state: %w", err)
	}
	s.unindexed.Store(unindexed)
	go s.writer()
	go s.syncer()
	if unindexed > 0 {
		s.bg.Add(1)
		go s.reindex()
	}
	// Bodies stored before the sort keys (sortkeys.go) and the search
	// fields (searchfields.go) were kept get them in the background, newest
	// first; until then readers derive them from the body.
	if err := s.startFillDown("sort_keys_unfilled_max", "sort keys", s.fillSortKeysStep); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startFillDown("search_fields_unfilled_max", "search fields", s.fillSearchFieldsStep); err != nil {
		s.Close()
		return nil, err
	}
	s.bg.Add(1)
	go s.expungePending()
	s.bg.Add(1)
	go s.fillThreads()
	// The search vocabulary is read now rather than by the first search,
	// which would wait for it (a second or more for 100,000 messages).
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.vocab.ensure(context.Background(), s); err != nil {
			s.log.Warn("load search vocabulary; the first search retries", "err", err)
		}
	}()
	return s, nil
}

// Close stops the writer after it has answered queued requests, and
// closes the blob store if it has a Close method: Open took it over.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.sendMu.Lock()
		s.stopped = true
		s.sendMu.Unlock()
		close(s.closing)
	})
	s.bg.Wait()
	<-s.done
	errs := []error{s.wal.close()}
	s.readMu.Lock()
	for _, st := range s.readStmts {
		errs = append(errs, st.Close())
	}
	s.readMu.Unlock()
	errs = append(errs, s.r.Close())
	errs = append(errs, s.stmts.close()...)
	errs = append(errs, s.w.Close())
	if c, ok := s.blobs.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(accountID int64, fn func(store.Change)) (cancel func()) {
	return s.hub.Subscribe(accountID, fn)
}

// maxReadStmts bounds the read statement cache: queries built from
// variable parts (a list of UID ranges) would otherwise grow it forever.
const maxReadStmts = 256

// readStmt returns query prepared on the read pool, or nil when the cache
// is full. Parsing SQL is a good share of a small query's cost.
func (s *Store) readStmt(ctx context.Context, query string) *sql.Stmt {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if st, ok := s.readStmts[query]; ok {
		return st
	}
	if len(s.readStmts) >= maxReadStmts {
		return nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared query reports the error
	}
	if s.readStmts == nil {
		s.readStmts = make(map[string]*sql.Stmt)
	}
	s.readStmts[query] = st
	return st
}

// query and queryRow run read queries on the read-only pool.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.readStmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.r.QueryContext(ctx, query, args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.readStmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, query, args...)
}

// tx is one write request's view of the shared transaction.
type tx struct {
	*sql.Tx
	stmts   *stmtCache
	clock   clock.Clock // the store's: when a message arrives
	changes []store.Change
	trashed []string // blobs to delete once the transaction commits
	index   []ftsRow // full-text rows, written after every savepoint
	// logSubjects are new message log subjects, indexed after every
	// savepoint too.
	logSubjects []logSubject
	// bound are the writer's prepared statements bound to this
	// transaction: database/sql's Tx.Stmt makes a new one at every call,
	// a twentieth of the message log's CPU.
	bound map[*sql.Stmt]*sql.Stmt
}

// stmt returns the prepared statement of query bound to t, nil when the
// query is not one the writer prepares.
func (t *tx) stmt(query string) *sql.Stmt {
	st := t.stmts.stmt(query)
	if st == nil {
		return nil
	}
	b, ok := t.bound[st]
	if !ok {
		if t.bound == nil {
			t.bound = make(map[*sql.Stmt]*sql.Stmt)
		}
		b = t.Tx.Stmt(st)
		t.bound[st] = b
	}
	return b
}

func (t *tx) Exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.Exec(args...)
	}
	return t.Tx.Exec(query, args...)
}

func (t *tx) QueryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRow(args...)
	}
	return t.Tx.QueryRow(query, args...)
}

func (t *tx) Query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.Query(args...)
	}
	return t.Tx.Query(query, args...)
}

type writeReq struct {
	ctx context.Context
	fn  func(*tx) error
	// sync, when set, makes data the request refers to durable (a body
	// written with blob.Deferred). It runs while the group's statements
	// do, and must succeed before the group commits.
	sync func() error
	err  chan error
	// alone makes the request a group of its own (writeAlone).
	alone bool
	// rerun says fn may run again after the transaction it ran in was
	// rolled back (writeRerun): such requests run outside savepoints
	// (group.run).
	rerun bool
}

// bulkMessages is the number of messages from which an operation on a set
// of them is written as a group of its own (writeBulk).
const bulkMessages = 64

var errClosed = errors.New("store closed")

// write runs fn in the writer's next group transaction and returns once
// that transaction is committed (durable) or fn failed.
func (s *Store) write(ctx context.Context, fn func(*tx) error) error {
	return s.writeSynced(ctx, nil, fn)
}

// writeSynced is write with a sync function to run before the commit; it
// is called exactly once whatever happens.
func (s *Store) writeSynced(ctx context.Context, sync func() error, fn func(*tx) error) error {
	return s.writeSyncedBulk(ctx, 0, sync, fn)
}

// writeAlone is write for a request that may change many rows: it runs as
// a group of its own, without the savepoint that parts a request from the
// others of its group. Inside a savepoint SQLite keeps every page the
// request changed in an in-memory sub-journal, and the end of each of the
// request's statements truncates that journal by walking it from its
// start, so a request's cost grew with the square of its size: a MOVE of
// 90,000 messages ran for most of an hour. Alone, the request's failure
// rolls back the whole transaction instead, which is all it holds.
func (s *Store) writeAlone(ctx context.Context, fn func(*tx) error) error {
	return s.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, err: make(chan error, 1), alone: true})
}

// writeBulk is write for an operation on n messages: alone from
// bulkMessages on.
func (s *Store) writeBulk(ctx context.Context, n int, fn func(*tx) error) error {
	return s.writeSyncedBulk(ctx, n, nil, fn)
}

// writeSyncedBulk is writeBulk with a sync function (writeSynced).
func (s *Store) writeSyncedBulk(ctx context.Context, n int, sync func() error, fn func(*tx) error) error {
	return s.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, sync: sync, err: make(chan error, 1), alone: n >= bulkMessages})
}

// writeRerun is writeSyncedBulk for an fn that changes nothing but the
// database and what it returns to its caller, so that it may run again
// when the transaction it ran in is rolled back: it runs without the
// savepoint that would part it from the others of its group, which
// costs a copy of every page it changes (group.run).
func (s *Store) writeRerun(ctx context.Context, n int, sync func() error, fn func(*tx) error) error {
	return s.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, sync: sync, err: make(chan error, 1), alone: n >= bulkMessages, rerun: true})
}

func (s *Store) enqueue(ctx context.Context, req *writeReq) error {
	fail := func(err error) error {
		if req.sync != nil {
			req.sync()
		}
		return err
	}
	s.sendMu.RLock()
	if s.stopped {
		s.sendMu.RUnlock()
		return fail(errClosed)
	}
	select {
	case s.reqs <- req:
		s.sendMu.RUnlock()
	case <-ctx.Done():
		s.sendMu.RUnlock()
		return fail(ctx.Err())
	}
	// Once queued, wait for the answer even if ctx ends: the request may
	// already be committed and the caller must know.
	return storageErr(<-req.err)
}

// storageErr marks an error caused by a full disk, wherever it arose (a
// body write, a database page, the WAL fsync), with store.ErrStorageFull,
// so that front ends answer "try later" and not "failed".
func storageErr(err error) error {
	if err == nil || errors.Is(err, store.ErrStorageFull) {
		return err
	}
	var se *sqlite.Error
	if errors.Is(err, blob.ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", store.ErrStorageFull, err)
	}
	return err
}

func (s *Store) writer() {
	defer close(s.committed)
	// Labelled so that a CPU profile tells the writer's share, the
	// store's bottleneck (go tool pprof -tagfocus store=writer); the
	// goroutines it starts (body syncs) carry the label too.
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("store", "writer")))
	// next is a request met while gathering a group that must start one
	// of its own (writeAlone).
	var next *writeReq
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-s.reqs:
			case <-s.closing:
				// Answer what is still queued, then stop.
				for {
					select {
					case r := <-s.reqs:
						s.commit([]*writeReq{r}, false)
						s.stmts.prepareWanted(s.w)
					default:
						return
					}
				}
			}
		}
		batch := []*writeReq{first}
	drain:
		for !first.alone && len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				if r.alone {
					next = r
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if met := s.commit(batch, next == nil); met != nil {
			next = met
		}
		s.stmts.prepareWanted(s.w)
	}
}

// WaitAnnounced implements store.Announcements.
func (s *Store) WaitAnnounced(ctx context.Context) error {
	target := s.commits.Load()
	// Every IMAP command's sync calls this, and most find nothing on
	// its way: two atomic loads then, no lock and no channel. announced
	// moves only after the feed was called, so seeing it at target
	// means what the lock would have said.
	if s.announced.Load() >= target {
		return nil
	}
	for {
		s.annMu.Lock()
		done, ch := s.announced.Load() >= target, s.announcedCh
		s.annMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-s.done:
			return errClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// announce records that the groups up to seq have been passed to the
// feed.
func (s *Store) announce(seq uint64) {
	s.annMu.Lock()
	if seq > s.announced.Load() {
		s.announced.Store(seq)
		close(s.announcedCh)
		s.announcedCh = make(chan struct{})
	}
	s.annMu.Unlock()
}

// committed is a group whose transaction is committed but not yet synced.
type committed struct {
	seq     uint64 // Store.commits of the group
	batch   []*writeReq
	errs    []error
	changes []store.Change
	trashed []string
	index   []ftsRow // newly indexed words, for the search vocabulary
}

// syncer makes committed groups durable with one WAL fsync for all groups
// committed meanwhile, then tells the world: subscribers, blob trash and
// the waiting callers.
func (s *Store) syncer() {
	defer close(s.done)
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("store", "syncer")))
	for c := range s.committed {
		groups := []*committed{c}
	drain:
		for {
			select {
			case c, ok := <-s.committed:
				if !ok {
					break drain
				}
				groups = append(groups, c)
			default:
				break drain
			}
		}
		err := s.wal.sync()
		if err != nil {
			s.log.Error("sync database log", "err", err)
			err = fmt.Errorf("sync database log: %w", err)
		}
		for _, g := range groups {
			// A group whose WAL fsync failed is visible to reads all the
			// same: it is announced too, so that no session shows a
			// state it was never told of (its writers get the error).
			s.hub.Publish(g.changes...)
			s.announce(g.seq)
			if err == nil {
				s.vocab.add(g.index)
				for _, key := range g.trashed {
					// Their blob_trash rows go at the next purge pass.
					if derr := s.blobs.Delete(context.Background(), key); derr != nil {
						s.log.Warn("delete purged body; retried at next purge", "key", key, "err", derr)
					}
				}
			}
			for i, r := range g.batch {
				if err != nil {
					r.err <- err
				} else {
					r.err <- g.errs[i]
				}
			}
		}
	}
}

// walSyncer fsyncs the database's write-ahead log. It keeps the file open
// and reopens it if SQLite ever replaced it.
//
// With synchronous=NORMAL SQLite itself syncs nothing until a checkpoint,
// so the directory entry of a newly created WAL file is not durable after
// the file's own fsync: a crash could lose the whole file, and with it
// every acknowledged transaction in it. So each time the WAL is opened as
// a new file, its directory is synced once too.
type walSyncer struct {
	path    string
	syncDir func(dir string) error
	delay   time.Duration // Options.SyncDelay
	// mu guards f. Only the syncer goroutine syncs, so it is never
	// contended; it lets a test look in while the store runs.
	mu sync.Mutex
	f  *os.File
}

func (w *walSyncer) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.delay > 0 {
		time.Sleep(w.delay)
	}
	if w.f != nil {
		a, err1 := w.f.Stat()
		b, err2 := os.Stat(w.path)
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			w.f.Close()
			w.f = nil
		}
	}
	if w.f == nil {
		f, err := os.Open(w.path)
		if err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := w.syncDir(filepath.Dir(w.path)); err != nil {
			f.Close()
			return fmt.Errorf("sync directory of %s: %w", w.path, err)
		}
		w.f = f
		return nil
	}
	return w.f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *walSyncer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}
