package imapserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// fetchNeeds says what FETCH items need beyond flags.
type fetchNeeds struct {
	meta bool // INTERNALDATE, RFC822.SIZE, or content (store.Message)
	info bool // the pre-parsed message.Info
	// raw: some item is content, its bytes read from the blob as they
	// are written (imapmsg.Content), never the whole message into
	// memory.
	raw  bool
	seen bool // sets \Seen
}

func needsOf(items []imapwire.FetchItem) fetchNeeds {
	var n fetchNeeds
	for i := range items {
		it := &items[i]
		switch it.Kind {
		case imapwire.FetchInternalDate, imapwire.FetchRFC822Size:
			n.meta = true
		case imapwire.FetchEnvelope, imapwire.FetchBody, imapwire.FetchBodyStructure:
			n.meta, n.info = true, true
		case imapwire.FetchRFC822, imapwire.FetchRFC822Header, imapwire.FetchRFC822Text,
			imapwire.FetchBodySection, imapwire.FetchBinary, imapwire.FetchBinarySize:
			n.meta, n.info, n.raw = true, true, true
		}
		if it.SetsSeen() {
			n.seen = true
		}
	}
	return n
}

// fetchRow is one message to answer for, with its body when the items
// need it (read with the rows, store.MessageBodies).
type fetchRow struct {
	store.MessageBody
	seq     uint32
	flagsUp bool // \Seen was just set: FLAGS goes in the response
}

