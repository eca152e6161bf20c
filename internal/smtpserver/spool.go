package smtpserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/xtramail/xtramail/internal/message"
)

// Budget bounds the bytes of message bodies received and not yet stored,
// over all connections of a listener, in memory and in spool files
// together: without it, 1,000 connections of 50 MiB each could hold 50 GB.
//
// It also bounds what one holder may take: a signed-in account whose
// client sends bodies as slowly as MinBodyRate allows holds its bytes for
// hours (50 MiB at 500 B/s is a day), and with enough connections it
// held the whole budget, so that every copy capture took, and everyone
// else's submissions and APPENDs, were answered "try later".
// A holder's bytes are bounded by its share (Share), whatever the
// number of its connections, and all holders' together by three
// quarters of the budget (accountsMax): eight accounts at their share
// would otherwise fill it, and capture, which carries everyone's mail,
// keeps a quarter.
type Budget struct {
	mu    sync.Mutex
	used  int64
	max   int64
	share int64
	// held is what each holder holds, for those holding any, and
	// accounts their sum; the rest of used is held by no one ("").
	held     map[string]int64
	accounts int64
}

// shareOf is the part of the budget one holder may take at least: eight
// accounts at their share fill it, one leaves 7/8 to everyone else.
const shareOf = 8

// NewBudget returns a budget of max bytes, of which one holder may take
// max/8 (see FitMessage).
func NewBudget(max int64) *Budget {
	return &Budget{max: max, share: max / shareOf, held: map[string]int64{}}
}

// FitMessage raises the share of a holder, if needed, so that a message
// of n bytes (a listener's largest) fits in it with room for what the
// server adds as it arrives: the header fields submission completes, and
// CRLF for bare LF line ends, 1/77 of a base64 body with bare LFs. An
// idle account can always send its largest message; the share never
// passes the budget. Each listener calls it with its size limit.
func (b *Budget) FitMessage(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.share = min(b.max, max(b.share, n+n/32+64<<10))
}

// accountsMax is the most all holders together may hold: three quarters
// of the budget, or two shares if that is more (up to the whole), so that
// where the largest message is a large part of the budget (FitMessage)
// one account at its share still leaves room for another's message.
func (b *Budget) accountsMax() int64 {
	return max(b.max-b.max/4, min(b.max, 2*b.share))
}

// Share is the most one holder may hold.
func (b *Budget) Share() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.share
}

// ErrBudget is returned by a Spool's Write when the budget is spent: the
// client keeps the message and retries (answer ErrStorageFull, RFC 3463
// 4.3.1: mail system full).
var ErrBudget = errors.New("in-flight message bytes over the budget")

// ErrShare is ErrBudget for a holder over its share (Spool.For) while
// the budget has room: its own bodies in flight, on all its connections,
// are what it waits for.
var ErrShare = fmt.Errorf("%w: the sender's share is taken by its own messages in flight", ErrBudget)

// Used is the bytes held now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// HeldBy is the bytes holder holds now.
func (b *Budget) HeldBy(holder string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if holder == "" {
		return b.used - b.accounts
	}
	return b.held[holder]
}

// Acquire takes n bytes for holder ("" for no one in particular): nil,
// ErrShare over the holder's share, or ErrBudget. A Spool takes its
// bytes this way; other users of a budget, such as IMAP's literals in
// memory, call it directly and give the bytes back with Release. It
// runs on every Write of every body: one lock, and no allocation but a
// holder's first bytes.
func (b *Budget) Acquire(holder string, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if holder == "" {
		if b.used+n > b.max {
			return ErrBudget
		}
		b.used += n
		return nil
	}
	h := b.held[holder]
	if h+n > b.share {
		return ErrShare
	}
	if b.accounts+n > b.accountsMax() || b.used+n > b.max {
		return ErrBudget
	}
	b.used += n
	b.accounts += n
	b.held[holder] = h + n
	return nil
}

// Fits reports whether n more bytes would fit now (a MAIL SIZE hint).
func (b *Budget) Fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used+n <= b.max
}

// Release gives back n bytes that Acquire took for holder.
func (b *Budget) Release(holder string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if holder == "" {
		return
	}
	b.accounts -= n
	if h := b.held[holder] - n; h != 0 {
		b.held[holder] = h
	} else {
		// Gone with its last byte: the map holds the holders of now,
		// not every account that ever sent.
		delete(b.held, holder)
	}
}

// spoolMem is what a body may hold in memory before it moves to a spool
// file: small messages, the bulk of the traffic, never touch the disk
// twice.
const spoolMem = 256 << 10

// Spool holds one message body while it arrives: in memory up to
// spoolMem, then in a file without a name (openUnnamed), so that memory
// does not grow with message size and nothing is left behind by a crash.
// Capture and submission receive every body into one.
type Spool struct {
	dir    string
	budget *Budget
	holder string // whose share the bytes count against (For)
	mem    []byte
	f      *os.File
	size   int64
	held   int64 // bytes taken from the budget: size, or more after Reserve
	// bufs, when set, lends mem and takes it back (SpoolBuffers);
	// box is what mem came in.
	bufs *SpoolBuffers
	box  *[]byte
}

// NewSpool returns an empty spool whose file, if it needs one, is made
// in dir ("" for os.TempDir()); its bytes count against b.
func NewSpool(dir string, b *Budget) *Spool { return &Spool{dir: dir, budget: b} }

// For makes the spool's bytes count against holder's share of the
// budget: the signed-in account whose client sends the body, on
// submission and IMAP APPEND (Budget). Call it before the first Write or
// Reserve. Capture's bodies are held by no one (""): its clients are the
// allow-listed upstreams that carry everyone's mail, and one relay at
// its busiest must not be told to wait for its own share.
func (s *Spool) For(holder string) *Spool {
	s.holder = holder
	return s
}

