package thread

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Order sorts idx, indices into msgs, by the criteria; ties go to the
// lower UID (RFC 5256 section 3). It is Sort without moving messages: a
// caller that keeps a large mailbox's messages keeps an order per set of
// criteria and extends it with Merge as messages arrive.
func Order(msgs []Msg, idx []int32, crit []Criterion) {
	keys := make([]sortable, len(idx))
	for i, j := range idx {
		keys[i] = sortableOf(&msgs[j], crit)
	}
	// The keys stay put and a permutation of them is sorted: moving
	// 120-byte keys was most of a 100,000-message sort.
	perm := make([]int32, len(keys))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(ia, ib int32) int { return compareSortable(&keys[ia], &keys[ib], crit) })
	out := make([]int32, len(idx))
	for i, p := range perm {
		out[i] = idx[p]
	}
	copy(idx, out)
}

// Merge returns the union of a and b, indices into msgs each ordered by
// the criteria (Order), in that order: the cost of adding a few new
// messages to the order of many is linear.
func Merge(msgs []Msg, a, b []int32, crit []Criterion) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if Compare(&msgs[a[i]], &msgs[b[j]], crit) <= 0 {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// Compare compares two messages by the criteria, then by UID: the order
// Sort and Order give.
func Compare(a, b *Msg, crit []Criterion) int {
	for _, c := range crit {
		var r int
		switch c.Key {
		case Arrival:
			r = a.Arrival.Compare(b.Arrival)
		case Date:
			r = cmp.Compare(a.SentDate().UnixNano(), b.SentDate().UnixNano())
		case Size:
			r = cmp.Compare(a.Size, b.Size)
		case Subject:
			sa, _ := a.BaseSubject()
			sb, _ := b.BaseSubject()
			r = strings.Compare(sa, sb)
		case From:
			r = compareFold(a.From, b.From)
		case To:
			r = compareFold(a.To, b.To)
		case Cc:
			r = compareFold(a.Cc, b.Cc)
		case DisplayFrom:
			r = compareFold(a.DisplayFrom, b.DisplayFrom)
		case DisplayTo:
			r = compareFold(a.DisplayTo, b.DisplayTo)
		}
		if c.Reverse {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return cmp.Compare(a.UID, b.UID)
}

// compareFold is strings.Compare(strings.ToUpper(a), strings.ToUpper(b))
// without allocating for ASCII strings.
func compareFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca >= utf8.RuneSelf || cb >= utf8.RuneSelf {
			return strings.Compare(strings.ToUpper(a[i:]), strings.ToUpper(b[i:]))
		}
		if 'a' <= ca && ca <= 'z' {
			ca -= 'a' - 'A'
		}
		if 'a' <= cb && cb <= 'z' {
			cb -= 'a' - 'A'
		}
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

// sortableOf computes a message's keys for the criteria once.
func sortableOf(m *Msg, crit []Criterion) sortable {
	k := sortable{m: m, sent: m.SentDate().UnixNano(), arrival: m.Arrival.UnixNano()}
	for _, c := range crit {
		switch c.Key {
		case Subject:
			k.strs[0], _ = m.BaseSubject()
		case From:
			k.strs[1] = strings.ToUpper(m.From)
		case To:
			k.strs[2] = strings.ToUpper(m.To)
		case Cc:
			k.strs[3] = strings.ToUpper(m.Cc)
		case DisplayFrom:
			k.strs[4] = strings.ToUpper(m.DisplayFrom)
		case DisplayTo:
			k.strs[5] = strings.ToUpper(m.DisplayTo)
		}
	}
	return k
}

func compareSortable(a, b *sortable, crit []Criterion) int {
	for _, c := range crit {
		var r int
		switch c.Key {
		case Arrival:
			r = cmp.Compare(a.arrival, b.arrival)
		case Date:
			r = cmp.Compare(a.sent, b.sent)
		case Size:
			r = cmp.Compare(a.m.Size, b.m.Size)
		case Subject:
			r = strings.Compare(a.strs[0], b.strs[0])
		case From:
			r = strings.Compare(a.strs[1], b.strs[1])
		case To:
			r = strings.Compare(a.strs[2], b.strs[2])
		case Cc:
			r = strings.Compare(a.strs[3], b.strs[3])
		case DisplayFrom:
			r = strings.Compare(a.strs[4], b.strs[4])
		case DisplayTo:
			r = strings.Compare(a.strs[5], b.strs[5])
		}
		if c.Reverse {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return cmp.Compare(a.m.UID, b.m.UID)
}
