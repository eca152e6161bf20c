package webmail

import (
	"context"

	"github.com/xtramail/xtramail/internal/store"
)

// liveUnread is every folder's unread count as the webmail shows it
// (store.Webmail.LiveUnseen), with INBOX's id: what a live update sends.
// Empty when it cannot be read.
func (a *app) liveUnread(ctx context.Context, acct int64) (inbox int64, unseen map[int64]uint32) {
	in, err := a.store.Mailbox(ctx, acct, store.Inbox)
	if err != nil {
		return 0, nil
	}
	unseen, err = a.store.LiveUnseen(ctx, acct)
	if err != nil {
		return in.ID, map[int64]uint32{in.ID: in.Unseen}
	}
	return in.ID, unseen
}
