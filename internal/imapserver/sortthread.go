package imapserver

import (
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// cmdSort runs SORT and UID SORT (RFC 5256 section 3), with ESORT's
// RETURN options (RFC 5267 section 3).
func (s *session) cmdSort(c *imapwire.Command) error {
	a := c.Args.(*imapwire.Sort)
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	crit := make([]thread.Criterion, len(a.Criteria))
	needInfo := false
	for i, sc := range a.Criteria {
		k, _ := thread.ParseKey(sc.Key) // the parser accepts only known keys
		crit[i] = thread.Criterion{Key: k, Reverse: sc.Reverse}
		switch k {
		case thread.Arrival, thread.Size, thread.Subject:
		default:
			needInfo = true
		}
	}
	msgs, err := s.sortMessages(a.Keys, c.UID, needInfo)
	if err != nil {
		return err
	}
	thread.Sort(msgs, crit)
	w := s.wr
	if a.Return == nil {
		w.Raw("* SORT")
		for i := range msgs {
			w.SP().Num(msgs[i].UID)
		}
		w.CRLF()
		return nil
	}
	// ESORT: an ESEARCH response whose MIN and MAX are the first and
	// last in sort order and whose ALL keeps the sort order (RFC 5267
	// section 3.2).
	r := a.Return
	w.Raw("* ESEARCH (TAG ").String(c.Tag).Raw(")")
	if c.UID {
		w.Raw(" UID")
	}
	if len(msgs) > 0 {
		if r.Min {
			w.Raw(" MIN ").Num(msgs[0].UID)
		}
		if r.Max {
			w.Raw(" MAX ").Num(msgs[len(msgs)-1].UID)
		}
		if r.All {
			w.Raw(" ALL ").Raw(orderedSet(msgs))
		}
	}
	if r.Count {
		w.Raw(" COUNT ").Raw(strconv.Itoa(len(msgs)))
	}
	w.CRLF()
	return nil
}

// orderedSet writes numbers in their given order as a sequence-set,
// joining only ascending runs into ranges so the order survives.
func orderedSet(msgs []thread.Msg) string {
	var b []byte
	for i := 0; i < len(msgs); {
		j := i
		for j+1 < len(msgs) && msgs[j+1].UID == msgs[j].UID+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(msgs[i].UID), 10)
		if j > i {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(msgs[j].UID), 10)
		}
		i = j + 1
	}
	return string(b)
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
	msgs, err := s.sortMessages(a.Keys, c.UID, true)
	if err != nil {
		return err
	}
	roots := algo(msgs)
	s.wr.Raw("* THREAD")
	if len(roots) > 0 {
		s.wr.SP().RawBytes(thread.Format(nil, roots))
	}
	s.wr.CRLF()
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

// sortMessages returns the messages of the view that match keys (chosen
// by matchSelected, as SEARCH chooses them), with what sorting and
// threading need. Msg.UID holds the UID when uid, else the sequence
// number (both follow the same order). needInfo says whether the
// header-derived keys (dates, addresses, references) are needed; they
// come from the server's per-body cache.
func (s *session) sortMessages(keys []imapwire.SearchKey, uid, needInfo bool) ([]thread.Msg, error) {
	var out []thread.Msg
	err := s.matchSelected(keys, s.saved, true, func(im *imapmsg.Message, m *store.Message) error {
		tm := thread.Msg{UID: m.UID, Arrival: m.Received, Size: m.Size, Subject: m.Subject, MessageID: m.MessageID}
		if !uid {
			tm.UID = im.Seq
		}
		if needInfo {
			k, err := s.srv.sortKeys.get(m.BodyID, func() (*message.Info, error) {
				_, info, err := s.load(m, false)
				return info, err
			})
			if err != nil {
				return err
			}
			k.fill(&tm)
		}
		out = append(out, tm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// isAll reports whether keys match every message: ALL, as most SORT and
// THREAD commands say.
func isAll(keys []imapwire.SearchKey) bool {
	return len(keys) == 1 && keys[0].Op == imapwire.SearchAll
}

// bodyKeys are the header-derived sort and thread keys of one body.
type bodyKeys struct {
	date                   time.Time
	from, to, cc           string
	displayFrom, displayTo string
	inReplyTo              string
	references             []string
}

func (k *bodyKeys) fill(m *thread.Msg) {
	m.Date = k.date
	m.From, m.To, m.Cc = k.from, k.to, k.cc
	m.DisplayFrom, m.DisplayTo = k.displayFrom, k.displayTo
	m.InReplyTo, m.References = k.inReplyTo, k.references
}

// keyCache holds bodyKeys by body id, so that SORT and THREAD on a big
// mailbox decode each message's Info once, not at every command. A body
// never changes and its id is never given out again, so entries need no
// invalidation; a body id reaches the cache only from a message row the
// session's account may read. It is bounded: when full it starts over.
type keyCache struct {
	mu  sync.Mutex
	max int
	m   map[int64]*bodyKeys
}

func newKeyCache(n int) *keyCache { return &keyCache{max: n, m: make(map[int64]*bodyKeys)} }

func (c *keyCache) get(bodyID int64, load func() (*message.Info, error)) (*bodyKeys, error) {
	c.mu.Lock()
	k := c.m[bodyID]
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	info, err := load()
	if err != nil {
		return nil, err
	}
	k = keysOf(info)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[bodyID] = k
	c.mu.Unlock()
	return k, nil
}

// keysOf derives the keys from a body's pre-parsed Info.
func keysOf(info *message.Info) *bodyKeys {
	env := &info.Envelope
	k := &bodyKeys{date: info.Date, references: info.References}
	var dec mime.WordDecoder
	first := func(list []message.Address) (mailbox, display string) {
		for _, a := range list {
			if a.GroupStart || a.GroupEnd {
				continue
			}
			// RFC 5957 section 2: the display name, decoded, or the
			// address when there is none.
			display = a.Name
			if d, err := dec.DecodeHeader(display); err == nil {
				display = d
			}
			if strings.TrimSpace(display) == "" {
				display = a.Mailbox + "@" + a.Host
			}
			return a.Mailbox, display
		}
		return "", ""
	}
	k.from, k.displayFrom = first(env.From)
	k.to, k.displayTo = first(env.To)
	k.cc, _ = first(env.Cc)
	if i := strings.IndexByte(env.InReplyTo, '<'); i >= 0 {
		if j := strings.IndexByte(env.InReplyTo[i:], '>'); j > 0 {
			k.inReplyTo = env.InReplyTo[i+1 : i+j]
		}
	}
	return k
}
