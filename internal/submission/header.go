package submission

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/message"
)

// headerCompleter passes a message (CRLF line endings) through to w and,
// at the end of its header section, adds the Message-ID and Date fields it
// lacks: RFC 6409 8.3 lets the MSA add a missing Message-ID, and 8.1 a
// missing Date, which RFC 5322 3.6 requires of every message. So it adds
// the Sender a From of several mailboxes requires (RFC 5322 3.6.2: who
// sent it, here the signed-in user; RFC 6409 8 lets the MSA complete a
// message). Nothing is held but the start of the current header line and
// the first From field's value (up to maxFromValue), so it works on a
// body streaming into a spool.
type headerCompleter struct {
	w      io.Writer
	domain string    // the right side of a generated Message-ID
	sender string    // the Sender to add; "" for none
	now    time.Time // the Date to add

	inBody  bool   // the header section has ended
	line    []byte // start of the current header line, not yet written
	started bool   // the current line's start was written (a long line)
	hasMID  bool
	hasDate bool
	// hasSender: a Sender field; fromSeen: a From field, whose value
	// from holds (inFrom while its lines go by), fromCut when it was
	// longer than maxFromValue.
	hasSender, fromSeen, inFrom, fromCut bool
	from                                 []byte
	added                                bool
	err                                  error
}

// maxFromValue bounds what is held of a From field's value. A longer one
// is taken to name several mailboxes: a Sender added to a From of one is
// allowed (RFC 5322 3.6.2), only not needed.
const maxFromValue = 64 << 10

// lineStart bounds what is held of a header line to recognise its name.
const lineStart = 1000

// newHeaderCompleter returns a headerCompleter adding Message-IDs at
// domain and sender (the signed-in address, "" for none) as Sender.
func newHeaderCompleter(w io.Writer, domain, sender string, now time.Time) *headerCompleter {
	return &headerCompleter{w: w, domain: domain, sender: sender, now: now}
}

func (h *headerCompleter) write(p []byte) {
	if h.err == nil && len(p) > 0 {
		_, h.err = h.w.Write(p)
	}
}

func (h *headerCompleter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && h.err == nil {
		if h.inBody {
			h.write(p)
			break
		}
		seg, eol := p, false
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			seg, eol = p[:i+1], true
		}
		p = p[len(seg):]
		if h.started {
			h.keepFrom(seg)
			h.write(seg)
			h.started = !eol
			continue
		}
		h.line = append(h.line, seg...)
		if !eol && len(h.line) < lineStart {
			continue
		}
		if eol && (bytes.Equal(h.line, []byte("\r\n")) || bytes.Equal(h.line, []byte("\n"))) {
			// The empty line that ends the header section.
			h.addMissing()
			h.write(h.line)
			h.line = h.line[:0]
			h.inBody = true
			continue
		}
		h.note(h.line)
		h.write(h.line)
		h.line = h.line[:0]
		h.started = !eol
	}
	if h.err != nil {
		return 0, h.err
	}
	return n, nil
}

// note records which of the fields a header line is, and keeps the
// lines of the first From field. Continuation lines start with white
// space and match none.
func (h *headerCompleter) note(line []byte) {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		h.keepFrom(line)
		return
	}
	h.inFrom = false
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return
	}
	name := bytes.TrimRight(line[:colon], " \t")
	switch {
	case bytes.EqualFold(name, []byte("Message-ID")):
		h.hasMID = true
	case bytes.EqualFold(name, []byte("Date")):
		h.hasDate = true
	case bytes.EqualFold(name, []byte("Sender")):
		h.hasSender = true
	case bytes.EqualFold(name, []byte("From")) && !h.fromSeen:
		// A second From is refused (checkFrom): the first decides.
		h.fromSeen, h.inFrom = true, true
		h.keepFrom(line[colon+1:])
	}
}

// keepFrom keeps b, the next bytes of the first From field's value.
func (h *headerCompleter) keepFrom(b []byte) {
	if !h.inFrom || h.fromCut {
		return
	}
	if len(h.from)+len(b) > maxFromValue {
		h.fromCut, h.from = true, nil
		return
	}
	h.from = append(h.from, b...)
}

