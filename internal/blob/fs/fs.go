// Package fs stores message bodies in append-only segment files on the
// local disk.
//
// One file and two fsyncs (file and directory) per message cap ingest at a
// few hundred messages a second on ordinary disks. Here concurrent Puts
// append to the current segment and share one fsync of it, and a new
// segment (one an hour, or when large) costs one directory fsync. Each
// object starts on a 4 KiB boundary so that Delete can punch its blocks out
// of the file and give the space back at once; a segment whose objects
// are all deleted is removed. The padding costs what a file per message
// would cost in partly used blocks.
package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xtramail/xtramail/internal/blob"
)

const (
	align      = 4096
	maxSegment = 1 << 30
)

// Store is a blob.Store on the local file system.
type Store struct {
	dir string
	now func() time.Time

	mu  sync.Mutex
	cur *segment

	handles handles // segments open for reading
}

type segment struct {
	name   string // relative to dir
	hour   string
	f      *os.File
	size   int64          // next free offset
	writes sync.WaitGroup // Puts between reserving space and their fsync
	sync   groupSync
}

// Open returns a Store rooted at dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob dir %s: %w", dir, err)
	}
	return &Store{dir: dir, now: time.Now}, nil
}

// Close closes the current segment and the segments kept open for
// reading (readers still open finish with theirs).
func (s *Store) Close() error {
	s.handles.closeAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	s.cur.writes.Wait()
	err := s.cur.f.Close()
	s.cur = nil
	return err
}

// Put appends size bytes read from r to the current segment and returns
// once they are synced.
func (s *Store) Put(ctx context.Context, r io.Reader, size int64) (string, error) {
	key, sync, err := s.PutDeferred(ctx, r, size)
	if err != nil {
		return "", err
	}
	return key, sync()
}

// PutDeferred implements blob.Deferred.
func (s *Store) PutDeferred(ctx context.Context, r io.Reader, size int64) (string, func() error, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	if size < 0 {
		return "", nil, fmt.Errorf("put blob: negative size %d", size)
	}
	s.mu.Lock()
	seg, err := s.segmentFor(size)
	if err != nil {
		s.mu.Unlock()
		return "", nil, full(err)
	}
	off := seg.size
	reserved := (size + align - 1) / align * align
	seg.size += reserved
	seg.writes.Add(1)
	s.mu.Unlock()

	// Writes at reserved offsets run in parallel.
	if err := writeAt(seg.f, off, r, size); err != nil {
		// Give the reserved blocks back; the hole stays unused.
		if reserved > 0 {
			unix.Fallocate(int(seg.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, reserved)
		}
		seg.writes.Done()
		return "", nil, full(fmt.Errorf("write blob to %s: %w", seg.name, err))
	}
	// Any fsync that starts from now on covers this write.
	ticket := seg.sync.ticket()
	var once sync.Once
	syncFn := func() error {
		err := errors.New("blob sync called twice")
		once.Do(func() {
			defer seg.writes.Done()
			if err = seg.sync.wait(ticket, seg.f.Sync); err != nil {
				err = full(fmt.Errorf("sync %s: %w", seg.name, err))
			}
		})
		return err
	}
	return seg.name + ":" + strconv.FormatInt(off, 10) + ":" + strconv.FormatInt(size, 10), syncFn, nil
}

// writeAt copies size bytes of r to f at off. A bytes.Reader holding
// exactly the object writes its own slice in one call; anything else (a
// spool file) is copied in steps of at most 1 MiB.
func writeAt(f *os.File, off int64, r io.Reader, size int64) error {
	w := io.NewOffsetWriter(f, off)
	if br, ok := r.(*bytes.Reader); ok && int64(br.Len()) == size {
		_, err := br.WriteTo(w)
		return err
	}
	n, err := io.CopyBuffer(w, io.LimitReader(r, size), make([]byte, max(1, min(size, 1<<20))))
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// full marks an error caused by a full disk as blob.ErrFull, so that the
// store above can answer "try later" instead of "failed".
func full(err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("%w: %w", blob.ErrFull, err)
	}
	return err
}

// segmentFor returns the segment to append n bytes to, starting a new one
// each hour (so that purges free whole files in order) or when full.
// s.mu is held.
func (s *Store) segmentFor(n int64) (*segment, error) {
	hour := s.now().UTC().Format("2006/01/02/15")
	if c := s.cur; c != nil && c.hour == hour && (c.size == 0 || c.size+n <= maxSegment) {
		return c, nil
	}
	var b [6]byte
	rand.Read(b[:])
	name := hour + "-" + hex.EncodeToString(b[:]) + ".seg"
	p := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, fmt.Errorf("blob dir: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("new segment: %w", err)
	}
	// The new file's entry, and any new parent directories, must be
	// durable before any object in it is acknowledged.
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync blob dir %s: %w", d, err)
		}
		if d == s.dir || !strings.HasPrefix(d, s.dir) {
			break
		}
	}
	if old := s.cur; old != nil {
		go func() {
			old.writes.Wait()
			old.f.Close()
		}()
	}
	s.cur = &segment{name: name, hour: hour, f: f}
	return s.cur, nil
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

