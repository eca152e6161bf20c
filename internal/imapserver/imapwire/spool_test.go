package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// testSpool is a spool sink that counts what it holds and whether it was
// closed.
type testSpool struct {
	buf    bytes.Buffer
	closed bool
	fail   bool // writes fail (a full disk)
}

func (s *testSpool) Write(p []byte) (int, error) {
	if s.fail {
		return 0, errors.New("disk full")
	}
	return s.buf.Write(p)
}
func (s *testSpool) Close() error { s.closed = true; return nil }

// TestSpooledLiterals guards issue 12 part 2 at the reader: APPEND
// literals from SpoolFrom bytes go to Options.Spool as they are read
// (never into Data, never through Budget), smaller ones and string
// literals stay in memory; a refused spool is NO [UNAVAILABLE] before any
// "+"; every spool of a command that fails or is cut off is closed.
func TestSpooledLiterals(t *testing.T) {
	var spools []*testSpool
	var asked []int64
	refuse := false
	conts := 0
	b := &testBudget{limit: 1 << 20}
	opts := Options{MultiAppend: true, SpoolFrom: 100, Budget: b, MaxLiteral: 1000,
		Continue: func(string) error { conts++; return nil },
		Spool: func(n int64, binary bool) (io.WriteCloser, error) {
			asked = append(asked, n)
			if refuse {
				return nil, errors.New("over budget")
			}
			s := &testSpool{}
			spools = append(spools, s)
			return s, nil
		}}
	read := func(in string) (*Command, error) {
		t.Helper()
		return NewReader(bufio.NewReader(strings.NewReader(in)), opts).ReadCommand()
	}
	big := strings.Repeat("y", 100)
	cmd, err := read("a APPEND INBOX (\\Seen) {99}\r\n" + strings.Repeat("x", 99) + " ~{100}\r\n" + big + " {100+}\r\n" + big + "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	ms := cmd.Args.(*Append).Messages
	if len(ms) != 3 || ms[0].Spooled != nil || len(ms[0].Data) != 99 || ms[0].Size != 0 {
		t.Fatalf("a 99-byte literal: %+v", ms[0])
	}
	for i, m := range ms[1:] {
		if m.Data != nil || m.Spooled != spools[i] || m.Size != 100 || spools[i].buf.String() != big {
			t.Fatalf("literal %d of 100 bytes: data %d, spooled %v, size %d, spool %q", i+2, len(m.Data), m.Spooled, m.Size, spools[i].buf.String())
		}
	}
	if !ms[1].Binary || b.used != 99 || cmd.Reserved != 99 || conts != 2 {
		t.Fatalf("binary %v, budget used %d, reserved %d, continuations %d", ms[1].Binary, b.used, cmd.Reserved, conts)
	}
	b.Release(cmd.Reserved)

	// Refused by the spool: NO [UNAVAILABLE], no "+", nothing read.
	spools, conts, refuse = nil, 0, true
	r := NewReader(bufio.NewReader(strings.NewReader("b APPEND INBOX {500}\r\nc NOOP\r\n")), opts)
	_, err = r.ReadCommand()
	var perr *ParseError
	if !errors.As(err, &perr) || !perr.No || perr.Code != CodeUnavailable || conts != 0 {
		t.Fatalf("refused spool: %v, %d continuations; want NO [UNAVAILABLE] without +", err, conts)
	}
	if next, err := r.ReadCommand(); err != nil || next.Name != "NOOP" {
		t.Fatalf("after the refusal: %v %v; want the next command", next, err)
	}
	refuse = false

	// The second message refused after the first was spooled: the first
	// spool is closed.
	_, err = read("c APPEND INBOX {100+}\r\n" + big + " {2000}\r\n")
	if !errors.As(err, &perr) || perr.Code != CodeTooBig || len(spools) != 1 || !spools[0].closed {
		t.Fatalf("second literal refused: %v, spools %d, first closed %v", err, len(spools), spools[0].closed)
	}
	// Cut off in the middle of a literal, or after it: closed.
	spools = nil
	for _, in := range []string{"d APPEND INBOX {300+}\r\n" + big, "e APPEND INBOX {100+}\r\n" + big} {
		if _, err := read(in); err == nil || !spools[len(spools)-1].closed {
			t.Fatalf("cut off: %v, closed %v", err, spools[len(spools)-1].closed)
		}
	}
	// A spool that cannot write: the literal is still read (the session
	// stays in step) and the command is NO [UNAVAILABLE].
	opts.Spool = func(n int64, binary bool) (io.WriteCloser, error) {
		s := &testSpool{fail: true}
		spools = append(spools, s)
		return s, nil
	}
	r = NewReader(bufio.NewReader(strings.NewReader("f APPEND INBOX {100}\r\n"+big+"\r\ng NOOP\r\n")), opts)
	_, err = r.ReadCommand()
	if !errors.As(err, &perr) || !perr.No || perr.Code != CodeUnavailable || !spools[len(spools)-1].closed {
		t.Fatalf("failing spool: %v", err)
	}
	if next, err := r.ReadCommand(); err != nil || next.Name != "NOOP" {
		t.Fatalf("after a failing spool: %v %v; want the next command", next, err)
	}
	if b.used != 0 {
		t.Errorf("budget holds %d", b.used)
	}
}
