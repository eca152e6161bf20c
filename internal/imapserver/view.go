package imapserver

import (
	"sort"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// uidView is a session's map from message sequence numbers to UIDs (RFC
// 9051 section 2.3.1.2), kept as ranges of consecutive UIDs. Mailboxes
// are mostly dense (UIDs only grow, and deletions are few next to
// deliveries), so a 100,000-message INBOX is a handful of ranges instead
// of a 400 KB slice per session. cum[i] is the number of messages before
// ranges[i].
type uidView struct {
	ranges []store.UIDRange
	cum    []uint32
	n      uint32
}

// newView builds a view from ascending UIDs.
func newView(uids []uint32) uidView {
	var v uidView
	for _, u := range uids {
		v.push(u)
	}
	return v
}

// push adds a UID above every UID of the view.
func (v *uidView) push(u uint32) {
	if k := len(v.ranges); k > 0 && v.ranges[k-1].Last+1 == u {
		v.ranges[k-1].Last = u
	} else {
		v.ranges = append(v.ranges, store.UIDRange{First: u, Last: u})
		v.cum = append(v.cum, v.n)
	}
	v.n++
}

func (v *uidView) count() uint32 { return v.n }

func (v *uidView) maxUID() uint32 {
	if len(v.ranges) == 0 {
		return 0
	}
	return v.ranges[len(v.ranges)-1].Last
}

// uidAt returns the UID of a sequence number.
func (v *uidView) uidAt(seq uint32) (uint32, bool) {
	if seq == 0 || seq > v.n {
		return 0, false
	}
	i := sort.Search(len(v.cum), func(i int) bool { return v.cum[i] >= seq }) - 1
	return v.ranges[i].First + (seq - 1 - v.cum[i]), true
}

// seqOf returns the sequence number of a UID.
func (v *uidView) seqOf(uid uint32) (uint32, bool) {
	i := v.rangeOf(uid)
	if i < 0 {
		return 0, false
	}
	return v.cum[i] + (uid - v.ranges[i].First) + 1, true
}

// rangeOf returns the index of the range holding uid, or -1.
func (v *uidView) rangeOf(uid uint32) int {
	i := sort.Search(len(v.ranges), func(i int) bool { return v.ranges[i].Last >= uid })
	if i < len(v.ranges) && v.ranges[i].First <= uid {
		return i
	}
	return -1
}

func (v *uidView) contains(uid uint32) bool { return v.rangeOf(uid) >= 0 }

// removeSorted removes ascending UIDs and returns, for each one removed,
// its sequence number at the moment of its removal: the numbers to send
// as "* n EXPUNGE" in that order (RFC 9051 section 7.5.1).
func (v *uidView) removeSorted(uids []uint32) []uint32 {
	var seqs []uint32
	var out uidView
	j := 0
	var kept uint32
	for _, r := range v.ranges {
		for u := r.First; ; {
			// Skip removals below the current position.
			for j < len(uids) && uids[j] < u {
				j++
			}
			if j >= len(uids) || uids[j] > r.Last {
				out.pushRange(u, r.Last)
				kept += r.Last - u + 1
				break
			}
			if uids[j] > u {
				out.pushRange(u, uids[j]-1)
				kept += uids[j] - u
			}
			seqs = append(seqs, kept+1)
			u = uids[j] + 1
			j++
			if uids[j-1] == r.Last {
				break
			}
		}
	}
	*v = out
	return seqs
}

// pushRange adds first..last above every UID of the view.
func (v *uidView) pushRange(first, last uint32) {
	if first > last {
		return
	}
	if k := len(v.ranges); k > 0 && v.ranges[k-1].Last+1 == first {
		v.ranges[k-1].Last = last
	} else {
		v.ranges = append(v.ranges, store.UIDRange{First: first, Last: last})
		v.cum = append(v.cum, v.n)
	}
	v.n += last - first + 1
}

// bySeq returns the UID ranges of the messages that the sequence numbers
// in set name, ascending. Numbers past the end are ignored.
func (v *uidView) bySeq(set imapwire.NumSet) []store.UIDRange {
	var out uidRanges
	for _, r := range set.Resolve(v.n) {
		first, last := r.First, min(r.Last, v.n)
		for first <= last && first >= 1 {
			i := sort.Search(len(v.cum), func(i int) bool { return v.cum[i] >= first }) - 1
			rg := v.ranges[i]
			u := rg.First + (first - 1 - v.cum[i])
			avail := rg.Last - u // more UIDs in this range after u
			take := min(avail, last-first)
			out.add(u, u+take)
			first += take + 1
		}
	}
	return out
}

// byUID returns the UIDs of set that are in the view, as ascending ranges
// ("*" is the highest UID of the view).
func (v *uidView) byUID(set imapwire.NumSet) []store.UIDRange {
	var out uidRanges
	for _, r := range set.Resolve(v.maxUID()) {
		i := sort.Search(len(v.ranges), func(i int) bool { return v.ranges[i].Last >= r.First })
		for ; i < len(v.ranges) && v.ranges[i].First <= r.Last; i++ {
			out.add(max(r.First, v.ranges[i].First), min(r.Last, v.ranges[i].Last))
		}
	}
	return out
}

// byUIDList returns the UIDs in the view of an ascending list.
func (v *uidView) byUIDList(uids []uint32) []store.UIDRange {
	var out uidRanges
	for _, u := range uids {
		if v.contains(u) {
			out.add(u, u)
		}
	}
	return out
}

// uidRanges is an ascending list of ranges that merges adjacent ones.
type uidRanges []store.UIDRange

func (rs *uidRanges) add(first, last uint32) {
	if k := len(*rs); k > 0 && (*rs)[k-1].Last+1 >= first {
		(*rs)[k-1].Last = max((*rs)[k-1].Last, last)
		return
	}
	*rs = append(*rs, store.UIDRange{First: first, Last: last})
}

// removeSorted removes ascending UIDs from the ranges.
func (rs *uidRanges) removeSorted(uids []uint32) {
	if len(*rs) == 0 || len(uids) == 0 {
		return
	}
	var out uidRanges
	k := 0
	for _, r := range *rs {
		first := r.First
		for k < len(uids) && uids[k] < first {
			k++
		}
		for k < len(uids) && uids[k] <= r.Last {
			if uids[k] > first {
				out = append(out, store.UIDRange{First: first, Last: uids[k] - 1})
			}
			first = uids[k] + 1
			k++
		}
		if first <= r.Last && first != 0 {
			out = append(out, store.UIDRange{First: first, Last: r.Last})
		}
	}
	*rs = out
}

// rangesContain reports whether ascending ranges hold u.
func rangesContain(rs []store.UIDRange, u uint32) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Last >= u })
	return i < len(rs) && rs[i].First <= u
}

