package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

func queueCommands() []command {
	return []command{
		{name: "queue list", summary: "list outgoing mail waiting for delivery, one line per recipient",
			data: dataExisting, setup: queueList},
		{name: "queue retry", args: "ID...", summary: "make queue entries due now (--all: every entry)",
			minArgs: 0, maxArgs: -1, data: dataExisting, setup: queueRetry},
		{name: "queue delete", args: "ID...", summary: "drop queue entries: those recipients get nothing and the sender no notice",
			minArgs: 1, maxArgs: -1, data: dataExisting, setup: queueDelete},
	}
}

func dkimCommands() []command {
	return []command{
		{name: "domain dkim generate", args: "DOMAIN", summary: "make a DKIM signing key for a domain and print the DNS record to publish",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: dkimGenerate},
		{name: "domain dkim show", args: "DOMAIN", summary: "print the DNS record of a domain's DKIM key",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: dkimShow},
	}
}

// queueRow is an entry in `queue list --json`.
type queueRow struct {
	ID          int64     `json:"id"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	MessageID   string    `json:"message_id"`
	Subject     string    `json:"subject"`
	Size        int64     `json:"size"`
	Queued      time.Time `json:"queued"`
	NextAttempt time.Time `json:"next_attempt"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
}

func queueList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	limit := fs.Int("limit", 1000, "at most this many entries, oldest first")
	return func(ctx context.Context, e *env, args []string) error {
		es, err := e.store.QueueEntries(ctx, store.QueueQuery{Limit: *limit})
		if err != nil {
			return err
		}
		rows := make([]queueRow, len(es))
		for i, q := range es {
			rows[i] = queueRow{q.ID, q.MailFrom, q.Rcpt, q.MessageID, q.Subject, q.Size, q.Queued.UTC(), q.NextAttempt.UTC(), q.Attempts, q.LastError}
		}
		err = printList(e.cli, *asJSON, rows, "ID\tFROM\tTO\tQUEUED (UTC)\tATTEMPTS\tNEXT (UTC)\tLAST ERROR", func(r queueRow) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%d\t%s\t%s", r.ID, r.From, r.To, r.Queued.Format(time.DateTime),
				r.Attempts, r.NextAttempt.Format(time.DateTime), clip(r.LastError, 60))
		})
		if err != nil || *asJSON {
			return err
		}
		fmt.Fprintf(e.stdout, "%d waiting\n", len(rows))
		return nil
	}
}

func parseIDs(cmd string, args []string) ([]int64, error) {
	ids := make([]int64, len(args))
	for i, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id < 1 {
			return nil, usageErr("%s: %q is not a queue entry id", cmd, a)
		}
		ids[i] = id
	}
	return ids, nil
}

func queueRetry(fs *flag.FlagSet) action {
	all := fs.Bool("all", false, "every entry in the queue")
	return func(ctx context.Context, e *env, args []string) error {
		if *all == (len(args) > 0) {
			return usageErr("queue retry: give entry ids or --all")
		}
		ids, err := parseIDs("queue retry", args)
		if err != nil {
			return err
		}
		if *all {
			es, err := e.store.QueueEntries(ctx, store.QueueQuery{Limit: 1 << 30})
			if err != nil {
				return err
			}
			for _, q := range es {
				ids = append(ids, q.ID)
			}
		}
		n, err := e.store.RetryQueue(ctx, store.QueueQuery{}, ids, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d entries due now; a running server tries them within seconds\n", n)
		if n < len(ids) {
			return fmt.Errorf("%d of the ids are not in the queue: %w", len(ids)-n, store.ErrNotFound)
		}
		return nil
	}
}

func queueDelete(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		ids, err := parseIDs("queue delete", args)
		if err != nil {
			return err
		}
		n, err := e.store.DeleteQueue(ctx, store.QueueQuery{}, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d entries deleted\n", n)
		if n < len(ids) {
			return fmt.Errorf("%d of the ids are not in the queue: %w", len(ids)-n, store.ErrNotFound)
		}
		return nil
	}
}

// txtRecord prints a TXT record in zone-file form, split into strings of
// at most 255 bytes (RFC 1035 3.3.14), which an RSA key needs.
func txtRecord(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return name + ". IN TXT " + strings.Join(parts, " ")
}

func dkimGenerate(fs *flag.FlagSet) action {
	alg := fs.String("algorithm", "rsa", "rsa (2048 bits, verified everywhere) or ed25519 (RFC 8463, not yet everywhere)")
	selector := fs.String("selector", "", "DNS selector (default: x and today's date, with a letter after it for a second key that day)")
	return func(ctx context.Context, e *env, args []string) error {
		d, err := e.store.Domain(ctx, args[0])
		if err != nil {
			return err
		}
		cur, err := e.store.DKIMKey(ctx, d.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sel := *selector
		if sel == "" {
			sel = dkim.NewSelector(time.Now(), cur.Selector)
		}
		key, err := dkim.GenerateKey(*alg, sel, time.Now())
		if err != nil {
			return err
		}
		rec, err := dkim.Record(key)
		if err != nil {
			return err
		}
		if err := e.store.SetDKIMKey(ctx, d.Name, key); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s now signs outgoing mail with DKIM key %s (%s); publish:\n%s\n",
			d.Name, key.Selector, key.Algorithm, txtRecord(dkim.RecordName(key, d.Name), rec))
		if cur.Selector != "" && cur.Selector != key.Selector {
			fmt.Fprintf(e.stdout, "It replaces key %s: its record %s can go once messages signed with it are delivered (a few days).\n",
				cur.Selector, dkim.RecordName(cur, d.Name))
		}
		return nil
	}
}

func dkimShow(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		d, err := e.store.Domain(ctx, args[0])
		if err != nil {
			return err
		}
		key, err := e.store.DKIMKey(ctx, d.Name)
		if err != nil {
			return err
		}
		rec, err := dkim.Record(key)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, txtRecord(dkim.RecordName(key, d.Name), rec))
		return nil
	}
}