// cmdFetch runs FETCH and UID FETCH (RFC 9051 section 6.4.5) with
// CHANGEDSINCE and VANISHED (RFC 7162 sections 3.1.4.1 and 3.2.6). Items
// come from the flags or message row, the pre-parsed Info and the raw
// bytes, read only when an item needs them.
func (s *session) cmdFetch(tag string, uid bool, a *imapwire.Fetch) error {
	sel := s.sel
	if a.Vanished && (!uid || !s.qresync || a.ChangedSince == 0) {
		s.bad(tag, "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC")
		return nil
	}
	ranges, err := s.resolve(a.Set, uid)
	if err != nil {
		// FETCH answers for itself: its errors end the connection.
		s.answerError(tag, err)
		return nil
	}
	items := a.Items
	if a.ChangedSince > 0 || slices.ContainsFunc(items, func(it imapwire.FetchItem) bool { return it.Kind == imapwire.FetchModSeq }) {
		s.condStoreOn()
	}
	need := needsOf(items)
	need.seen = need.seen && !sel.readOnly

	if a.Vanished {
		vanished, err := s.srv.store.VanishedSince(s.ctx, s.account.ID, sel.mb.ID, a.ChangedSince)
		if err != nil {
			s.storeError(tag, err, false)
			return nil
		}
		vanished = slices.DeleteFunc(vanished, func(u uint32) bool { return !a.Set.Contains(u, sel.view.maxUID()) || sel.view.contains(u) })
		if len(vanished) > 0 {
			s.wr.Vanished(true, numSetOf(vanished))
		}
	}
	if len(ranges) == 0 {
		s.ok(tag, "FETCH completed")
		return nil
	}

	if !need.meta {
		return s.fetchFlags(tag, uid, a, ranges)
	}
	var rows []fetchRow
	if need.info {
		// The bodies with the rows, in one read (not one per message).
		msgs, err := s.messageBodies(ranges)
		if err != nil {
			s.storeError(tag, err, false)
			return nil
		}
		rows = make([]fetchRow, 0, len(msgs))
		for _, m := range msgs {
			rows = append(rows, fetchRow{MessageBody: m})
		}
	} else {
		msgs, err := s.messages(ranges)
		if err != nil {
			s.storeError(tag, err, false)
			return nil
		}
		rows = make([]fetchRow, 0, len(msgs))
		for _, m := range msgs {
			rows = append(rows, fetchRow{MessageBody: store.MessageBody{Message: m}})
		}
	}
	// Keep the messages of the set that the client knows of.
	rows = slices.DeleteFunc(rows, func(r fetchRow) bool {
		if !rangesContain(ranges, r.UID) || a.ChangedSince > 0 && r.ModSeq <= a.ChangedSince {
			return true
		}
		return !sel.view.contains(r.UID)
	})
	for i := range rows {
		rows[i].seq, _ = sel.view.seqOf(rows[i].UID)
	}

	if need.seen {
		// Implicit \Seen (RFC 9051 section 6.4.5), set before answering
		// so the response shows the new flags.
		var unseen []uint32
		for _, r := range rows {
			if r.Flags&store.FlagSeen == 0 {
				unseen = append(unseen, r.UID)
			}
		}
		if len(unseen) > 0 {
			before := sel.modseq
			changed, _, err := s.srv.store.StoreFlags(s.ctx, s.account.ID, sel.mb.ID, unseen, store.FlagsAdd, store.FlagSeen, nil, 0)
			if err != nil {
				s.storeError(tag, err, false)
				return nil
			}
			if len(changed) > 0 {
				s.ownChange(before, changed[0].ModSeq, changed)
			}
			for _, c := range changed {
				i, found := slices.BinarySearchFunc(rows, c.UID, func(r fetchRow, u uint32) int { return int(int64(r.UID) - int64(u)) })
				if found {
					rows[i].Flags, rows[i].Keywords, rows[i].ModSeq = c.Flags, c.Keywords, c.ModSeq
					rows[i].flagsUp = true
				}
			}
		}
	}

	for i := range rows {
		s.announceKeywords(rows[i].Keywords)
	}
	hasFlags := slices.ContainsFunc(items, func(it imapwire.FetchItem) bool { return it.Kind == imapwire.FetchFlags })
	hasUID := slices.ContainsFunc(items, func(it imapwire.FetchItem) bool { return it.Kind == imapwire.FetchUID })
	hasModSeq := slices.ContainsFunc(items, func(it imapwire.FetchItem) bool { return it.Kind == imapwire.FetchModSeq })
	for i := range rows {
		r := &rows[i]
		var raw *bodyAt
		var info *message.Info
		if need.info {
			var err error
			raw, info, err = s.fetchBody(&r.MessageBody, need)
			if err != nil {
				s.storeError(tag, err, false)
				return nil
			}
		}
		// An error must not leave half a line, so every item is checked
		// before the line begins; and each item's value is made only when
		// it is written, so that a FETCH naming BINARY[2] a thousand times
		// holds one decoded part at a time, not a thousand.
		for j := range items {
			if err := imapmsg.Check(info, &items[j]); errors.Is(err, imapmsg.ErrUnknownCTE) {
				s.no(tag, imapwire.CodeUnknownCTE, "unknown content transfer encoding")
				return nil
			} else if err != nil {
				s.storeError(tag, fmt.Errorf("fetch UID %d: %w", r.UID, err), false)
				return nil
			}
		}
		w := s.wr
		w.BeginFetch(r.seq)
		n := 0
		sp := func() {
			if n > 0 {
				w.SP()
			}
			n++
		}
		// A UID FETCH answers with the UID, and so does a FETCH that
		// set \Seen once CONDSTORE is on (RFC 7162 section 3.1).
		if !hasUID && (uid || s.cond && r.flagsUp) {
			sp()
			w.Raw("UID ").Num(r.UID)
		}
		for j := range items {
			it := &items[j]
			sp()
			switch it.Kind {
			case imapwire.FetchFlags:
				s.writeFlagsItem(r.UID, r.Flags, r.Keywords)
			case imapwire.FetchUID:
				w.Raw("UID ").Num(r.UID)
			case imapwire.FetchModSeq:
				w.Raw("MODSEQ (").Num64(r.ModSeq).Raw(")")
			case imapwire.FetchInternalDate:
				w.Raw("INTERNALDATE ").DateTime(r.Received)
			case imapwire.FetchRFC822Size:
				w.Raw("RFC822.SIZE ").Num64(uint64(r.Size))
			case imapwire.FetchEnvelope:
				w.Raw("ENVELOPE ")
				imapmsg.WriteEnvelope(w, &info.Envelope)
			case imapwire.FetchBody:
				w.Raw("BODY ")
				imapmsg.WriteBodyStructure(w, &info.Part, false)
			case imapwire.FetchBodyStructure:
				w.Raw("BODYSTRUCTURE ")
				imapmsg.WriteBodyStructure(w, &info.Part, true)
			case imapwire.FetchRFC822, imapwire.FetchRFC822Header, imapwire.FetchRFC822Text,
				imapwire.FetchBodySection, imapwire.FetchBinary, imapwire.FetchBinarySize:
				if err := s.writeContent(raw, info, it); err != nil {
					raw.Close()
					return err
				}
			}
		}
		if r.flagsUp && !hasFlags {
			sp()
			s.writeFlagsItem(r.UID, r.Flags, r.Keywords)
		}
		if s.cond && !hasModSeq && (a.ChangedSince > 0 || r.flagsUp) {
			// RFC 7162 sections 3.1.4.1 and 3.1.3.
			sp()
			w.Raw("MODSEQ (").Num64(r.ModSeq).Raw(")")
		}
		w.EndFetch()
		raw.Close()
		if err := w.Err(); err != nil {
			return err
		}
	}
	s.ok(tag, "FETCH completed")
	return nil
}

