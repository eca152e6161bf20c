package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// A body is one blob (bodies.blob_key is its key), or, for a draft
// version that keeps files of the version it replaced
// (store.DraftSharing), a list of pieces of blobs: the new bytes in a
// blob of their own, the kept ones where they already are, in the blobs
// of earlier versions. Its blob_key is then piecesPrefix and the list,
// in JSON.
//
// A blob may so be referred to by several bodies. blob_refs counts them
// for a blob that is (a row's absence means one body: the one that wrote
// it); releaseBlob, called when a body goes, deletes a blob only when no
// body refers to it any more. The counts change in the same transaction
// as the bodies, and a blob is deleted only after that commits
// (blob_trash), so that a crash at any moment leaves every committed
// body whole.

// piecesPrefix starts the blob_key of a body stored in pieces.
const piecesPrefix = "pieces:"

// blobRefsSchema is the migration step of shared blobs.
const blobRefsSchema = `CREATE TABLE IF NOT EXISTS blob_refs (
	key TEXT PRIMARY KEY,
	refs INTEGER NOT NULL
) WITHOUT ROWID;`

// piece is a range of a blob.
type piece struct {
	Key string `json:"k"`
	Off int64  `json:"o"`
	Len int64  `json:"n"`
}

// piecesOf returns the pieces a body's blob_key names: itself whole
// (size bytes) for a body of one blob.
func piecesOf(key string, size int64) ([]piece, error) {
	rest, ok := strings.CutPrefix(key, piecesPrefix)
	if !ok {
		return []piece{{Key: key, Off: 0, Len: size}}, nil
	}
	var ps []piece
	if err := json.Unmarshal([]byte(rest), &ps); err != nil {
		return nil, fmt.Errorf("body pieces %.60q: %w", key, err)
	}
	return ps, nil
}

// blobKeys are the blobs a body's blob_key refers to, each once.
func blobKeys(key string) ([]string, error) {
	if !strings.HasPrefix(key, piecesPrefix) {
		return []string{key}, nil
	}
	ps, err := piecesOf(key, 0)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range ps {
		if !slices.Contains(keys, p.Key) {
			keys = append(keys, p.Key)
		}
	}
	return keys, nil
}

// slicePieces returns the pieces that hold bytes [off, off+n) of the body
// made of ps.
func slicePieces(ps []piece, off, n int64) []piece {
	var out []piece
	start := int64(0)
	for _, p := range ps {
		end := start + p.Len
		if n > 0 && off < end && off+n > start {
			from := max(off, start)
			to := min(off+n, end)
			out = append(out, piece{Key: p.Key, Off: p.Off + from - start, Len: to - from})
		}
		start = end
	}
	return out
}

// appendPiece appends p, joined to the last piece when it continues it.
func appendPiece(ps []piece, p piece) []piece {
	if p.Len <= 0 {
		return ps
	}
	if n := len(ps); n > 0 && ps[n-1].Key == p.Key && ps[n-1].Off+ps[n-1].Len == p.Off {
		ps[n-1].Len += p.Len
		return ps
	}
	return append(ps, p)
}

// openBlob opens a body by its blob_key, of one blob or in pieces.
func (s *Store) openBlob(ctx context.Context, key string) (io.ReadCloser, error) {
	if !strings.HasPrefix(key, piecesPrefix) {
		return s.blobs.Open(ctx, key)
	}
	ps, err := piecesOf(key, 0)
	if err != nil {
		return nil, err
	}
	// Each blob opened once; a body of blobs that read at any offset
	// (the file store's) reads at any offset too (the webmail reads
	// parts by range).
	open := map[string]io.ReadCloser{}
	closeAll := func() {
		for _, rc := range open {
			rc.Close()
		}
	}
	m := &multiReaderAt{}
	for _, p := range ps {
		rc, ok := open[p.Key]
		if !ok {
			if rc, err = s.blobs.Open(ctx, p.Key); err != nil {
				closeAll()
				return nil, fmt.Errorf("open piece of body: %w", err)
			}
			open[p.Key] = rc
		}
		ra, ok := rc.(io.ReaderAt)
		if !ok {
			closeAll()
			return s.openSequential(ctx, ps), nil
		}
		m.parts = append(m.parts, io.NewSectionReader(ra, p.Off, p.Len))
		m.starts = append(m.starts, m.size)
		m.size += p.Len
	}
	return &piecesReader{SectionReader: io.NewSectionReader(m, 0, m.size), close: closeAll}, nil
}

