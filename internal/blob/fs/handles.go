package fs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/xtramail/xtramail/internal/blob"
)

// maxHandles bounds the segment files kept open for reading. Segments
// are hourly, and reads go mostly to the last few (the outbound queue
// sends what was just submitted; IMAP and webmail read recent mail).
const maxHandles = 64

// handles keeps segment files open for reading, so that reading an object
// costs no open, fstat and close of its segment (three system calls per
// message the queue sends, xtramail-bench submit). A handle is shared by
// concurrent readers (ReadAt does not move a file offset) and closed once
// the cache and every reader have let it go. Delete drops a segment's
// handle when it removes the file, so that a removed segment is never
// read again through an old handle. (Another process that removes a
// segment, which only the server's own Delete does, is not seen.)
type handles struct {
	mu sync.Mutex
	m  map[string]*handle // by path
}

type handle struct {
	f    *os.File
	refs int   // readers, plus one while cached
	size int64 // the file's size when last looked at; segments only grow
}

// open returns a reader of n bytes at off in the segment at path.
func (h *handles) open(path string, off, n int64) (io.ReadCloser, error) {
	fh, size, err := h.get(path)
	if err != nil {
		return nil, err
	}
	if n > 0 && size < off+n {
		// The segment may have grown since (the current one): look again.
		st, err := fh.f.Stat()
		if err == nil {
			h.mu.Lock()
			fh.size = max(fh.size, st.Size())
			h.mu.Unlock()
		}
		if err != nil || st.Size() < off+n {
			h.release(fh)
			return nil, fmt.Errorf("beyond end of segment: %w", blob.ErrNotFound)
		}
	}
	return &section{SectionReader: io.NewSectionReader(fh.f, off, n), h: h, fh: fh}, nil
}

// get returns path's handle with a reference for the caller, and the
// segment's size as last looked at (read under the lock: concurrent
// readers of a growing segment update it). A segment is opened under the
// lock, which remove also holds: a handle is never cached for a file
// removed meanwhile.
func (h *handles) get(path string) (*handle, int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fh := h.m[path]; fh != nil {
		fh.refs++
		return fh, fh.size, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("segment: %w", blob.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open segment: %w", err)
	}
	if h.m == nil {
		h.m = map[string]*handle{}
	}
	if len(h.m) >= maxHandles {
		for p, old := range h.m { // any one: most reads are of a few
			h.dropLocked(p, old)
			break
		}
	}
	fh := &handle{f: f, refs: 2, size: st.Size()} // the caller's and the cache's
	h.m[path] = fh
	return fh, fh.size, nil
}

func (h *handles) release(fh *handle) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unrefLocked(fh)
}

func (h *handles) unrefLocked(fh *handle) {
	fh.refs--
	if fh.refs == 0 {
		fh.f.Close()
	}
}

func (h *handles) dropLocked(path string, fh *handle) {
	delete(h.m, path)
	h.unrefLocked(fh)
}

// remove removes the segment file at path and forgets its handle, under
// the lock that get opens segments under; readers that hold the handle
// finish with it.
func (h *handles) remove(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fh := h.m[path]; fh != nil {
		h.dropLocked(path, fh)
	}
	return os.Remove(path)
}

// closeAll forgets every handle.
func (h *handles) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, fh := range h.m {
		h.dropLocked(p, fh)
	}
}

// section is an object being read; Close lets its segment's handle go.
type section struct {
	*io.SectionReader
	h    *handles
	fh   *handle
	once sync.Once
}

func (s *section) Close() error {
	s.once.Do(func() { s.h.release(s.fh) })
	return nil
}
