package webmail

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// archiveName is the folder the Archive button and the e shortcut move mail
// to when the account has no \Archive folder yet.
const archiveName = "Archive"

// archiveUse is the special-use attribute of the archive folder (RFC 6154
// section 2: "\Archive: This mailbox is used to archive messages"), shown
// to IMAP clients in LIST so that they archive to the same folder.
const archiveUse = `\Archive`

// archiveFolder returns the account's archive folder, creating it on
// first use: the folder with the \Archive attribute, else one named
// Archive (made by the user over IMAP before), else a new Archive with
// the attribute, subscribed so that clients that list subscribed folders
// only show it too. Two first archives at once both end on one folder:
// the one that loses the create finds the winner's.
func (a *app) archiveFolder(ctx context.Context, acct int64) (store.Mailbox, error) {
	find := func() (store.Mailbox, bool, error) {
		mbs, err := a.store.Mailboxes(ctx, acct)
		if err != nil {
			return store.Mailbox{}, false, fmt.Errorf("list folders: %w", err)
		}
		var named *store.Mailbox
		for i, mb := range mbs {
			if mb.SpecialUse == archiveUse {
				return mb, true, nil
			}
			if strings.EqualFold(mb.Name, archiveName) {
				named = &mbs[i]
			}
		}
		if named != nil {
			return *named, true, nil
		}
		return store.Mailbox{}, false, nil
	}
	if mb, ok, err := find(); err != nil || ok {
		return mb, err
	}
	mb, err := a.store.CreateMailbox(ctx, acct, archiveName, archiveUse)
	if errors.Is(err, store.ErrExists) {
		if mb, ok, err := find(); err != nil || ok {
			return mb, err
		}
	}
	if err != nil {
		return store.Mailbox{}, fmt.Errorf("create the Archive folder: %w", err)
	}
	if err := a.store.SetSubscription(ctx, acct, mb.Name, true); err != nil {
		return store.Mailbox{}, fmt.Errorf("subscribe the Archive folder: %w", err)
	}
	return mb, nil
}