// fetchFlags answers a FETCH of FLAGS, UID and MODSEQ only, the one
// clients send for a whole mailbox, from flag rows: no message rows, no
// copies.
func (s *session) fetchFlags(tag string, uid bool, a *imapwire.Fetch, ranges []store.UIDRange) error {
	rows, err := s.flagRows(ranges)
	if err != nil {
		s.storeError(tag, err, false)
		return nil
	}
	s.announceRowKeywords(rows)
	hasUID := slices.ContainsFunc(a.Items, func(it imapwire.FetchItem) bool { return it.Kind == imapwire.FetchUID })
	hasModSeq := slices.ContainsFunc(a.Items, func(it imapwire.FetchItem) bool { return it.Kind == imapwire.FetchModSeq })
	w := s.wr
	view := &s.sel.view
	for i := range rows {
		m := &rows[i]
		if a.ChangedSince > 0 && m.ModSeq <= a.ChangedSince || !rangesContain(ranges, m.UID) {
			continue
		}
		seq, ok := view.seqOf(m.UID)
		if !ok {
			continue
		}
		w.BeginFetch(seq)
		n := 0
		if uid && !hasUID {
			w.Raw("UID ").Num(m.UID)
			n++
		}
		for j := range a.Items {
			if n > 0 {
				w.SP()
			}
			n++
			switch a.Items[j].Kind {
			case imapwire.FetchFlags:
				s.writeFlagsItem(m.UID, m.Flags, m.Keywords)
			case imapwire.FetchUID:
				w.Raw("UID ").Num(m.UID)
			case imapwire.FetchModSeq:
				w.Raw("MODSEQ (").Num64(m.ModSeq).Raw(")")
			}
		}
		if a.ChangedSince > 0 && !hasModSeq {
			w.Raw(" MODSEQ (").Num64(m.ModSeq).Raw(")")
		}
		w.EndFetch()
	}
	if err := w.Err(); err != nil {
		return err
	}
	s.ok(tag, "FETCH completed")
	return nil
}

// writeContent writes a content item of a message (RFC822, RFC822.HEADER,
// RFC822.TEXT, BODY[...], BINARY[...], BINARY.SIZE[...]): its value is
// read from the blob as it goes out (imapmsg.Content), so that a client
// reading slowly or not at all holds a buffer, not a part of up to the
// APPENDLIMIT per connection. The response line has begun, so an error
// here (the blob unreadable or shorter than its size) ends the session:
// it is returned, and the client sees the connection close
// mid-response rather than a literal of the wrong length.
func (s *session) writeContent(raw *bodyAt, info *message.Info, it *imapwire.FetchItem) error {
	w := s.wr
	switch it.Kind {
	case imapwire.FetchRFC822:
		w.Raw("RFC822 ")
	case imapwire.FetchRFC822Header:
		w.Raw("RFC822.HEADER ")
	case imapwire.FetchRFC822Text:
		w.Raw("RFC822.TEXT ")
	default:
		w.FetchItemName(it).SP()
	}
	v, err := imapmsg.Open(raw, raw.size, info, it)
	if err != nil {
		return fmt.Errorf("fetch: message body %d: %w", raw.id, err)
	}
	n, err := v.Size()
	if err != nil {
		return fmt.Errorf("fetch: message body %d: %w", raw.id, err)
	}
	if it.Kind == imapwire.FetchBinarySize {
		w.Num64(uint64(n))
		return nil
	}
	lit8, err := v.Literal8()
	if err != nil {
		return fmt.Errorf("fetch: message body %d: %w", raw.id, err)
	}
	r, err := v.Reader()
	if err != nil {
		return fmt.Errorf("fetch: message body %d: %w", raw.id, err)
	}
	if lit8 {
		err = w.Literal8From(r, n)
	} else {
		err = w.LiteralFrom(r, n)
	}
	if err != nil {
		return fmt.Errorf("fetch: message body %d: %w", raw.id, err)
	}
	return nil
}

