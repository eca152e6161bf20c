package imapserver

import (
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// cmdSort runs SORT and UID SORT (RFC 5256 section 3), with ESORT's
// RETURN options (RFC 5267 section 3: MIN, MAX, ALL, COUNT, PARTIAL of
// RFC 9394), SAVE (RFC 5182 section 2.4) and MODSEQ (RFC 7162 section
// 3.1.5).
func (s *session) cmdSort(c *imapwire.Command) error {
	a := c.Args.(*imapwire.Sort)
	// As in SEARCH, "$" in this command is the result saved before it,
	// and a sort that saves and fails with NO, for its charset too,
	// leaves "$" empty (RFC 5182 section 2.1).
	prev := s.saved
	save := a.Return != nil && a.Return.Save
	if save {
		s.saved = nil
	}
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	crit := make([]thread.Criterion, len(a.Criteria))
	for i, sc := range a.Criteria {
		k, _ := thread.ParseKey(sc.Key) // the parser accepts only known keys
		crit[i] = thread.Criterion{Key: k, Reverse: sc.Reverse}
	}
	useModSeq := imapmsg.UsesModSeq(a.Keys)
	if useModSeq {
		s.condStoreOn()
	}
	e, idx, hits, err := s.sortMessages(a.Keys, prev)
	if err != nil {
		return err
	}
	sorted := sortHits(e, idx, crit)
	num := func(h *sortHit) uint32 {
		if c.UID {
			return h.uid
		}
		return h.seq
	}
	w := s.wr
	if a.Return == nil {
		w.Raw("* SORT")
		for _, p := range sorted {
			w.SP().Num(num(&hits[p]))
		}
		if useModSeq && len(hits) > 0 {
			var highest uint64
			for _, h := range hits {
				highest = max(highest, h.modseq)
			}
			w.Raw(" (MODSEQ ").Num64(highest).Raw(")")
		}
		w.CRLF()
		return nil
	}
	// ESORT: an ESEARCH response in sort order (RFC 5267 section 3.2).
	r := &result{sorted: true, nums: make([]uint32, len(sorted)), uids: make([]uint32, len(sorted)), modseqs: make([]uint64, len(sorted))}
	for i, p := range sorted {
		h := &hits[p]
		r.nums[i], r.uids[i], r.modseqs[i] = num(h), h.uid, h.modseq
	}
	s.answerESearch(c.Tag, c.UID, *a.Return, r, useModSeq)
	return nil
}

// sortHits returns the positions of the hits (whose messages are e.msgs
// at idx, ascending) in the order of crit. A large share of the mailbox
// is served from the entry's kept order of all its messages (computed
// once, extended as mail arrives: linear after the first time); a small
// one is sorted on its own.
func sortHits(e *sortEntry, idx []int32, crit []thread.Criterion) []int32 {
	if len(idx) < len(e.msgs)/8 {
		sub := slices.Clone(idx)
		thread.Order(e.msgs, sub, crit)
		pos := make(map[int32]int32, len(idx))
		for p, i := range idx {
			pos[i] = int32(p)
		}
		for i, m := range sub {
			sub[i] = pos[m]
		}
		return sub
	}
	order := e.order(crit)
	if len(idx) == len(e.msgs) {
		// Every message: the hits are the entry's messages in order.
		return order
	}
	pos := make([]int32, len(e.msgs))
	for p, i := range idx {
		pos[i] = int32(p) + 1
	}
	out := make([]int32, 0, len(idx))
	for _, i := range order {
		if p := pos[i]; p > 0 {
			out = append(out, p-1)
		}
	}
	return out
}

// sortHit is one message sortMessages selected.
type sortHit struct {
	uid, seq uint32
	modseq   uint64
}

// cmdThread runs THREAD and UID THREAD (RFC 5256 sections 3 and 4).
func (s *session) cmdThread(c *imapwire.Command) error {
	a := c.Args.(*imapwire.Thread)
	var algo func([]thread.Msg) []*thread.Node
	switch a.Algorithm {
	case "REFERENCES":
		algo = thread.References
	case "ORDEREDSUBJECT":
		algo = thread.OrderedSubject
	default:
		return errBad("unknown threading algorithm " + a.Algorithm)
	}
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	e, idx, hits, err := s.sortMessages(a.Keys, s.saved)
	if err != nil {
		return err
	}
	// The answer depends only on the messages and their numbers: while
	// those stay the same (a client paging a conversation view), it is
	// given again.
	k := threadKey{a.Algorithm, c.UID}
	out := e.thread(k, hits)
	if out == nil {
		var msgs []thread.Msg
		if c.UID && len(idx) == len(e.msgs) {
			// Every message of the entry, numbered by UID: the
			// entry's own list (fixed once published; the algorithms
			// only read it), not a copy of 100,000 messages.
			msgs = e.msgs
		} else {
			msgs = make([]thread.Msg, len(idx))
			for i, j := range idx {
				msgs[i] = e.msgs[j]
				if !c.UID {
					msgs[i].UID = hits[i].seq
				}
			}
		}
		out = []byte("* THREAD")
		if roots := algo(msgs); len(roots) > 0 {
			out = thread.Format(append(out, ' '), roots)
		}
		e.keepThread(k, hits, out)
	}
	s.wr.RawBytes(out).CRLF()
	return nil
}

// checkCharset accepts the charsets SORT and THREAD must know (RFC 5256
// section 3: US-ASCII and UTF-8).
func checkCharset(cs string) error {
	switch cs {
	case "UTF-8", "US-ASCII":
		return nil
	}
	return &respError{cond: imapwire.NO, code: imapwire.BadCharsetCode([]string{"UTF-8", "US-ASCII"}), text: "unsupported charset"}
}

// sortMessages selects the messages of the view that match keys (chosen
// by matchSelected, as SEARCH chooses them) and returns the server's sort
// cache entry of the mailbox holding them (store.SortRows: the keys the
// store keeps per body, read once), their indices in it and their hits,
// both in UID order. A hit expunged meanwhile by another session has no
// row and is left out.
func (s *session) sortMessages(keys []imapwire.SearchKey, saved []uint32) (*sortEntry, []int32, []sortHit, error) {
	var hits []sortHit
	if isAll(keys) {
		hits = viewHits(&s.sel.view, s.sel.expunged)
	} else {
		err := s.matchSelected(keys, saved, func(im *imapmsg.Message) error {
			hits = append(hits, sortHit{im.UID, im.Seq, im.ModSeq})
			return nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	uids := make([]uint32, len(hits))
	for i := range hits {
		uids[i] = hits[i].uid
	}
	e, idx, err := s.srv.sorts.rows(keyOf(s.sel.mb), uids, s.sortRows)
	if err != nil {
		return nil, nil, nil, err
	}
	if slices.Contains(idx, -1) {
		kept := 0
		for i := range idx {
			if idx[i] >= 0 {
				idx[kept], hits[kept] = idx[i], hits[i]
				kept++
			}
		}
		idx, hits = idx[:kept], hits[:kept]
	}
	return e, idx, hits, nil
}

// viewHits is every message of the view but those known expunged (not
// yet reported, so still numbered), for SORT and THREAD of ALL (as most
// of them say): the view numbers them, and nothing is read from the
// store (matching ALL read every message's flags: a fifth of the CPU of
// the first THREAD of 100,000 messages after a restart). Their modseq is
// left 0: a SORT answers with modseqs only for a MODSEQ search key
// (RFC 7162 section 3.1.5), which ALL is not.
func viewHits(v *uidView, expunged []uint32) []sortHit {
	gone := make(map[uint32]bool, len(expunged))
	for _, u := range expunged {
		gone[u] = true
	}
	hits := make([]sortHit, 0, v.count())
	seq := uint32(0)
	for _, r := range v.ranges {
		for u := uint64(r.First); u <= uint64(r.Last); u++ {
			seq++
			if len(gone) == 0 || !gone[uint32(u)] {
				hits = append(hits, sortHit{uid: uint32(u), seq: seq})
			}
		}
	}
	return hits
}

// sortRows reads the sort rows of the selected mailbox in ranges as
// thread.Msg, in UID order. A body stored before the store kept its keys
// (until the store has filled them in) gets them derived from its Info
// here, so that the sort cache holds only complete rows.
func (s *session) sortRows(ranges []store.UIDRange) ([]thread.Msg, error) {
	// A first SORT of a large mailbox (after a restart) reads every
	// row: in parts read at once on the store's read connections, which
	// divides its wall time by the cores. Each part streams its rows
	// (store.EachSortRow) into its own window of the one list: the rows
	// are never held in another list nor copied (a third of the CPU of
	// a first SORT at 100,000 messages was copying rows).
	parts := splitSpan(queryRanges(ranges), rangesCount(ranges))
	offs := make([]int, len(parts)+1)
	for i, p := range parts {
		offs[i+1] = offs[i] + rangesCount(intersectRanges(ranges, p))
	}
	out := make([]thread.Msg, offs[len(parts)])
	filled := make([]int, len(parts))
	// Rows whose body has no stored keys yet: their place in out and
	// their body, per part.
	type unkeyed struct {
		at   int
		body int64
	}
	noKeys := make([][]unkeyed, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			win := out[offs[i]:offs[i+1]]
			// Counted here and stored once: parts counting in one
			// shared slice wrote to one cache line from every core
			// for every row.
			n := 0
			defer func() { filled[i] = n }()
			errs[i] = s.srv.store.EachSortRow(s.ctx, s.account.ID, s.sel.mb.ID, p, func(r *store.SortRow) {
				// The span read may hold rows not asked for; the
				// window has room for every row asked for.
				if n == len(win) || !rangesContain(ranges, r.UID) {
					return
				}
				if !r.HasKeys {
					noKeys[i] = append(noKeys[i], unkeyed{offs[i] + n, r.BodyID})
				}
				k := &r.Keys
				win[n] = thread.Msg{
					UID: r.UID, Arrival: r.Received, Size: r.Size, MessageID: r.MessageID,
					Date: k.Date, Base: k.BaseSubject, Reply: k.Reply, Based: true,
					From: k.From, To: k.To, Cc: k.Cc, DisplayFrom: k.DisplayFrom, DisplayTo: k.DisplayTo,
					InReplyTo: k.InReplyTo, References: k.References,
				}
				n++
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, u := range slices.Concat(noKeys...) {
		body, err := s.srv.store.Body(s.ctx, s.account.ID, u.body)
		if err != nil {
			return nil, err
		}
		info := body.Info
		if info == nil {
			info = &message.Info{}
		}
		k := store.SortKeysOf(info)
		m := &out[u.at]
		m.Date, m.Base, m.Reply = k.Date, k.BaseSubject, k.Reply
		m.From, m.To, m.Cc, m.DisplayFrom, m.DisplayTo = k.From, k.To, k.Cc, k.DisplayFrom, k.DisplayTo
		m.InReplyTo, m.References = k.InReplyTo, k.References
	}
	// Close the gaps of parts that had fewer rows than asked for
	// (messages expunged meanwhile).
	n := filled[0]
	for i := 1; i < len(parts); i++ {
		n += copy(out[n:], out[offs[i]:offs[i]+filled[i]])
	}
	out = out[:n]
	return out, nil
}

// splitMin is the fewest messages per part of a parallel read.
const splitMin = 20_000

// splitSpan splits the query ranges q of a read of n messages into parts
// read at once, one per core: q as it is when it is several ranges or n
// is small, else its one span cut into equal UID ranges, in order.
func splitSpan(q []store.UIDRange, n int) [][]store.UIDRange {
	k := min(runtime.GOMAXPROCS(0), 4, n/splitMin)
	if len(q) != 1 || k < 2 {
		return [][]store.UIDRange{q}
	}
	first, last := uint64(q[0].First), uint64(q[0].Last)
	step := (last - first + uint64(k)) / uint64(k)
	var out [][]store.UIDRange
	for lo := first; lo <= last; lo += step {
		hi := min(lo+step-1, last)
		out = append(out, []store.UIDRange{{First: uint32(lo), Last: uint32(hi)}})
	}
	return out
}

// isAll reports whether keys match every message: ALL, as most SORT and
// THREAD commands say.
func isAll(keys []imapwire.SearchKey) bool {
	return len(keys) == 1 && keys[0].Op == imapwire.SearchAll
}
