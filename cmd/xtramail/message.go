package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

func messageCommands() []command {
	return []command{
		{name: "message list", args: "ADDRESS", summary: "list an address's messages (--deleted: those a user deleted, still restorable)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: messageList},
		{name: "message restore", args: "ADDRESS ID...", summary: "bring deleted messages back into their folder (IDs from message list --deleted)",
			minArgs: 2, maxArgs: -1, data: dataExisting, setup: messageRestore},
	}
}

// messageRow is a message in `message list --json`.
type messageRow struct {
	ID        int64     `json:"id"`
	Mailbox   string    `json:"mailbox"`
	UID       uint32    `json:"uid,omitempty"`
	Received  time.Time `json:"received"`
	Size      int64     `json:"size"`
	From      string    `json:"from"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id"`
	Deleted   bool      `json:"deleted"`
}

func messageList(fs *flag.FlagSet) action {
	deleted := fs.Bool("deleted", false, "list deleted messages that can still be restored, instead of the live ones")
	mailbox := fs.String("mailbox", "", "only this `folder` (e.g. INBOX, Sent)")
	since := fs.String("since", "", "only messages received after this: 7d, 24h, 2006-01-02 or an RFC 3339 time")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		after, err := parseWhen(*since, time.Now())
		if err != nil {
			return usageErr("message list: --since: %v", err)
		}
		a, err := e.store.Account(ctx, args[0])
		if err != nil {
			return err
		}
		mbs, err := e.store.Mailboxes(ctx, a.ID)
		if err != nil {
			return err
		}
		if *mailbox != "" {
			mb, err := e.store.Mailbox(ctx, a.ID, *mailbox)
			if err != nil {
				return err
			}
			mbs = []store.Mailbox{mb}
		}
		var rows []messageRow
		for _, mb := range mbs {
			list := e.store.Messages
			if *deleted {
				list = e.store.Expunged
			}
			msgs, err := list(ctx, a.ID, mb.ID)
			if err != nil {
				return fmt.Errorf("messages of %s: %w", mb.Name, err)
			}
			for _, m := range msgs {
				if m.Received.Before(after) {
					continue
				}
				r := messageRow{ID: m.ID, Mailbox: mb.Name, Received: m.Received, Size: m.Size,
					From: m.From, Subject: m.Subject, MessageID: m.MessageID, Deleted: m.Expunged}
				if !m.Expunged {
					r.UID = m.UID
				}
				rows = append(rows, r)
			}
		}
		slices.SortStableFunc(rows, func(x, y messageRow) int { return y.Received.Compare(x.Received) })
		err = printList(e.cli, *asJSON, rows, "ID\tFOLDER\tRECEIVED (UTC)\tSIZE\tFROM\tSUBJECT", func(r messageRow) string {
			return fmt.Sprintf("%d\t%s\t%s\t%d\t%s\t%s", r.ID, r.Mailbox, r.Received.UTC().Format(time.DateTime), r.Size,
				dash(clip(r.From, 40)), clip(r.Subject, 50))
		})
		if err != nil || *asJSON {
			return err
		}
		what := "message"
		if *deleted {
			what = "deleted message"
		}
		fmt.Fprintf(e.stdout, "%s\n", count(len(rows), what, what+"s"))
		return nil
	}
}

func messageRestore(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		var ids []int64
		for _, s := range args[1:] {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return usageErr("message restore: %q is not a message id (see message list --deleted)", s)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		a, err := e.admin().Address(ctx, admin.CLI(), args[0])
		if err != nil {
			return err
		}
		// The admin package checks every id first: nothing is restored
		// unless all can be, so that a typo never leaves half the
		// request done.
		done, err := e.admin().RestoreMessages(ctx, admin.CLI(), a.Address, ids)
		if err != nil {
			return err
		}
		for _, d := range done {
			name := fmt.Sprint(d.MailboxID)
			if mb, err := e.store.MailboxByID(ctx, a.ID, d.MailboxID); err == nil {
				name = mb.Name
			}
			fmt.Fprintf(e.stdout, "message %d restored to %s (UID %d)\n", d.MessageID, name, d.UID)
		}
		fmt.Fprintf(e.stdout, "%s of %s restored\n", count(len(done), "message", "messages"), a.Address)
		return nil
	}
}