// messages reads the rows of the messages in ranges in one query: the
// ranges themselves (the store looks a sparse set up by UID), or for a
// dense set of many ranges its bounding range (callers filter).
func (s *session) messages(ranges []store.UIDRange) ([]store.Message, error) {
	return s.srv.store.MessagesByUID(s.ctx, s.account.ID, s.sel.mb.ID, readRanges(ranges))
}

// messageBodies is messages with each message's body.
func (s *session) messageBodies(ranges []store.UIDRange) ([]store.MessageBody, error) {
	return s.srv.store.MessageBodies(s.ctx, s.account.ID, s.sel.mb.ID, readRanges(ranges))
}

// readRanges is what to ask the store for to read the messages of
// ranges: a dense set of many ranges is read as its span, because
// reading the span and skipping the rows between costs less than looking
// up thousands of UIDs one by one.
func readRanges(ranges []store.UIDRange) []store.UIDRange {
	if rangesCount(ranges) > 2000 {
		return queryRanges(ranges)
	}
	return ranges
}

// fetchBody returns a message's pre-parsed Info and, when need asks for
// content, its bytes to read at offsets. A body the store has no Info
// for is read whole and parsed, as before Infos were kept.
func (s *session) fetchBody(m *store.MessageBody, need fetchNeeds) (*bodyAt, *message.Info, error) {
	if m.Body.Info == nil {
		if !need.raw {
			return nil, &message.Info{}, nil
		}
		b, info, err := s.readBody(m)
		if err != nil {
			return nil, nil, err
		}
		return &bodyAt{id: m.BodyID, size: int64(len(b)), ra: bytes.NewReader(b)}, info, nil
	}
	if !need.raw {
		return nil, m.Body.Info, nil
	}
	return &bodyAt{ctx: s.ctx, id: m.BodyID, size: max(m.Body.Size, 0), open: m.Open}, m.Body.Info, nil
}

// readBody returns a message's raw bytes and its Info, parsed if the
// store has none.
func (s *session) readBody(m *store.MessageBody) ([]byte, *message.Info, error) {
	b, err := readAll(s.ctx, m.Open, m.Body.Size, -1)
	if err != nil {
		return nil, nil, fmt.Errorf("read message body %d: %w", m.BodyID, err)
	}
	if m.Body.Info == nil {
		return b, message.Parse(b), nil
	}
	return b, m.Body.Info, nil
}

// bodyAt reads a message's raw bytes at offsets (io.ReaderAt), opening
// the blob at the first read: through the blob's own ReaderAt when it
// has one (a file section), else from its start, going on from where
// the last read ended and opening it again to go back. Close it when
// the message is answered; a nil *bodyAt closes as well.
type bodyAt struct {
	ctx  context.Context
	id   int64 // of the body, for errors
	size int64
	open func(context.Context) (io.ReadCloser, error)
	rc   io.ReadCloser
	ra   io.ReaderAt
	pos  int64 // of rc when it is read in sequence
}

func (b *bodyAt) ReadAt(p []byte, off int64) (int, error) {
	if b.ra == nil && (b.rc == nil || off < b.pos) {
		if b.rc != nil {
			b.rc.Close()
			b.rc = nil
		}
		rc, err := b.open(b.ctx)
		if err != nil {
			return 0, fmt.Errorf("open message body %d: %w", b.id, err)
		}
		b.rc, b.pos = rc, 0
		b.ra, _ = rc.(io.ReaderAt)
	}
	if b.ra != nil {
		return b.ra.ReadAt(p, off)
	}
	if off > b.pos {
		k, err := io.CopyN(io.Discard, b.rc, off-b.pos)
		b.pos += k
		if err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(b.rc, p)
	b.pos += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (b *bodyAt) Close() {
	if b != nil && b.rc != nil {
		b.rc.Close()
		b.rc, b.ra = nil, nil
	}
}

// readAll reads the first limit bytes (all when negative) of a body of
// size bytes from open.
func readAll(ctx context.Context, open func(context.Context) (io.ReadCloser, error), size, limit int64) ([]byte, error) {
	rc, err := open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = rc
	n := max(size, 0)
	if limit >= 0 {
		r = io.LimitReader(rc, limit)
		n = min(n, limit)
	}
	b := make([]byte, 0, n+1)
	for {
		k, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = slices.Grow(b, 4096)
		}
	}
}
