package imapserver

import (
	"slices"
	"strconv"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
)

// result is a SEARCH or SORT result as ESEARCH reports it (RFC 4731, RFC
// 5267 section 3.2, RFC 9394): the messages in result order (ascending
// for SEARCH, sort order for SORT), each as the number the command
// answers with (UID or sequence number), its UID (for SAVE) and its
// modseq (for MODSEQ).
type result struct {
	nums    []uint32
	uids    []uint32
	modseqs []uint64
	sorted  bool // in sort order: ALL and PARTIAL keep the order
}

// answerESearch saves the result when ret says SAVE and writes the
// ESEARCH response, unless SAVE is the only option (RFC 5182 section
// 2.1: then nothing is returned). MIN and MAX are the first and last in
// result order (RFC 5267 section 3.2 for SORT).
func (s *session) answerESearch(tag string, uid bool, ret imapwire.SearchReturn, r *result, withModSeq bool) {
	n := len(r.nums)
	pi, pj := 0, 0
	if ret.Partial != nil {
		pi, pj = ret.Partial.Slice(n)
	}
	onlyUpdate := ret.Update && !ret.Min && !ret.Max && !ret.All && !ret.Count && ret.Partial == nil
	if ret.Save {
		s.saved = savedOf(ret, r, pi, pj)
		if !ret.Min && !ret.Max && !ret.All && !ret.Count && ret.Partial == nil && !ret.Update {
			return
		}
	}
	if ret.Update {
		s.keepLive(tag, uid, ret, r)
	}
	w := s.wr
	w.Raw("* ESEARCH (TAG ").String(tag).Raw(")")
	if uid {
		w.Raw(" UID")
	}
	if n > 0 {
		if ret.Min {
			w.Raw(" MIN ").Num(r.nums[0])
		}
		if ret.Max {
			w.Raw(" MAX ").Num(r.nums[n-1])
		}
		if ret.All {
			w.Raw(" ALL ").Raw(r.set(r.nums))
		}
		if onlyUpdate {
			// RFC 5267 section 4.3: the result as its first update.
			s.writeInitialAddTo(r)
		}
	}
	if ret.Count {
		w.Raw(" COUNT ").Raw(strconv.Itoa(n))
	}
	if ret.Partial != nil {
		// RFC 9394 section 3: the range asked for and the messages at
		// those positions, NIL for none.
		w.Raw(" PARTIAL (").Raw(ret.Partial.String()).SP()
		if pi < pj {
			w.Raw(r.set(r.nums[pi:pj]))
		} else {
			w.Raw("NIL")
		}
		w.Raw(")")
	}
	if withModSeq && n > 0 {
		w.Raw(" MODSEQ ").Num64(resultModSeq(ret, r.modseqs, pi, pj))
	}
	w.CRLF()
}

// set writes numbers as a sequence-set: ascending runs joined into
// ranges, in result order for a sorted result (RFC 5267 section 3.2),
// else compressed freely.
func (r *result) set(nums []uint32) string {
	if !r.sorted {
		return string(numSetOf(nums).AppendTo(nil))
	}
	var b []byte
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(nums[i]), 10)
		if j > i {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(nums[j]), 10)
		}
		i = j + 1
	}
	return string(b)
}

// savedOf is the UIDs SAVE keeps, ascending (RFC 5182 section 2.1): with
// MIN or MAX and neither ALL nor COUNT, only those; with PARTIAL the
// messages it returns (RFC 9394 section 3.2); else every match.
func savedOf(ret imapwire.SearchReturn, r *result, pi, pj int) []uint32 {
	n := len(r.uids)
	var sv []uint32
	switch {
	case n == 0:
		return nil
	case ret.Partial != nil:
		sv = slices.Clone(r.uids[pi:pj])
		if ret.Min {
			sv = append(sv, r.uids[0])
		}
		if ret.Max {
			sv = append(sv, r.uids[n-1])
		}
	case (ret.Min || ret.Max) && !ret.All && !ret.Count:
		if ret.Min {
			sv = append(sv, r.uids[0])
		}
		if ret.Max {
			sv = append(sv, r.uids[n-1])
		}
	default:
		sv = slices.Clone(r.uids)
	}
	slices.Sort(sv)
	return slices.Compact(sv)
}

// resultModSeq is the MODSEQ of an ESEARCH response: the highest modseq
// of the messages it returns (RFC 7162 section 3.1.5, RFC 4731 section
// 3.2). With ALL or COUNT that is every match; otherwise only those MIN,
// MAX and PARTIAL name.
func resultModSeq(ret imapwire.SearchReturn, modseqs []uint64, pi, pj int) uint64 {
	n := len(modseqs)
	if ret.All || ret.Count || !(ret.Min || ret.Max || ret.Partial != nil) {
		return slices.Max(modseqs)
	}
	var m uint64
	if ret.Min {
		m = modseqs[0]
	}
	if ret.Max {
		m = max(m, modseqs[n-1])
	}
	if pi < pj {
		m = max(m, slices.Max(modseqs[pi:pj]))
	}
	return m
}