// parseKey splits "segment:offset:length" and checks it stays inside dir.
// It runs at every open of a body (twice per relayed message): the error
// is made only for a bad key.
func (s *Store) parseKey(key string) (path string, off, n int64, err error) {
	bad := func() (string, int64, int64, error) { return "", 0, 0, fmt.Errorf("blob key %q: invalid", key) }
	seg, rest, ok1 := strings.Cut(key, ":")
	offs, ns, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || strings.Contains(ns, ":") || seg == "" || strings.Contains(seg, "..") || strings.HasPrefix(seg, "/") || strings.ContainsRune(seg, '\\') {
		return bad()
	}
	off, err1 := strconv.ParseInt(offs, 10, 64)
	n, err2 := strconv.ParseInt(ns, 10, 64)
	if err1 != nil || err2 != nil || off < 0 || n < 0 || off%align != 0 {
		return bad()
	}
	return filepath.Join(s.dir, filepath.FromSlash(seg)), off, n, nil
}

// Open returns the object's content, read through the segment's shared
// handle (handles.go).
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, off, n, err := s.parseKey(key)
	if err != nil {
		return nil, err
	}
	rc, err := s.handles.open(p, off, n)
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return rc, nil
}

// Delete punches the object's blocks out of its segment, and removes the
// segment once nothing is left in it.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, off, n, err := s.parseKey(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	defer f.Close()
	length := (n + align - 1) / align * align
	if length > 0 {
		err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil // the space comes back when the whole segment goes
		}
		if err != nil {
			return fmt.Errorf("delete blob %s: %w", key, err)
		}
	}
	s.mu.Lock()
	current := s.cur != nil && filepath.Join(s.dir, filepath.FromSlash(s.cur.name)) == p
	s.mu.Unlock()
	if current {
		return nil
	}
	// No data left anywhere in the file: every object is deleted.
	if _, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_DATA); errors.Is(err, unix.ENXIO) {
		if err := s.handles.remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove empty segment %s: %w", p, err)
		}
	}
	return nil
}

// groupSync shares one fsync among every caller whose write finished
// before that fsync started.
//
// cond is made lazily so that the zero value is ready to use.
type groupSync struct {
	mu        sync.Mutex
	cond      *sync.Cond
	started   uint64 // fsyncs begun
	completed uint64 // the last one finished
	running   bool
	err       error // of the last one finished
}

// ticket returns the fsync generation that covers writes finished now.
func (g *groupSync) ticket() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started + 1
}

// wait returns once an fsync of generation ticket or later has finished,
// running syncFn itself if no fsync is under way.
func (g *groupSync) wait(ticket uint64, syncFn func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	for g.completed < ticket {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := syncFn()
		g.mu.Lock()
		g.running = false
		g.completed, g.err = gen, err
		g.cond.Broadcast()
	}
	return g.err
}
