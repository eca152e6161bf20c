package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// ConversationRows implements store.ConversationRows: the messages'
// thread keys (messages.thread, one seek each), then those conversations'
// rows of threads with their newest message: what ConversationPage lists,
// for these conversations only.
func (s *Store) ConversationRows(ctx context.Context, accountID, mailboxID int64, ids []int64) ([]store.Conversation, error) {
	if err := s.checkMailbox(ctx, accountID, mailboxID); err != nil {
		return nil, err
	}
	var keys []string
	seen := map[string]bool{}
	const chunk = 100
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), chunk)
		args := []any{mailboxID}
		for _, id := range rest[:n] {
			args = append(args, id)
		}
		rest = rest[n:]
		rows, err := s.query(ctx, "SELECT DISTINCT thread FROM messages WHERE mailbox_id = ? AND thread != '' AND id IN (?"+
			strings.Repeat(", ?", n-1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("conversations of messages of mailbox %d: %w", mailboxID, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("conversations of messages of mailbox %d: %w", mailboxID, err)
			}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("conversations of messages of mailbox %d: %w", mailboxID, err)
		}
	}
	return s.conversationRowsByKey(ctx, mailboxID, keys)
}

// conversationRowsByKey returns the rows of mailboxID's conversations
// keys as ConversationPage lists them now, once each; a
// conversation with no live message there comes back with Messages 0.
func (s *Store) conversationRowsByKey(ctx context.Context, mailboxID int64, keys []string) ([]store.Conversation, error) {
	const chunk = 100
	var out []store.Conversation
	found := map[string]bool{}
	for rest := keys; len(rest) > 0; {
		n := min(len(rest), chunk)
		args := []any{mailboxID}
		for _, k := range rest[:n] {
			args = append(args, k)
		}
		rest = rest[n:]
		rows, err := s.query(ctx, "SELECT t.thread, t.messages, t.unseen, "+qualified("m", messageCols)+
			" FROM threads t JOIN messages m ON m.id = t.newest_id WHERE t.mailbox_id = ? AND t.thread IN (?"+
			strings.Repeat(", ?", n-1)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("conversation rows of mailbox %d: %w", mailboxID, err)
		}
		for rows.Next() {
			var cv store.Conversation
			m, err := scanMessage(prefixScan{rows, []any{&cv.Key, &cv.Messages, &cv.Unseen}})
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("conversation rows of mailbox %d: %w", mailboxID, err)
			}
			cv.Newest = m
			found[cv.Key] = true
			out = append(out, cv)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("conversation rows of mailbox %d: %w", mailboxID, err)
		}
	}
	for _, k := range keys {
		if !found[k] {
			out = append(out, store.Conversation{Key: k})
		}
	}
	return out, nil
}
