package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/thread"
)

// ThreadMsg is one message of a generated thread corpus (ThreadCorpus).
type ThreadMsg struct {
	ID      string   // Message-ID without brackets; "" for none
	Subject string   // "" for none
	Refs    []string // References, oldest first
	IRT     string   // In-Reply-To
	Date    time.Time
	Missing bool // never delivered: a parent the mailbox does not hold
}

// Raw is the message as delivered.
func (m ThreadMsg) Raw() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: a@example.org\r\nTo: b@example.org\r\nDate: %s\r\n", m.Date.Format(time.RFC1123Z))
	if m.Subject != "" {
		fmt.Fprintf(&b, "Subject: %s\r\n", m.Subject)
	}
	if m.ID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", m.ID)
	}
	if m.IRT != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\n", m.IRT)
	}
	if len(m.Refs) > 0 {
		b.WriteString("References:")
		for _, r := range m.Refs {
			fmt.Fprintf(&b, " <%s>", r)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\nbody\r\n")
	return []byte(b.String())
}

// threadSubjects are the topics of a corpus: few, so that unrelated
// threads share subjects (IMAP THREAD's subject merge).
var threadSubjects = []string{"Lunch", "Quarterly report", "Offsite", "Invoice 42", "Hello"}

// decorate gives a subject one of the forms that have the same base
// subject (RFC 5256 section 2.1): reply and forward prefixes in any case,
// "[fwd: ...]", a "(fwd)" trailer, extra spaces.
func decorate(rng *rand.Rand, s string) string {
	switch rng.IntN(8) {
	case 0:
		return "Re: " + s
	case 1:
		return "FWD:  " + strings.ToLower(s)
	case 2:
		return "[fwd: " + s + "]"
	case 3:
		return s + " (fwd)"
	case 4:
		return "re: Re:" + s
	default:
		return s
	}
}

// ThreadCorpus generates n messages of the kinds that threading meets,
// sent one minute apart (a reply is always dated after what it answers),
// and returns them in a random order of arrival. Each message is:
//   - a new thread with a subject from a small pool, in a decorated form;
//   - a reply with full References (RFC 5322 section 3.6.4: the
//     parent's References, or its In-Reply-To, then its id);
//   - a reply with In-Reply-To only;
//   - a reply whose client kept no header: only the "Re:" subject links
//     it (subject-only match);
//   - a reply whose subject changed;
//   - now and then without a subject, or without a Message-ID.
//
// About one message in seven is Missing (never delivered, as a parent
// deleted or sent elsewhere): its replies still name it.
func ThreadCorpus(rng *rand.Rand, n int, tag string) []ThreadMsg {
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var msgs []ThreadMsg
	for i := range n {
		m := ThreadMsg{ID: fmt.Sprintf("%s-%d@example.org", tag, i), Date: base.Add(time.Duration(i) * time.Minute)}
		switch k := rng.IntN(20); {
		case k < 5 || len(msgs) == 0:
			m.Subject = decorate(rng, threadSubjects[rng.IntN(len(threadSubjects))])
		case k < 6:
			m.Subject = "Re: " + threadSubjects[rng.IntN(len(threadSubjects))]
		case k < 7:
			m.Subject = ""
		default:
			p := msgs[rng.IntN(len(msgs))]
			m.Subject = "Re: " + p.Subject
			if k == 7 {
				m.Subject = "Re: " + threadSubjects[rng.IntN(len(threadSubjects))] + " (was: " + p.Subject + ")"
			}
			if p.ID == "" {
				break
			}
			m.IRT = p.ID
			if k < 14 {
				parent := p.Refs
				if len(parent) == 0 && p.IRT != "" {
					parent = []string{p.IRT}
				}
				m.Refs = append(slices.Clone(parent), p.ID)
			}
		}
		if rng.IntN(25) == 0 {
			m.ID = ""
		}
		m.Missing = rng.IntN(7) == 0
		msgs = append(msgs, m)
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	return msgs
}

// ThreadGroups partitions messages, given as thread.Msg with their UIDs,
// into IMAP THREAD=REFERENCES threads (RFC 5256 section 3): each thread's
// UIDs, sorted; the list sorted by first UID.
func ThreadGroups(msgs []thread.Msg) [][]uint32 {
	var out [][]uint32
	for _, root := range thread.References(msgs) {
		var g []uint32
		var walk func(n *thread.Node)
		walk = func(n *thread.Node) {
			if n.UID != 0 {
				g = append(g, n.UID)
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(root)
		slices.Sort(g)
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b []uint32) int { return int(a[0]) - int(b[0]) })
	return out
}