// intersectRanges returns the UIDs both a and b hold (each ascending and
// disjoint), as ranges.
func intersectRanges(a, b []store.UIDRange) []store.UIDRange {
	var out []store.UIDRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		first, last := max(a[i].First, b[j].First), min(a[i].Last, b[j].Last)
		if first <= last {
			out = append(out, store.UIDRange{First: first, Last: last})
		}
		if a[i].Last < b[j].Last {
			i++
		} else {
			j++
		}
	}
	return out
}

// rangesCount counts the UIDs of ranges.
func rangesCount(rs []store.UIDRange) int {
	n := 0
	for _, r := range rs {
		n += int(r.Last-r.First) + 1
	}
	return n
}

// rangesUIDs lists the UIDs of ranges.
func rangesUIDs(rs []store.UIDRange) []uint32 {
	out := make([]uint32, 0, rangesCount(rs))
	for _, r := range rs {
		for u := uint64(r.First); u <= uint64(r.Last); u++ {
			out = append(out, uint32(u))
		}
	}
	return out
}

// queryRanges returns what to ask the store for: a few ranges as they
// are, more as their bounding range, which SQLite reads from its index
// where OR'ed ranges make it scan the mailbox (callers filter results with
// rangesContain).
func queryRanges(rs []store.UIDRange) []store.UIDRange {
	if len(rs) <= 4 {
		return rs
	}
	return []store.UIDRange{{First: rs[0].First, Last: rs[len(rs)-1].Last}}
}

// numSetOf turns ascending UIDs or sequence numbers into a NumSet.
func numSetOf(nums []uint32) imapwire.NumSet {
	var s imapwire.NumSet
	for _, n := range nums {
		s.AddNum(n)
	}
	return s
}

// resolve turns a command's set into the UID ranges of the view that it
// names: sequence numbers, UIDs, or the saved search result "$" (RFC
// 5182). A sequence number out of range is a BAD (RFC 9051 section
// 6.4.5).
func (s *session) resolve(set imapwire.NumSet, uid bool) ([]store.UIDRange, error) {
	v := &s.sel.view
	if set.Dollar {
		return v.byUIDList(s.saved), nil
	}
	if uid {
		return v.byUID(set), nil
	}
	for _, r := range set.Ranges {
		// "5:*" with 3 messages is 3:5, but "*" names no message of an
		// empty mailbox: RFC 9051 section 9 (seq-number) asks for BAD to
		// a sequence number past the last message, "*" on an empty
		// mailbox included, as Dovecot answers FETCH, STORE, COPY and
		// MOVE by number. UID sets stay valid: "UID FETCH 1:*" on an
		// empty mailbox is an empty answer.
		if v.count() == 0 && (r.First == imapwire.Star || r.Last == imapwire.Star) {
			return nil, errBad("no message sequence numbers: the mailbox is empty")
		}
		if r.First != imapwire.Star && r.Last != imapwire.Star && (r.First > v.count() || r.Last > v.count()) {
			return nil, errBad("message sequence number out of range")
		}
	}
	return v.bySeq(set), nil
}
