package imapserver

import (
	"errors"
	"slices"
	"sort"
	"strconv"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4): a SEARCH or SORT
// with the UPDATE return option leaves a live result behind, which the
// server keeps up to date with unsolicited ESEARCH responses:
//
//	* ESEARCH (TAG "B01") UID REMOVEFROM (0 12) ADDTO (0 30:31)
//
// until the client sends CANCELUPDATE or the mailbox is closed. The
// updates are driven by the same change feed that brings EXISTS, FETCH
// FLAGS and EXPUNGE: sync re-reads what changed (refresh), and the
// session's own writes report themselves (ownChange, ownAppend). Only the
// messages that changed are matched again; a search that names sequence
// numbers or "*" is matched again whole, since an expunge or a new
// message moves what those name.
//
// A SEARCH result is unordered: its ADDTO and REMOVEFROM carry position 0
// (RFC 5267 section 4.3.2). A SORT result is ordered: each message comes
// with its 1-based position in the result. Sort keys never change once a
// message is delivered (store.SortRow), so a message in the result never
// moves: only additions and removals are sent. REMOVEFROM pairs come in
// descending position and ADDTO pairs in ascending position, so each
// position is right both in the result as it was (removals) or will be
// (additions) and when the pairs are applied one after the other.

// maxLiveResults bounds the live results of one session: past it, a new
// one gets NOUPDATE (RFC 5267 section 4.3.1).
const maxLiveResults = 10

// liveResult is one result kept up to date.
type liveResult struct {
	tag string
	uid bool // the client gets UIDs, else sequence numbers
	// keys and saved are the search as the command ran: "$" stays the
	// result saved before it (RFC 5182 section 2.1).
	keys  []imapwire.SearchKey
	saved []uint32
	// volatile: the keys name sequence numbers or "*", whose meaning
	// moves with expunges and new messages.
	volatile bool
	// modseq: the keys hold MODSEQ, so an ADDTO carries the highest
	// modseq of the messages it adds (see applyLive).
	modseq  bool
	crit    []thread.Criterion // nil for SEARCH
	members []uint32           // the result's UIDs, ascending
	order   []uint32           // SORT: the same UIDs in sort order
}

// errNoSortRow: a message of a sorted live result has no sort row.
var errNoSortRow = errors.New("a message of the result has no sort row")

// posNum is one message of an ADDTO or REMOVEFROM: its position in a
// sorted result (0 for SEARCH) and its UID.
type posNum struct {
	pos int
	uid uint32
}

// keepLive makes the result r of the current command (SEARCH or SORT with
// RETURN (... UPDATE)) live. When it cannot, it says so with an untagged
// NO [NOUPDATE "tag"] (RFC 5267 section 4.3.1) and the command's result is
// answered all the same.
func (s *session) keepLive(tag string, uid bool, ret imapwire.SearchReturn, r *result) {
	sel := s.sel
	noUpdate := func(text string) {
		s.wr.Untagged(imapwire.NO, imapwire.NoUpdateCode(tag), text)
	}
	switch {
	case ret.Partial != nil:
		// A window of the result moves with every change before it;
		// the whole result is what is kept.
		noUpdate("a PARTIAL result is not kept up to date")
		return
	case len(sel.live) >= maxLiveResults:
		noUpdate("too many results kept up to date; CANCELUPDATE some")
		return
	case slices.ContainsFunc(sel.live, func(l *liveResult) bool { return l.tag == tag }):
		noUpdate("a result with this tag is already kept up to date")
		return
	}
	lr := &liveResult{tag: tag, uid: uid, saved: s.cmdSaved}
	switch a := s.cmd.Args.(type) {
	case *imapwire.Search:
		lr.keys = a.Keys
	case *imapwire.Sort:
		lr.keys = a.Keys
		lr.crit = make([]thread.Criterion, len(a.Criteria))
		for i, sc := range a.Criteria {
			k, _ := thread.ParseKey(sc.Key) // the parser accepts only known keys
			lr.crit[i] = thread.Criterion{Key: k, Reverse: sc.Reverse}
		}
		lr.order = slices.Clone(r.uids)
	default:
		noUpdate("this command's result cannot be kept up to date")
		return
	}
	lr.volatile = keysVolatile(lr.keys)
	lr.modseq = imapmsg.UsesModSeq(lr.keys)
	lr.members = slices.Clone(r.uids)
	slices.Sort(lr.members)
	sel.live = append(sel.live, lr)
}

// keysVolatile reports whether keys name sequence numbers or "*".
func keysVolatile(keys []imapwire.SearchKey) bool {
	for i := range keys {
		k := &keys[i]
		if k.Op == imapwire.SearchSeqSet && !k.Set.Dollar {
			return true
		}
		for _, r := range k.Set.Ranges {
			if r.First == imapwire.Star || r.Last == imapwire.Star {
				return true
			}
		}
		if keysVolatile(k.Keys) {
			return true
		}
	}
	return false
}

