package sqlite

import (
	"context"

	"github.com/xtramail/xtramail/internal/store"
)

func (s *Store) MessageCopies(ctx context.Context, sc store.Scope, messageID string, limit int) ([]store.MessageCopy, error) {
	if messageID == "" {
		return nil, nil
	}
	if limit <= 0 {
		limit = 100
	}
	c, args := domainIn(sc, "m.domain_id")
	args = append([]any{messageID}, args...)
	return collect("message copies", func(sc scanner) (store.MessageCopy, error) {
		var mc store.MessageCopy
		err := sc.Scan(&mc.AccountID, &mc.Address, &mc.ID, &mc.Mailbox, &mc.Deleted)
		return mc, err
	})(s.query(ctx, `SELECT m.account_id, a.address, m.id, b.name, m.expunged_modseq != 0
		FROM messages m JOIN accounts a ON a.id = m.account_id JOIN mailboxes b ON b.id = m.mailbox_id
		WHERE m.message_id = ? AND `+c+` ORDER BY a.address, m.id LIMIT ?`, append(args, limit)...))
}
