package webmail

import (
	"context"

	"github.com/xtramail/xtramail/internal/store"
)

// inboxUnread is INBOX's unread count as the webmail shows it (badge,
// tab title, live updates): its unseen messages less those marked
// \Deleted, which its list leaves out (store.Webmail.LiveUnseen). IMAP's
// STATUS UNSEEN still counts those: they are in the mailbox until
// EXPUNGE. 0 when it cannot be read.
func (a *app) inboxUnread(ctx context.Context, acct int64) uint32 {
	in, err := a.store.Mailbox(ctx, acct, store.Inbox)
	if err != nil {
		return 0
	}
	unseen, err := a.store.LiveUnseen(ctx, acct)
	if err != nil {
		return in.Unseen
	}
	return unseen[in.ID]
}
