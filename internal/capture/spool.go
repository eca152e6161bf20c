package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/smtpserver"
)

// budget bounds the bytes of message bodies received and not yet stored,
// over all connections, in memory and in spool files together: without
// it, 1,000 connections of 50 MiB each could hold 50 GB.
type budget struct {
	mu   sync.Mutex
	used int64
	max  int64
}

// errBudget is answered when the budget is spent: the upstream keeps the
// message and retries (RFC 3463 4.3.1: mail system full).
var errBudget = errors.New("in-flight message bytes over the budget")

func (b *budget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// fits reports whether n more bytes would fit now (a MAIL SIZE hint).
func (b *budget) fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used+n <= b.max
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// spoolMem is what a body may hold in memory before it moves to a spool
// file: small messages, the bulk of the traffic, never touch the disk
// twice.
const spoolMem = 256 << 10

// spool holds one message body while it arrives: in memory up to
// spoolMem, then in an unlinked temporary file, so that memory does not
// grow with message size and nothing is left behind by a crash.
type spool struct {
	dir    string
	budget *budget
	mem    []byte
	f      *os.File
	size   int64
}

func (s *spool) Write(p []byte) (int, error) {
	if !s.budget.acquire(int64(len(p))) {
		return 0, errBudget
	}
	s.size += int64(len(p))
	if s.f == nil && len(s.mem)+len(p) <= spoolMem {
		s.mem = append(s.mem, p...)
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "capture-*")
		if err != nil {
			return 0, fmt.Errorf("spool file: %w", err)
		}
		os.Remove(f.Name()) // the open file lives on; a crash leaves nothing
		s.f = f
		if _, err := f.Write(s.mem); err != nil {
			return 0, fmt.Errorf("spool file: %w", err)
		}
		s.mem = nil
	}
	if _, err := s.f.Write(p); err != nil {
		return 0, fmt.Errorf("spool file: %w", err)
	}
	return len(p), nil
}

// reader returns the body from its start.
func (s *spool) reader() io.Reader {
	if s.f == nil {
		return bytes.NewReader(s.mem)
	}
	return io.NewSectionReader(s.f, 0, s.size)
}

// parse pre-parses the body. A spooled body is mapped, not read into
// memory: its pages are the kernel's page cache, shared and reclaimable,
// and are unmapped as soon as the parse is done (Info holds copies).
func (s *spool) parse() (*message.Info, error) {
	if s.f == nil || s.size == 0 {
		return message.Parse(s.mem), nil
	}
	b, err := unix.Mmap(int(s.f.Fd()), 0, int(s.size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map spool file: %w", err)
	}
	defer unix.Munmap(b)
	unix.Madvise(b, unix.MADV_SEQUENTIAL)
	return message.Parse(b), nil
}

// close frees the body and its share of the budget.
func (s *spool) close() {
	s.budget.release(s.size)
	s.size, s.mem = 0, nil
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// NormalizeLineEndings turns every bare CR and bare LF into CRLF, as
// capture does while a body streams in.
func NormalizeLineEndings(b []byte) []byte { return smtpserver.NormalizeCRLF(b) }