// Reserve takes n bytes of the budget at once, for a body whose size is
// known before it arrives (an IMAP literal): a client can then be told
// "try later" before it sends anything (RFC 9051 7.1: NO [UNAVAILABLE]
// before the "+"), and the Writes of those n bytes take nothing more.
// It returns ErrBudget (ErrShare over the holder's share), taking
// nothing, when they are not free.
func (s *Spool) Reserve(n int64) error {
	if n <= s.held {
		return nil
	}
	if err := s.budget.Acquire(s.holder, n-s.held); err != nil {
		return err
	}
	s.held = n
	return nil
}

func (s *Spool) Write(p []byte) (int, error) {
	if over := s.size + int64(len(p)) - s.held; over > 0 {
		if err := s.budget.Acquire(s.holder, over); err != nil {
			return 0, err
		}
		s.held += over
	}
	s.size += int64(len(p))
	if s.f == nil && len(s.mem)+len(p) <= spoolMem {
		if s.mem == nil && s.bufs != nil {
			s.box = s.bufs.get()
			s.mem = *s.box
		}
		s.mem = append(s.mem, p...)
		return len(p), nil
	}
	if s.f == nil {
		f, err := openUnnamed(s.dir)
		if err != nil {
			return 0, fmt.Errorf("spool file: %w", err)
		}
		s.f = f
		if _, err := f.Write(s.mem); err != nil {
			return 0, fmt.Errorf("spool file: %w", err)
		}
		s.giveBack()
	}
	if _, err := s.f.Write(p); err != nil {
		return 0, fmt.Errorf("spool file: %w", err)
	}
	return len(p), nil
}

// giveBack drops the memory, lending it again if it was lent.
func (s *Spool) giveBack() {
	if s.box != nil {
		s.bufs.put(s.box, s.mem)
		s.box = nil
	}
	s.mem = nil
}

// SpoolBuffers lends spools the memory that holds their bodies, and takes
// it back when they close or move to a file, so that a listener's
// messages reuse memory instead of each growing its own (a 10 KiB body
// took five allocations and 27 KB; issue 13, speed). The memory is kept
// by a sync.Pool: what is not lent again is freed by the garbage
// collector, and an idle listener holds none.
//
// A spool made by NewSpool must not be read after its Close, nor its
// Reader or Map slice kept: the memory holds the next body. Front ends
// whose bodies are read by the store only while Deliver runs (its
// contract) may use it. The zero value is ready to use; it is safe for
// concurrent use.
type SpoolBuffers struct{ pool sync.Pool }

// maxLent bounds the memory a SpoolBuffers keeps per spool: larger
// bodies, rarer, grow their own.
const maxLent = 64 << 10

// NewSpool is NewSpool with the spool's memory lent by b.
func (b *SpoolBuffers) NewSpool(dir string, budget *Budget) *Spool {
	sp := NewSpool(dir, budget)
	sp.bufs = b
	return sp
}

func (b *SpoolBuffers) get() *[]byte {
	if box, ok := b.pool.Get().(*[]byte); ok {
		return box
	}
	return new([]byte)
}

func (b *SpoolBuffers) put(box *[]byte, mem []byte) {
	if cap(mem) > maxLent {
		return
	}
	*box = mem[:0]
	b.pool.Put(box)
}

// openUnnamed opens a new file in dir that has no name (O_TMPFILE,
// Linux 3.11): a crash at any moment leaves nothing behind. A named
// temporary file unlinked at once, where the file system cannot do it,
// leaves one if the process is killed between the two steps.
func openUnnamed(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(spool)")), nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f, err := os.CreateTemp(dir, "smtp-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // the open file lives on
	return f, nil
}

// Sibling returns a new, empty spool in the same directory whose bytes
// count against the same budget, and whose memory comes from the same
// SpoolBuffers if s's does: for a second form of one message (what
// submission sends, without the Bcc field the Sent copy keeps).
//
// It is held by no one: the server makes it from a body already
// received, while the client waits for the answer, so it lasts as long
// as the store takes, not as long as a client likes; and an account at
// its share with a message of the largest size can still send it.
func (s *Spool) Sibling() *Spool {
	sp := NewSpool(s.dir, s.budget)
	sp.bufs = s.bufs
	return sp
}

// Size is the bytes written.
func (s *Spool) Size() int64 { return s.size }

// OnDisk reports whether the body has moved to a spool file.
func (s *Spool) OnDisk() bool { return s.f != nil }

// Reader returns the body from its start.
func (s *Spool) Reader() io.Reader {
	if s.f == nil {
		return bytes.NewReader(s.mem)
	}
	return io.NewSectionReader(s.f, 0, s.size)
}

// Parse pre-parses the body, mapped (see Map).
func (s *Spool) Parse() (*message.Info, error) {
	var info *message.Info
	err := s.Map(func(b []byte) error {
		info = message.Parse(b)
		return nil
	})
	return info, err
}

// Map calls f with the whole body. A spooled body is mapped, not read
// into memory: its pages are the kernel's page cache, shared and
// reclaimable, and are unmapped as soon as f returns, so f must not keep
// the slice (message.Info holds copies).
func (s *Spool) Map(f func([]byte) error) error {
	if s.f == nil || s.size == 0 {
		return f(s.mem)
	}
	b, err := unix.Mmap(int(s.f.Fd()), 0, int(s.size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map spool file: %w", err)
	}
	defer unix.Munmap(b)
	unix.Madvise(b, unix.MADV_SEQUENTIAL)
	return f(b)
}

// Close frees the body and its share of the budget. It may be called
// more than once.
func (s *Spool) Close() {
	s.budget.Release(s.holder, s.held)
	s.size, s.held = 0, 0
	s.giveBack()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}