// writeInitialAddTo writes the first result of a command whose only
// return option is UPDATE as ADDTO data (RFC 5267 section 4.3.3): the
// client builds its result from the updates alone.
func (s *session) writeInitialAddTo(r *result) {
	adds := make([]posNum, len(r.uids))
	for i, u := range r.uids {
		adds[i] = posNum{uid: u}
		if r.sorted {
			adds[i].pos = i + 1
		}
	}
	s.wr.Raw(" ADDTO (").Raw(s.updatePairs(r.sorted, r.nums, adds)).Raw(")")
}

// liveChanged brings the live results up to date for the messages uids
// (ascending or not), which arrived or whose flags changed; with nil, only
// the volatile results are matched again (after an expunge).
func (s *session) liveChanged(uids []uint32) {
	sel := s.sel
	if sel == nil || len(sel.live) == 0 {
		return
	}
	uids = slices.Clone(uids)
	slices.Sort(uids)
	uids = slices.Compact(uids)
	for _, lr := range slices.Clone(sel.live) {
		var within []store.UIDRange // nil: the whole view
		if !lr.volatile {
			if within = sel.view.byUIDList(uids); len(within) == 0 {
				continue
			}
		}
		var matched []uint32
		var modseqs []uint64 // of matched
		err := s.matchWithin(lr.keys, lr.saved, within, func(m *imapmsg.Message) error {
			matched = append(matched, m.UID)
			modseqs = append(modseqs, m.ModSeq)
			return nil
		})
		if err != nil {
			s.dropLive(lr, err)
			continue
		}
		var adds, removes []uint32
		var addModSeq uint64
		for i, u := range matched {
			if _, in := slices.BinarySearch(lr.members, u); !in {
				adds = append(adds, u)
				addModSeq = max(addModSeq, modseqs[i])
			}
		}
		for _, u := range lr.members {
			if within != nil && !rangesContain(within, u) {
				continue
			}
			if _, in := slices.BinarySearch(matched, u); !in {
				removes = append(removes, u)
			}
		}
		if err := s.applyLive(lr, adds, removes, addModSeq); err != nil {
			s.dropLive(lr, err)
		}
	}
}

// liveExpunged takes expunged messages (ascending UIDs, still in the
// view) out of the live results, before the EXPUNGE or VANISHED
// responses renumber the view (RFC 5267 section 4.3.4: the numbers are
// those the client knows when it reads the REMOVEFROM).
func (s *session) liveExpunged(uids []uint32) {
	sel := s.sel
	if sel == nil {
		return
	}
	for _, lr := range sel.live {
		var removes []uint32
		for _, u := range uids {
			if _, in := slices.BinarySearch(lr.members, u); in {
				removes = append(removes, u)
			}
		}
		// Removing cannot fail: no sort rows are read.
		_ = s.applyLive(lr, nil, removes, 0)
	}
}

// applyLive takes removes (ascending UIDs, members) out of lr and puts
// adds (ascending UIDs, in the view, the highest of their modseqs
// addModSeq) in, and writes the ESEARCH response that tells the client.
//
// Neither RFC 5267 nor RFC 7162 says whether an update carries MODSEQ.
// An update is an ESEARCH response of the searching command, and RFC
// 7162 section 3.1.5 (with RFC 4731 section 3.2) gives an ESEARCH
// response of a search that uses MODSEQ the highest modseq of the
// messages it returns, as the command's own response here does: so an
// ADDTO of such a result ends with "MODSEQ n", n the highest modseq of
// the messages it adds, and a REMOVEFROM alone (it returns no message)
// has none. A client that tracks the result with CONDSTORE can then
// raise its known modseq without fetching.
func (s *session) applyLive(lr *liveResult, adds, removes []uint32, addModSeq uint64) error {
	if len(adds) == 0 && len(removes) == 0 {
		return nil
	}
	var rem, add []posNum
	for _, u := range removes {
		rem = append(rem, posNum{uid: u})
	}
	if lr.crit != nil {
		for i := range rem {
			rem[i].pos = slices.Index(lr.order, rem[i].uid) + 1
		}
		// Descending, so that each position holds while the earlier
		// pairs are applied.
		slices.SortFunc(rem, func(a, b posNum) int { return b.pos - a.pos })
		for _, p := range rem {
			lr.order = slices.Delete(lr.order, p.pos-1, p.pos)
		}
	}
	members := lr.members[:0:0]
	for _, u := range lr.members {
		if _, gone := slices.BinarySearch(removes, u); !gone {
			members = append(members, u)
		}
	}
	if lr.crit != nil && len(adds) > 0 {
		var err error
		if add, err = s.sortInsert(lr, adds); err != nil {
			return err
		}
	} else {
		for _, u := range adds {
			add = append(add, posNum{uid: u})
		}
	}
	members = append(members, adds...)
	slices.Sort(members)
	lr.members = members

	w := s.wr
	w.Raw("* ESEARCH (TAG ").String(lr.tag).Raw(")")
	if lr.uid {
		w.Raw(" UID")
	}
	if len(rem) > 0 {
		w.Raw(" REMOVEFROM (").Raw(s.updatePairs(lr.crit != nil, s.numsOf(lr.uid, rem), rem)).Raw(")")
	}
	if len(add) > 0 {
		w.Raw(" ADDTO (").Raw(s.updatePairs(lr.crit != nil, s.numsOf(lr.uid, add), add)).Raw(")")
		if lr.modseq && addModSeq > 0 {
			w.Raw(" MODSEQ ").Num64(addModSeq)
		}
	}
	w.CRLF()
	return nil
}

