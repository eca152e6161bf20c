package webmail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// maxConversation bounds the messages of one conversation view.
const maxConversation = 200

// inReplyTo is the first message id of an In-Reply-To value, without
// angle brackets (RFC 5256 section 3, REFERENCES step 1).
func inReplyTo(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	return ""
}

// threadMsg is what IMAP THREAD's logic needs of a message; n stands for
// the UID, as a conversation spans folders.
func threadMsg(n int, m store.Message, info *message.Info) thread.Msg {
	tm := thread.Msg{UID: uint32(n), Arrival: m.Received, Size: m.Size, Subject: m.Subject, MessageID: m.MessageID}
	if info != nil {
		tm.Date = info.Date
		tm.References = info.References
		tm.InReplyTo = inReplyTo(info.Envelope.InReplyTo)
	}
	return tm
}

// threadOf returns the indexes (into msgs) of the messages in the same
// thread as msgs[self], as IMAP THREAD=REFERENCES (RFC 5256) builds
// threads, oldest first.
func threadOf(msgs []store.Message, infos []*message.Info, self int) []int {
	tms := make([]thread.Msg, len(msgs))
	for i := range msgs {
		tms[i] = threadMsg(i+1, msgs[i], infos[i])
	}
	for _, root := range thread.References(tms) {
		var members []int
		var walk func(n *thread.Node)
		walk = func(n *thread.Node) {
			if n.UID != 0 {
				members = append(members, int(n.UID)-1)
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(root)
		if slices.Contains(members, self) {
			slices.SortFunc(members, func(a, b int) int {
				return cmp.Or(msgs[a].Received.Compare(msgs[b].Received), cmp.Compare(msgs[a].ID, msgs[b].ID))
			})
			return members
		}
	}
	return []int{self}
}

// conversation returns the live messages of m's conversation across the
// account's folders, oldest first: those its References and In-Reply-To
// name, and those that name its thread's first message or m itself,
// threaded with IMAP THREAD's logic.
func (a *app) conversation(ctx context.Context, acct int64, m store.Message, info *message.Info) ([]store.Message, error) {
	ids := slices.Clone(info.References)
	if irt := inReplyTo(info.Envelope.InReplyTo); irt != "" {
		ids = append(ids, irt)
	}
	if m.MessageID == "" && len(ids) == 0 {
		return []store.Message{m}, nil
	}
	root := m.MessageID
	if len(ids) > 0 {
		root = ids[0]
	}
	if m.MessageID != "" {
		ids = append(ids, m.MessageID)
	}
	found, err := a.store.MessagesByMessageID(ctx, acct, ids)
	if err != nil {
		return nil, fmt.Errorf("conversation of message %d: %w", m.ID, err)
	}
	// Replies: messages whose References name the thread's first message,
	// or whose In-Reply-To names m. The index narrows by the ids' words
	// anywhere (naming the header fields would cost a scan of the index's
	// vocabulary for "in", "reply", "to"); related decides.
	keys := []string{idKey(root)}
	if k := idKey(m.MessageID); k != keys[0] {
		keys = append(keys, k)
	}
	for _, key := range keys {
		if key == "" {
			continue
		}
		term := store.SearchTerm{Field: store.SearchAnywhere, Value: key}
		cands, err := a.store.SearchPage(ctx, acct, store.MailSearch{Terms: []store.SearchTerm{term}}, store.Cursor{}, maxConversation)
		if err != nil {
			return nil, fmt.Errorf("conversation of message %d: %w", m.ID, err)
		}
		found = append(found, cands...)
	}
	byID := map[int64]bool{}
	byMsgID := map[string]bool{} // copies of one message (INBOX and Archive) show once
	var msgs []store.Message
	var infos []*message.Info
	self := -1
	add := func(c store.Message, ci *message.Info) {
		if byID[c.ID] || len(msgs) >= maxConversation || c.MessageID != "" && byMsgID[c.MessageID] {
			return
		}
		byID[c.ID] = true
		byMsgID[c.MessageID] = c.MessageID != ""
		if c.ID == m.ID {
			self = len(msgs)
		}
		msgs = append(msgs, c)
		infos = append(infos, ci)
	}
	add(m, info)
	for _, c := range found {
		if byID[c.ID] || c.MessageID != "" && byMsgID[c.MessageID] {
			continue
		}
		b, err := a.store.Body(ctx, acct, c.BodyID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("conversation of message %d: %w", m.ID, err)
		}
		if !related(c, b.Info, ids, root, m.MessageID) {
			continue
		}
		add(c, b.Info)
	}
	var out []store.Message
	for _, i := range threadOf(msgs, infos, self) {
		out = append(out, msgs[i])
	}
	return out, nil
}

// related tells a true member of the conversation from an index
// candidate.
func related(c store.Message, info *message.Info, ids []string, root, self string) bool {
	if slices.Contains(ids, c.MessageID) || slices.Contains(info.References, root) {
		return true
	}
	irt := inReplyTo(info.Envelope.InReplyTo)
	return irt != "" && (irt == self || slices.Contains(ids, irt))
}

// idKey is the part of a message id that the index narrows by: the
// local part, unique to the message, when it is long enough; the domain
// ("example.net") is in most messages and only costs the look-up. The
// candidates are then checked against the whole id (related).
func idKey(id string) string {
	if at := strings.LastIndexByte(id, '@'); at >= 6 {
		return id[:at]
	}
	return id
}
