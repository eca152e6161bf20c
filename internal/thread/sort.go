package thread

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Msg is what sorting and threading need of one message, all of it
// pre-parsed by the store at ingest.
type Msg struct {
	// UID orders messages when every key ties (RFC 5256 section 3: the
	// sequence number, which follows the UID).
	UID uint32
	// Date is the Date header; zero when missing or unparseable, when
	// the arrival time is used instead (RFC 5256 section 2.2).
	Date    time.Time
	Arrival time.Time // INTERNALDATE
	Size    int64
	Subject string // decoded (RFC 2047), as in store.Message
	// Base and Reply are BaseSubject(Subject) when Based is set: a
	// caller that has them pre-computed (the store keeps them per
	// message) saves deriving them at every sort.
	Base  string
	Reply bool
	Based bool
	// From, To and Cc are the first address's mailbox (local part), as
	// RFC 5256 section 3 sorts them; DisplayFrom and DisplayTo the
	// display name of RFC 5957 section 2 (or the address when it has
	// none).
	From, To, Cc           string
	DisplayFrom, DisplayTo string
	MessageID              string   // without angle brackets
	InReplyTo              string   // the first message id, without brackets
	References             []string // without brackets, oldest first
}

// BaseSubject returns the message's base subject and whether it was a
// reply or forward (see the function BaseSubject).
func (m *Msg) BaseSubject() (string, bool) {
	if m.Based {
		return m.Base, m.Reply
	}
	return BaseSubject(m.Subject)
}

// SentDate is the date SORT's DATE key and threading use: the Date
// header, or the arrival time when there is none (RFC 5256 section 2.2).
func (m *Msg) SentDate() time.Time {
	if m.Date.IsZero() {
		return m.Arrival
	}
	return m.Date
}

// Key is one sort criterion (RFC 5256 section 3, RFC 5957).
type Key uint8

// The sort keys.
const (
	Arrival Key = iota
	Cc
	Date
	From
	Size
	Subject
	To
	DisplayFrom
	DisplayTo
)

// Criterion is a key, possibly reversed.
type Criterion struct {
	Key     Key
	Reverse bool
}

// ParseKey returns the key named by an IMAP sort-key atom (upper case).
func ParseKey(name string) (Key, bool) {
	switch name {
	case "ARRIVAL":
		return Arrival, true
	case "CC":
		return Cc, true
	case "DATE":
		return Date, true
	case "FROM":
		return From, true
	case "SIZE":
		return Size, true
	case "SUBJECT":
		return Subject, true
	case "TO":
		return To, true
	case "DISPLAYFROM":
		return DisplayFrom, true
	case "DISPLAYTO":
		return DisplayTo, true
	}
	return 0, false
}

// sortable holds one message's keys computed once, so that the
// comparison of a 100,000-message sort does no string work.
type sortable struct {
	m       *Msg
	strs    [6]string // base subject, from, to, cc, display from, display to: as needed
	sent    int64
	arrival int64
}

// Sort orders msgs by the criteria, in place; ties go to the lower UID
// (RFC 5256 section 3). Strings compare case-insensitively (the
// i;unicode-casemap collation, approximated by upper-casing).
func Sort(msgs []Msg, crit []Criterion) {
	keys := make([]sortable, len(msgs))
	for i := range msgs {
		m := &msgs[i]
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
		keys[i] = k
	}
	// The keys stay put and an index is sorted: moving 120-byte keys
	// was most of a 100,000-message sort.
	perm := make([]int32, len(keys))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(ia, ib int32) int {
		a, b := &keys[ia], &keys[ib]
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
	})
	out := make([]Msg, len(msgs))
	for i, k := range perm {
		out[i] = *keys[k].m
	}
	copy(msgs, out)
}
