package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/queue"
	"github.com/xtramail/xtramail/internal/store"
)

func queueCommands() []command {
	return []command{
		{name: "queue list", summary: "list outgoing mail waiting for delivery, one line per recipient, oldest first, a page at a time (--after ID: the next page)",
			data: dataExisting, setup: queueList},
		{name: "queue retry", args: "ID...", summary: "make queue entries due now (--domain D: those to a recipient domain; --all: every entry)",
			minArgs: 0, maxArgs: -1, data: dataExisting, setup: queueRetry},
		{name: "queue delete", args: "ID...", summary: "drop queue entries (--domain D: those to a recipient domain): those recipients get nothing and the sender no notice",
			minArgs: 0, maxArgs: -1, data: dataExisting, setup: queueDelete},
	}
}

func dkimCommands() []command {
	return []command{
		{name: "domain dkim generate", args: "DOMAIN", summary: "make a pending DKIM key for a domain and print the DNS record to publish: it signs once the record is seen",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: dkimGenerate},
		{name: "domain dkim activate", args: "DOMAIN", summary: "look up a domain's pending DKIM key's record now and make the key sign if it is published (--force: without looking)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: dkimActivate},
		{name: "domain dkim list", args: "[DOMAIN]", summary: "list DKIM keys (active, pending, retired) with the records to publish or remove",
			minArgs: 0, maxArgs: 1, data: dataExisting, setup: dkimList},
		{name: "domain dkim show", args: "DOMAIN", summary: "print the DNS record of a domain's DKIM key (the pending one when none signs yet)",
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
	after := fs.Int64("after", 0, "only entries after this id: the next page")
	domain := fs.String("domain", "", "only entries to this recipient domain")
	return func(ctx context.Context, e *env, args []string) error {
		if *limit < 1 {
			return usageErr("queue list: --limit must be at least 1")
		}
		// One more than shown says whether another page follows.
		es, err := queueEntries(ctx, e.store, *after, *limit+1, *domain)
		if err != nil {
			return err
		}
		more := len(es) > *limit
		es = es[:min(len(es), *limit)]
		rows := make([]queueRow, len(es))
		for i, q := range es {
			rows[i] = queueRow{q.ID, q.MailFrom, q.Rcpt, q.MessageID, q.Subject, q.Size, q.Queued.UTC(), q.NextAttempt.UTC(), q.Attempts, q.LastError}
		}
		err = printList(e.cli, *asJSON, rows, "ID\tFROM\tTO\tQUEUED (UTC)\tATTEMPTS\tNEXT (UTC)\tLAST ERROR", func(r queueRow) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%d\t%s\t%s", r.ID, r.From, r.To, r.Queued.Format(time.DateTime),
				r.Attempts, r.NextAttempt.Format(time.DateTime), logCell(r.LastError, 60))
		})
		if err != nil || *asJSON {
			return err
		}
		stats, err := e.store.QueueStats(ctx)
		if err != nil {
			return err
		}
		switch {
		case more:
			// The count alone read as the queue's size, which a page
			// of a long queue is not.
			fmt.Fprintf(e.stdout, "%d shown of %d waiting; the next page: --after %d\n", len(rows), stats.Entries, rows[len(rows)-1].ID)
		case *after != 0 || *domain != "":
			fmt.Fprintf(e.stdout, "%d shown of %d waiting\n", len(rows), stats.Entries)
		default:
			fmt.Fprintf(e.stdout, "%d waiting\n", len(rows))
		}
		return nil
	}
}

// queueEntries returns up to limit entries after the id after (0: from
// the first), only those to domain when it is set, reading the queue a
// page at a time.
func queueEntries(ctx context.Context, st store.Store, after int64, limit int, domain string) ([]store.QueueEntry, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	var out []store.QueueEntry
	for len(out) < limit {
		page, err := st.QueueEntries(ctx, store.QueueQuery{AfterID: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("list queue: %w", err)
		}
		for _, q := range page {
			if domain == "" || q.RcptDomain == domain {
				out = append(out, q)
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	return out[:min(len(out), limit)], nil
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

// queueSelect returns the entries a retry or delete names: by id, every
// one to a recipient domain, or all; missing are the ids given that are
// not in the queue (delivered, returned or deleted meanwhile).
func queueSelect(ctx context.Context, e *env, cmd string, args []string, all bool, domain string) (ids, missing []int64, err error) {
	n := 0
	for _, given := range []bool{len(args) > 0, all, domain != ""} {
		if given {
			n++
		}
	}
	if n != 1 {
		what := "entry ids or --domain"
		if cmd == "queue retry" {
			what = "entry ids, --domain or --all"
		}
		return nil, nil, usageErr("%s: give %s", cmd, what)
	}
	given, err := parseIDs(cmd, args)
	if err != nil {
		return nil, nil, err
	}
	es, err := queueEntries(ctx, e.store, 0, math.MaxInt, domain)
	if err != nil {
		return nil, nil, err
	}
	if len(given) == 0 {
		for _, q := range es {
			ids = append(ids, q.ID)
		}
		return ids, nil, nil
	}
	in := map[int64]bool{}
	for _, q := range es {
		in[q.ID] = true
	}
	for _, id := range given {
		if in[id] {
			ids = append(ids, id)
		} else {
			missing = append(missing, id)
		}
	}
	return ids, missing, nil
}

// notQueued is the error for ids that are not in the queue, naming them.
func notQueued(missing []int64) error {
	if len(missing) == 0 {
		return nil
	}
	s := make([]string, len(missing))
	for i, id := range missing {
		s[i] = strconv.FormatInt(id, 10)
	}
	what := "no queue entry "
	if len(missing) > 1 {
		what = "no queue entries "
	}
	return fmt.Errorf("%s%s (delivered, returned or deleted already?): %w", what, strings.Join(s, ", "), store.ErrNotFound)
}

func queueRetry(fs *flag.FlagSet) action {
	all := fs.Bool("all", false, "every entry in the queue")
	domain := fs.String("domain", "", "every entry to this recipient domain")
	return func(ctx context.Context, e *env, args []string) error {
		ids, missing, err := queueSelect(ctx, e, "queue retry", args, *all, *domain)
		if err != nil {
			return err
		}
		n := 0
		if len(ids) > 0 {
			if n, err = e.store.RetryQueue(ctx, store.QueueQuery{}, ids, time.Now()); err != nil {
				return err
			}
		}
		// The server wakes its worker only for what it queues itself:
		// it finds these at its next look.
		fmt.Fprintf(e.stdout, "%d entries due now; a running server tries them at its next look at the queue, within %d seconds\n",
			n, int(queue.DefaultPoll.Seconds()))
		if e.cfg.Queue.EffectiveMode() == "hold" {
			fmt.Fprintf(e.stdout, "This configuration sends nothing out (queue mode is hold): a server running with it leaves them queued.\n")
		}
		return notQueued(missing)
	}
}

func queueDelete(fs *flag.FlagSet) action {
	domain := fs.String("domain", "", "every entry to this recipient domain")
	return func(ctx context.Context, e *env, args []string) error {
		ids, missing, err := queueSelect(ctx, e, "queue delete", args, false, *domain)
		if err != nil {
			return err
		}
		n := 0
		if len(ids) > 0 {
			n, err = e.store.DeleteQueue(ctx, store.QueueQuery{}, ids, time.Now(), admin.QueueDeleter(admin.CLI()))
			if err != nil && !errors.Is(err, store.ErrSending) {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "%d entries deleted\n", n)
		var sending *store.SendingError
		if errors.As(err, &sending) {
			// Its outcome is not known yet: a "cancelled" record could be
			// followed by its delivery.
			return errors.Join(fmt.Errorf("queue delete: left as they are, being delivered at this moment: %v (`xtramail log search` will show how each ended)", sending.IDs),
				notQueued(missing))
		}
		return notQueued(missing)
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

// pendingKey returns a domain's pending DKIM key, ok false without one.
func pendingKey(ctx context.Context, e *env, domain string) (store.DKIMKey, bool, error) {
	ks, err := e.store.PendingDKIMKeys(ctx, domain)
	if err != nil || len(ks) == 0 {
		return store.DKIMKey{}, false, err
	}
	return ks[0], true, nil
}

// activeKey returns a domain's DKIM key, ok false without one.
func activeKey(ctx context.Context, e *env, domain string) (store.DKIMKey, bool, error) {
	k, err := e.store.DKIMKey(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return k, false, nil
	}
	return k, err == nil, err
}

// domainKey returns a domain, by the name given, and its DKIM key (ok
// false without one).
func domainKey(ctx context.Context, e *env, name string) (d store.Domain, k store.DKIMKey, ok bool, err error) {
	if d, err = e.store.Domain(ctx, name); err != nil {
		return d, k, false, err
	}
	k, ok, err = activeKey(ctx, e, d.Name)
	return d, k, ok, err
}

func dkimGenerate(fs *flag.FlagSet) action {
	alg := fs.String("algorithm", "rsa", "rsa (2048 bits, verified everywhere) or ed25519 (RFC 8463, not yet everywhere)")
	selector := fs.String("selector", "", "DNS selector (default: x and today's date, with a letter after it for a second key that day)")
	return func(ctx context.Context, e *env, args []string) error {
		d, cur, active, err := domainKey(ctx, e, args[0])
		if err != nil {
			return err
		}
		old, replaces, err := pendingKey(ctx, e, d.Name)
		if err != nil {
			return err
		}
		sel := *selector
		if sel == "" {
			// The newest name in use: a pending key is newer than the
			// active one.
			last := cur.Selector
			if replaces {
				last = old.Selector
			}
			sel = dkim.NewSelector(time.Now(), last)
		}
		if active && sel == cur.Selector {
			return usageErr("domain dkim generate: selector %s is the active key's: a new key needs a DNS name of its own", sel)
		}
		key, err := dkim.GenerateKey(*alg, sel, time.Now())
		if err != nil {
			return err
		}
		rec, err := dkim.Record(key)
		if err != nil {
			return err
		}
		if err := e.store.SetPendingDKIMKey(ctx, d.Name, key); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s: new DKIM key %s (%s) is pending; publish:\n%s\n",
			d.Name, key.Selector, key.Algorithm, txtRecord(dkim.RecordName(key, d.Name), rec))
		if replaces && old.Selector != key.Selector {
			fmt.Fprintf(e.stdout, "It replaces pending key %s, which never signed: its record %s, if published, can go.\n",
				old.Selector, dkim.RecordName(old, d.Name))
		}
		if active {
			fmt.Fprintf(e.stdout, "Key %s keeps signing until the new record is seen in DNS", cur.Selector)
		} else {
			fmt.Fprintf(e.stdout, "Mail from %s stays unsigned until the record is seen in DNS", d.Name)
		}
		fmt.Fprintf(e.stdout, ": the running server looks every %d minutes; `xtramail domain dkim activate %s` looks now.\n",
			int(dkim.DefaultCheckEvery.Minutes()), d.Name)
		return nil
	}
}

func dkimActivate(fs *flag.FlagSet) action {
	force := fs.Bool("force", false, "activate without looking the record up: receivers fail every signature until they find it")
	ns := fs.String("nameserver", "", "ask this name server (`host:port`, UDP), such as the domain's authoritative one, instead of the system's resolver")
	return func(ctx context.Context, e *env, args []string) error {
		d, cur, active, err := domainKey(ctx, e, args[0])
		if err != nil {
			return err
		}
		var r dkim.Resolver = net.DefaultResolver
		if *ns != "" {
			if _, _, err := net.SplitHostPort(*ns); err != nil {
				return usageErr("domain dkim activate: --nameserver %q: want host:port", *ns)
			}
			r = dkim.ResolverAt(*ns)
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		checks, err := dkim.ActivatePending(ctx, e.store, r, d.Name, *force, time.Now())
		if err != nil {
			return err
		}
		if len(checks) == 0 {
			return fmt.Errorf("domain %s has no pending DKIM key (domain dkim generate makes one): %w", d.Name, store.ErrNotFound)
		}
		c := checks[0]
		if !c.Activated {
			return fmt.Errorf("DKIM key %s of %s stays pending: %w", c.Key.Selector, d.Name, c.Err)
		}
		fmt.Fprintf(e.stdout, "domain %s: DKIM key %s is active; a running server signs with it within %d seconds.\n",
			d.Name, c.Key.Selector, int(dkim.DefaultKeyTTL.Seconds()))
		if active && cur.Selector != c.Key.Selector {
			fmt.Fprintf(e.stdout, "Key %s is retired: keep its record %s until %s, for mail signed with it still on its way.\n",
				cur.Selector, dkim.RecordName(cur, d.Name), time.Now().Add(dkim.RetiredRecordKeep).UTC().Format(time.DateOnly))
		}
		return nil
	}
}

// dkimRow is a key in `domain dkim list --json`.
type dkimRow struct {
	Domain     string    `json:"domain"`
	Selector   string    `json:"selector"`
	Algorithm  string    `json:"algorithm,omitempty"`
	State      string    `json:"state"` // active, pending or retired
	Since      time.Time `json:"since"` // made (active, pending) or retired
	RecordName string    `json:"record_name"`
	// Record is the TXT record to publish (active and pending keys).
	Record string `json:"record,omitempty"`
	// RemoveAfter is when a retired key's record can go.
	RemoveAfter *time.Time `json:"remove_after,omitempty"`
}

func dkimList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		var names []string
		if len(args) == 1 {
			d, err := e.store.Domain(ctx, args[0])
			if err != nil {
				return err
			}
			names = []string{d.Name}
		} else {
			ds, err := e.store.Domains(ctx)
			if err != nil {
				return err
			}
			for _, d := range ds {
				names = append(names, d.Name)
			}
		}
		var rows []dkimRow
		row := func(k store.DKIMKey, domain, state string) error {
			rec, err := dkim.Record(k)
			if err != nil {
				return err
			}
			rows = append(rows, dkimRow{Domain: domain, Selector: k.Selector, Algorithm: k.Algorithm, State: state,
				Since: k.Created.UTC(), RecordName: dkim.RecordName(k, domain), Record: rec})
			return nil
		}
		for _, name := range names {
			if k, ok, err := pendingKey(ctx, e, name); err != nil {
				return err
			} else if ok {
				if err := row(k, name, "pending"); err != nil {
					return err
				}
			}
			if k, ok, err := activeKey(ctx, e, name); err != nil {
				return err
			} else if ok {
				if err := row(k, name, "active"); err != nil {
					return err
				}
			}
			retired, err := e.store.RetiredDKIMKeys(ctx, name)
			if err != nil {
				return err
			}
			for _, r := range retired {
				after := r.Retired.Add(dkim.RetiredRecordKeep).UTC()
				rows = append(rows, dkimRow{Domain: name, Selector: r.Selector, State: "retired", Since: r.Retired.UTC(),
					RecordName: dkim.RecordName(store.DKIMKey{Selector: r.Selector}, name), RemoveAfter: &after})
			}
		}
		err := printList(e.cli, *asJSON, rows, "DOMAIN\tSELECTOR\tSTATE\tSINCE (UTC)\tDNS", func(r dkimRow) string {
			dns := "publish " + r.RecordName + " (below)"
			switch {
			case r.State == "retired" && time.Now().After(*r.RemoveAfter):
				dns = "remove " + r.RecordName
			case r.State == "retired":
				dns = "keep " + r.RecordName + " until " + r.RemoveAfter.Format(time.DateOnly)
			case r.State == "pending":
				dns += ": signs once seen there"
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Domain, r.Selector, r.State, r.Since.Format("2006-01-02 15:04"), dns)
		})
		if err != nil || *asJSON {
			return err
		}
		for _, r := range rows {
			if r.Record != "" {
				fmt.Fprintf(e.stdout, "\n%s key %s:\n%s\n", r.State, r.Selector, txtRecord(r.RecordName, r.Record))
			}
		}
		return nil
	}
}

func dkimShow(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		d, key, ok, err := domainKey(ctx, e, args[0])
		if err == nil && !ok {
			key, ok, err = pendingKey(ctx, e, d.Name)
		}
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("dkim key of %s: %w", d.Name, store.ErrNotFound)
		}
		rec, err := dkim.Record(key)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, txtRecord(dkim.RecordName(key, d.Name), rec))
		return nil
	}
}
