package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// minPasswordLen is the shortest password an administrator may set.
const minPasswordLen = 8

func (c *cli) domain(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: domain needs a subcommand", errUsage)
	}
	f := newFlags("domain "+args[0], c.stderr)
	days := f.Int("retention-days", store.DefaultRetentionDays, "days a message is kept")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "list": 0, "remove": 1, "retention": 2}
	n, ok := want[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown domain subcommand %q", errUsage, args[0])
	}
	if len(pos) != n {
		return fmt.Errorf("%w: domain %s takes %d argument(s)", errUsage, args[0], n)
	}
	st, err := c.openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	switch args[0] {
	case "add":
		d, err := st.CreateDomain(ctx, pos[0], *days)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "domain %s added, messages kept %d days\n", d.Name, d.RetentionDays)
	case "remove":
		if err := st.DeleteDomain(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "domain %s removed\n", strings.ToLower(pos[0]))
	case "retention":
		d, err := strconv.Atoi(pos[1])
		if err != nil {
			return fmt.Errorf("%w: retention days %q is not a number", errUsage, pos[1])
		}
		if err := st.SetRetention(ctx, pos[0], d); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "domain %s now keeps messages %d days\n", strings.ToLower(pos[0]), d)
	case "list":
		ds, err := st.Domains(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(ds)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOMAIN\tRETENTION\tCREATED")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%d days\t%s\n", d.Name, d.RetentionDays, d.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
	return nil
}

func (c *cli) user(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: user needs a subcommand", errUsage)
	}
	f := newFlags("user "+args[0], c.stderr)
	pwStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input")
	domain := f.String("domain", "", "only addresses of this domain")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "list": 0, "remove": 1, "enable": 1, "disable": 1, "passwd": 1}
	n, ok := want[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown user subcommand %q", errUsage, args[0])
	}
	if len(pos) != n {
		return fmt.Errorf("%w: user %s takes %d argument(s)", errUsage, args[0], n)
	}
	if args[0] == "passwd" && !*pwStdin {
		return fmt.Errorf("%w: user passwd needs --password-stdin", errUsage)
	}
	var hash string
	if *pwStdin {
		if hash, err = c.readPassword(); err != nil {
			return err
		}
	}
	st, err := c.openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	switch args[0] {
	case "add":
		a, err := st.CreateAccount(ctx, pos[0], hash)
		if err != nil {
			return err
		}
		note := "no password yet: set one with user passwd"
		if hash != "" {
			note = "password set"
		}
		fmt.Fprintf(c.stdout, "address %s protected (%s)\n", a.Address, note)
	case "remove":
		if err := st.DeleteAccount(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "address %s removed with its messages\n", strings.ToLower(pos[0]))
	case "enable", "disable":
		if err := st.SetEnabled(ctx, pos[0], args[0] == "enable"); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "address %s %sd\n", strings.ToLower(pos[0]), args[0])
	case "passwd":
		if err := st.SetPassword(ctx, pos[0], hash); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "password of %s changed\n", strings.ToLower(pos[0]))
	case "list":
		as, err := st.Accounts(ctx, *domain)
		if err != nil {
			return err
		}
		type row struct {
			Address  string    `json:"address"`
			Enabled  bool      `json:"enabled"`
			Password bool      `json:"password_set"`
			Created  time.Time `json:"created"`
		}
		rows := make([]row, len(as))
		for i, a := range as {
			rows[i] = row{a.Address, a.Enabled, a.PasswordHash != "", a.CreatedAt}
		}
		if *asJSON {
			return c.printJSON(rows)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tCONTINUITY\tPASSWORD\tCREATED")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Address, onOff(r.Enabled, "enabled", "disabled"),
				onOff(r.Password, "set", "not set"), r.Created.Format(time.DateOnly))
		}
		return tw.Flush()
	}
	return nil
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// readPassword reads one line from stdin and returns its argon2id hash.
func (c *cli) readPassword() (string, error) {
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < minPasswordLen {
		return "", fmt.Errorf("password too short: at least %d characters", minPasswordLen)
	}
	return auth.Hash(pw)
}

func (c *cli) logCmd(args []string) error {
	if len(args) == 0 || args[0] != "search" {
		return fmt.Errorf("%w: log needs the subcommand search", errUsage)
	}
	f := newFlags("log search", c.stderr)
	var q store.LogQuery
	f.StringVar(&q.Address, "address", "", "envelope sender or recipient")
	f.StringVar(&q.MessageID, "message-id", "", "Message-ID, with or without <>")
	status := f.String("status", "", "captured, refused, stored, deleted, restored, purged, ...")
	since := f.Duration("since", 0, "only records newer than this (e.g. 24h)")
	until := f.Duration("until", 0, "only records older than this (e.g. 1h)")
	f.IntVar(&q.Limit, "limit", 100, "at most this many records, newest first")
	asJSON := f.Bool("json", false, "print JSON, one object per line")
	pos, err := f.parse(args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: log search takes no arguments", errUsage)
	}
	q.Status = store.LogStatus(*status)
	now := time.Now()
	if *since > 0 {
		q.Since = now.Add(-*since)
	}
	if *until > 0 {
		q.Until = now.Add(-*until)
	}
	st, err := c.openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	evs, err := st.SearchLog(context.Background(), q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSTATUS\tFROM\tTO\tSUBJECT\tMESSAGE-ID\tDETAIL")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.DateTime), e.Status, e.MailFrom, e.Rcpt,
			clip(e.Subject, 40), e.MessageID, e.Detail)
	}
	return tw.Flush()
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
