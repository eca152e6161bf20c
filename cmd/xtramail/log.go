package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

func logCommands() []command {
	return []command{
		{name: "log search", summary: "search the message log, newest first",
			data: dataExisting, setup: logSearch},
	}
}

// logStatuses are the message log's event kinds, in the order the help
// lists them. A status not here is refused, so that a typo never reads as
// "no such events".
var logStatuses = msglog.Kinds()

func statusList() string {
	s := make([]string, len(logStatuses))
	for i, st := range logStatuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func logSearch(fs *flag.FlagSet) action {
	var q store.LogQuery
	fs.StringVar(&q.Address, "address", "", "envelope sender or recipient")
	fs.StringVar(&q.MessageID, "message-id", "", "Message-ID, with or without <>")
	status := fs.String("status", "", "only this event kind: "+statusList())
	since := fs.String("since", "", "only records newer than this: 7d, 2d12h, 24h, 30m, 2006-01-02 or an RFC 3339 time")
	until := fs.String("until", "", "only records older than this (same forms as --since)")
	fs.IntVar(&q.Limit, "limit", 100, "at most this many records")
	asJSON := fs.Bool("json", false, "print JSON, one object per line (snake_case keys)")
	return func(ctx context.Context, e *env, args []string) error {
		if *status != "" {
			q.Status = store.LogStatus(*status)
			if !slices.Contains(logStatuses, q.Status) {
				return usageErr("log search: unknown --status %q: want one of %s", *status, statusList())
			}
		}
		now := time.Now()
		var err error
		if q.Since, err = parseWhen(*since, now); err != nil {
			return usageErr("log search: --since: %v", err)
		}
		if q.Until, err = parseWhen(*until, now); err != nil {
			return usageErr("log search: --until: %v", err)
		}
		if q.Limit < 1 {
			return usageErr("log search: --limit must be at least 1")
		}
		evs, err := e.store.SearchLog(ctx, q)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			for _, ev := range evs {
				if err := enc.Encode(ev); err != nil {
					return err
				}
			}
			return nil
		}
		tw := newTable(e.stdout)
		fmt.Fprintln(tw, "TIME (UTC)\tSTATUS\tFROM\tTO\tIP\tSUBJECT\tMESSAGE-ID\tDETAIL")
		for _, ev := range evs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(time.DateTime), ev.Status,
				logCell(ev.MailFrom, logCellMax), logCell(ev.Rcpt, logCellMax), logCell(ev.RemoteIP, logCellMax),
				logCell(ev.Subject, 40), logCell(ev.MessageID, logCellMax), logCell(ev.Detail, logCellMax))
		}
		return tw.Flush()
	}
}

// logCellMax is the widest a log search table's cell is, in characters:
// the table pads each column to its widest value, and one sign-in
// refused with a user name of thousands of characters pushed every row's
// next columns that far right. --json keeps the values whole.
const logCellMax = 60

// logCell is a value as a log search table shows it: "-" when empty, at
// most max characters, and on one line in its column, each control
// character (a tab, a line break in a client's user name) shown as
// U+FFFD.
func logCell(s string, max int) string {
	return clip(dash(strings.Map(cellRune, s)), max)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseWhen reads a point in time for --since and --until: an age before
// now ("7d", "2d12h", "36h", "90m": days are 24 hours), a date
// ("2006-01-02", local midnight) or an RFC 3339 time. "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseAge(s)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d), nil
}

// parseAge is time.ParseDuration with a leading count of days ("7d",
// "2d12h"), and without negative ages.
func parseAge(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not an age (7d, 2d12h, 24h, 30m), a date (2006-01-02) or an RFC 3339 time", s)
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, bad
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return 0, bad
		}
	}
	return days + d, nil
}
