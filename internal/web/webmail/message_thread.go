package webmail

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/xtramail/xtramail/internal/store"
)

// maxConversation bounds the messages of one conversation view.
const maxConversation = 200

// conversation returns the live messages of m's conversation across the
// account's folders, oldest first, as the store keys conversations when
// mail arrives (store.Conversations: References and In-Reply-To chains
// in any order of arrival, and roots merged by base subject as IMAP
// THREAD=REFERENCES merges them): one indexed read, however the thread
// was built. A message with copies in several folders (INBOX and
// Archive) shows once: m itself, else its first copy. Of a conversation
// longer than maxConversation the newest show, and m in its place.
func (a *app) conversation(ctx context.Context, acct int64, m store.Message) ([]store.Message, error) {
	all, err := a.store.ConversationOf(ctx, acct, m.ID, maxConversation)
	if err != nil {
		return nil, fmt.Errorf("conversation of message %d: %w", m.ID, err)
	}
	if !slices.ContainsFunc(all, func(c store.Message) bool { return c.ID == m.ID }) {
		at, _ := slices.BinarySearchFunc(all, m, func(c, m store.Message) int {
			return cmp.Or(c.Received.Compare(m.Received), cmp.Compare(c.ID, m.ID))
		})
		all = slices.Insert(all, at, m)
	}
	shown := map[string]int{} // Message-ID → index in out
	var out []store.Message
	for _, c := range all {
		if c.MessageID == "" {
			out = append(out, c)
			continue
		}
		if i, ok := shown[c.MessageID]; ok {
			if c.ID == m.ID {
				out[i] = c
			}
			continue
		}
		shown[c.MessageID] = len(out)
		out = append(out, c)
	}
	return out, nil
}
