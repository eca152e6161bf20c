package thread

import "time"

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
	idx := make([]int32, len(msgs))
	for i := range idx {
		idx[i] = int32(i)
	}
	Order(msgs, idx, crit)
	out := make([]Msg, len(msgs))
	for i, k := range idx {
		out[i] = msgs[k]
	}
	copy(msgs, out)
}