// piecesReader reads a body in pieces.
type piecesReader struct {
	*io.SectionReader
	close func()
}

func (r *piecesReader) Close() error {
	r.close()
	return nil
}

// multiReaderAt reads the concatenation of parts.
type multiReaderAt struct {
	parts  []*io.SectionReader
	starts []int64
	size   int64
}

func (m *multiReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= m.size {
		return 0, io.EOF
	}
	i := sort.Search(len(m.starts), func(i int) bool { return m.starts[i] > off }) - 1
	n := 0
	for n < len(p) && i < len(m.parts) {
		k, err := m.parts[i].ReadAt(p[n:], off+int64(n)-m.starts[i])
		n += k
		if err == io.EOF || (err == nil && off+int64(n) >= m.starts[i]+m.parts[i].Size()) {
			i++
			continue
		}
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// openSequential reads pieces one after the other, for a blob store whose
// readers do not read at offsets: each piece's blob is opened in turn and
// read from its start.
func (s *Store) openSequential(ctx context.Context, ps []piece) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		for _, p := range ps {
			rc, err := s.blobs.Open(ctx, p.Key)
			if err == nil {
				if _, err = io.CopyN(io.Discard, rc, p.Off); err == nil {
					_, err = io.CopyN(pw, rc, p.Len)
				}
				rc.Close()
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("read piece of body: %w", err))
				return
			}
		}
		pw.Close()
	}()
	return pr
}

// holdBlob counts one more body referring to the blob key.
func (t *tx) holdBlob(key string) error {
	// Absent, the count is one: the body that wrote it.
	_, err := t.Exec("INSERT INTO blob_refs (key, refs) VALUES (?, 2) ON CONFLICT (key) DO UPDATE SET refs = refs + 1", key)
	if err != nil {
		return fmt.Errorf("share blob: %w", err)
	}
	return nil
}

// releaseBlob is called for a body's blob_key when the body goes: each
// blob it refers to that no other body refers to is deleted once the
// transaction commits (blob_trash remembers it across a crash in
// between).
func (t *tx) releaseBlob(bodyKey string) error {
	keys, err := blobKeys(bodyKey)
	if err != nil {
		return err
	}
	for _, key := range keys {
		var refs int64
		err := t.QueryRow("UPDATE blob_refs SET refs = refs - 1 WHERE key = ? RETURNING refs", key).Scan(&refs)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("release blob: %w", err)
		case refs > 0:
			continue
		default:
			if _, err := t.Exec("DELETE FROM blob_refs WHERE key = ?", key); err != nil {
				return fmt.Errorf("release blob: %w", err)
			}
		}
		if _, err := t.Exec("INSERT OR IGNORE INTO blob_trash (key) VALUES (?)", key); err != nil {
			return fmt.Errorf("trash blob: %w", err)
		}
		t.trashed = append(t.trashed, key)
	}
	return nil
}

// checkShared checks the ranges against a body of size bytes: in order,
// not overlapping, inside it.
func checkShared(shared []store.SharedRange, size int64) error {
	pos := int64(0)
	for _, r := range shared {
		if r.Len <= 0 || r.Off < pos || r.SrcOff < 0 || r.Off+r.Len > size {
			return fmt.Errorf("shared range %+v of a %d-byte draft: %w", r, size, store.ErrInvalid)
		}
		pos = r.Off + r.Len
	}
	return nil
}