// needsSender reports whether the message lacks the Sender field its
// From requires: one of more than one mailbox (RFC 5322 3.6.2).
func (h *headerCompleter) needsSender() bool {
	if h.sender == "" || h.hasSender || !h.fromSeen {
		return false
	}
	return h.fromCut || fromMailboxes(h.from) > 1
}

// fromMailboxes counts the mailboxes of an address field's value, as
// checkFrom counts them (group names and ends are none).
func fromMailboxes(value []byte) int {
	n := 0
	for _, a := range message.AddressList(value) {
		if !a.GroupStart && !a.GroupEnd {
			n++
		}
	}
	return n
}

func (h *headerCompleter) addMissing() {
	if h.added {
		return
	}
	h.added = true
	if !h.hasMID {
		var b [12]byte
		rand.Read(b[:])
		h.write([]byte("Message-ID: <" + hex.EncodeToString(b[:]) + "@" + h.domain + ">\r\n"))
	}
	if !h.hasDate {
		// RFC 5322 3.3 date-time.
		h.write([]byte("Date: " + h.now.Format("Mon, 02 Jan 2006 15:04:05 -0700") + "\r\n"))
	}
	if h.needsSender() {
		h.write([]byte("Sender: " + h.sender + "\r\n"))
	}
}

// Close ends a message that had no body: the fields are added after its
// last header line.
func (h *headerCompleter) Close() error {
	if h.inBody || h.err != nil {
		return h.err
	}
	if len(h.line) > 0 {
		h.note(h.line)
		h.write(h.line)
		if !bytes.HasSuffix(h.line, []byte("\n")) {
			h.write([]byte("\r\n"))
		}
		h.line = nil
	} else if h.started {
		h.write([]byte("\r\n"))
	}
	h.addMissing()
	return h.err
}

// completeHeader returns body with the Message-ID, Date and Sender it
// lacks added (headerCompleter); a body that lacks none is returned as it
// is.
func completeHeader(body []byte, domain, sender string, now time.Time) []byte {
	probe := newHeaderCompleter(io.Discard, domain, sender, now)
	probe.Write(body)
	probe.Close()
	if probe.hasMID && probe.hasDate && !probe.needsSender() {
		return body
	}
	var out bytes.Buffer
	out.Grow(len(body) + 128 + len(sender))
	h := newHeaderCompleter(&out, domain, sender, now)
	h.Write(body)
	h.Close()
	return out.Bytes()
}

// hasBcc reports whether the header section of msg has a Bcc or
// Resent-Bcc field, which what is sent must not show.
func hasBcc(msg []byte) bool { return hasField(msg, isBccName) }

// hasField reports whether the header section of msg has a field (even
// an empty one) whose name is says yes to, read as copyWithoutUnsent
// reads it, which removes from what is sent the fields isUnsentName
// names: a line's
// field name is looked for in its first bccFragment bytes.
func hasField(msg []byte, is func(name []byte) bool) bool {
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line = msg[:i+1]
		}
		msg = msg[len(line):]
		if len(line) <= bccFragment && len(bytes.TrimRight(line, "\r\n")) == 0 {
			return false // the end of the header section
		}
		first := line[:min(len(line), bccFragment)]
		if first[0] == ' ' || first[0] == '\t' {
			continue // a continuation line
		}
		if colon := bytes.IndexByte(first, ':'); colon > 0 && is(first[:colon]) {
			return true
		}
	}
	return false
}

// checkHeaderSize refuses a message whose header section is past what
// the DKIM signer is given (dkim.CheckHeader: 256 KiB or 2,000 lines): a
// message sent unsigned from a domain that signs fails DMARC. It reads
// no further than the bounds.
func checkHeaderSize(msg []byte) error {
	if err := dkim.CheckHeader(msg); err != nil {
		return fmt.Errorf("%w: %w", ErrHeaderTooBig, err)
	}
	return nil
}