// numsOf is what the client calls the messages: UIDs or sequence numbers
// in the view as it is now.
func (s *session) numsOf(uid bool, ps []posNum) []uint32 {
	nums := make([]uint32, len(ps))
	for i, p := range ps {
		nums[i] = p.uid
		if !uid {
			nums[i], _ = s.sel.view.seqOf(p.uid)
		}
	}
	return nums
}

// updatePairs writes the inside of ADDTO or REMOVEFROM: for SEARCH one
// "0 set" pair; for SORT a "position set" pair per run of messages at
// consecutive positions with consecutive ascending numbers, in the order
// given.
func (s *session) updatePairs(sorted bool, nums []uint32, ps []posNum) string {
	if !sorted {
		sortedNums := slices.Clone(nums)
		slices.Sort(sortedNums)
		return "0 " + string(numSetOf(sortedNums).AppendTo(nil))
	}
	var b []byte
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1].pos == ps[j].pos+1 && nums[j+1] == nums[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(ps[i].pos), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(nums[i]), 10)
		if j > i {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(nums[j]), 10)
		}
		i = j + 1
	}
	return string(b)
}

// sortInsert puts adds (UIDs) into lr.order at their places and returns
// their positions, ascending. The messages' sort keys come from the
// server's sort cache; a message it cannot give (expunged meanwhile and
// no longer held) makes the result impossible to keep.
func (s *session) sortInsert(lr *liveResult, adds []uint32) ([]posNum, error) {
	need := append(slices.Clone(lr.order), adds...)
	slices.Sort(need)
	e, idx, err := s.srv.sorts.rows(keyOf(s.sel.mb), need, s.sortRows)
	if err != nil {
		return nil, err
	}
	if slices.Contains(idx, -1) {
		return nil, errNoSortRow
	}
	msgOf := func(u uint32) *thread.Msg {
		i, _ := slices.BinarySearch(need, u)
		return &e.msgs[idx[i]]
	}
	added := make([]*thread.Msg, len(adds))
	for i, u := range adds {
		added[i] = msgOf(u)
	}
	slices.SortFunc(added, func(a, b *thread.Msg) int { return thread.Compare(a, b, lr.crit) })
	out := make([]posNum, 0, len(added))
	for _, m := range added {
		// The first place whose message sorts after m.
		i := sort.Search(len(lr.order), func(i int) bool { return thread.Compare(m, msgOf(lr.order[i]), lr.crit) < 0 })
		lr.order = slices.Insert(lr.order, i, m.UID)
		out = append(out, posNum{pos: i + 1, uid: m.UID})
	}
	return out, nil
}

// dropLive stops keeping lr and tells the client with an untagged NO
// [NOUPDATE "tag"] (RFC 5267 section 4.3.1).
func (s *session) dropLive(lr *liveResult, err error) {
	s.log.Warn("IMAP result no longer kept up to date", "tag", lr.tag, "err", err)
	s.sel.live = slices.DeleteFunc(s.sel.live, func(l *liveResult) bool { return l == lr })
	s.wr.Untagged(imapwire.NO, imapwire.NoUpdateCode(lr.tag), "this result is no longer kept up to date")
}

// cmdCancelUpdate runs CANCELUPDATE (RFC 5267 section 4.3.5): the results
// of the named commands are no longer kept up to date. An unknown tag is a
// NO and cancels nothing.
func (s *session) cmdCancelUpdate(c *imapwire.Command) error {
	a := c.Args.(*imapwire.CancelUpdate)
	sel := s.sel
	for _, t := range a.Tags {
		if !slices.ContainsFunc(sel.live, func(l *liveResult) bool { return l.tag == t }) {
			return errNo("", "no result of tag "+strconv.Quote(t)+" is kept up to date")
		}
	}
	sel.live = slices.DeleteFunc(sel.live, func(l *liveResult) bool { return slices.Contains(a.Tags, l.tag) })
	return nil
}