// gapsOf reads the bytes of body (size bytes) outside the shared ranges,
// in order.
func gapsOf(body io.Reader, size int64, shared []store.SharedRange) (io.Reader, int64) {
	var parts []io.Reader
	var n, pos int64
	ra, _ := body.(io.ReaderAt)
	add := func(from, to int64) {
		if to <= from {
			return
		}
		n += to - from
		if ra != nil {
			parts = append(parts, io.NewSectionReader(ra, from, to-from))
		}
	}
	for _, r := range shared {
		add(pos, r.Off)
		pos = r.Off + r.Len
	}
	add(pos, size)
	if ra != nil {
		return io.MultiReader(parts...), n
	}
	return &skipReader{r: body, shared: shared, size: size}, n
}

// skipReader reads r, leaving out the shared ranges.
type skipReader struct {
	r      io.Reader
	shared []store.SharedRange
	pos    int64
	size   int64
}

func (s *skipReader) Read(p []byte) (int, error) {
	for len(s.shared) > 0 && s.pos >= s.shared[0].Off {
		skip := s.shared[0].Off + s.shared[0].Len - s.pos
		if _, err := io.CopyN(io.Discard, s.r, skip); err != nil {
			return 0, err
		}
		s.pos += skip
		s.shared = s.shared[1:]
	}
	limit := s.size - s.pos
	if len(s.shared) > 0 {
		limit = s.shared[0].Off - s.pos
	}
	if limit <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := s.r.Read(p)
	s.pos += int64(n)
	if err == io.EOF && s.pos < s.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// SaveDraftSharing implements store.DraftSharing.
func (s *Store) SaveDraftSharing(ctx context.Context, accountID, replaces int64, d *store.Delivery, shared []store.SharedRange) (store.Delivered, error) {
	if len(shared) == 0 {
		return s.SaveDraft(ctx, accountID, replaces, d)
	}
	if replaces == 0 || d.Body == nil || d.Size < 0 {
		return store.Delivered{}, fmt.Errorf("shared draft without a version to share with or a body: %w", store.ErrInvalid)
	}
	if err := checkShared(shared, d.Size); err != nil {
		return store.Delivered{}, err
	}
	gaps, gapSize := gapsOf(d.Body, d.Size, shared)
	return s.saveDraft(ctx, accountID, replaces, d, gaps, gapSize, func(t *tx, gapKey string) (string, error) {
		// The replaced version's body, before it goes (saveDraft drops
		// it after this): its blobs are held first.
		var srcKey string
		var srcSize int64
		err := t.QueryRow(`SELECT b.blob_key, b.size FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id JOIN bodies b ON b.id = m.body_id
			WHERE m.id = ? AND m.account_id = ? AND x.name = ? AND m.expunged_modseq = 0`, replaces, accountID, store.Drafts).Scan(&srcKey, &srcSize)
		if err != nil {
			return "", notFound(err, fmt.Sprintf("draft %d", replaces))
		}
		src, err := piecesOf(srcKey, srcSize)
		if err != nil {
			return "", err
		}
		var ps []piece
		var pos, gapOff int64
		gap := func(to int64) {
			ps = appendPiece(ps, piece{Key: gapKey, Off: gapOff, Len: to - pos})
			gapOff += to - pos
		}
		for _, r := range shared {
			if r.SrcOff+r.Len > srcSize {
				return "", fmt.Errorf("shared range %+v beyond the %d bytes of draft %d: %w", r, srcSize, replaces, store.ErrInvalid)
			}
			gap(r.Off)
			for _, p := range slicePieces(src, r.SrcOff, r.Len) {
				ps = appendPiece(ps, p)
			}
			pos = r.Off + r.Len
		}
		gap(d.Size)
		var held []string
		gapUsed := false
		for _, p := range ps {
			if p.Key == gapKey {
				gapUsed = true
			} else if !slices.Contains(held, p.Key) {
				if err := t.holdBlob(p.Key); err != nil {
					return "", err
				}
				held = append(held, p.Key)
			}
		}
		if !gapUsed {
			// Every byte shared: the (empty) blob of the new bytes is
			// referred to by no body, and goes after commit.
			if err := t.releaseBlob(gapKey); err != nil {
				return "", err
			}
		}
		list, err := json.Marshal(ps)
		if err != nil {
			return "", err
		}
		return piecesPrefix + string(list), nil
	})
}
