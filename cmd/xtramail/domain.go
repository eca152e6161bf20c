package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

func domainCommands() []command {
	return []command{
		{name: "domain add", args: "NAME", summary: "protect a domain (its addresses are added with user add)",
			minArgs: 1, maxArgs: 1, data: dataCreate, setup: domainAdd},
		{name: "domain list", summary: "list the protected domains",
			data: dataExisting, setup: domainList},
		{name: "domain remove", args: "NAME", summary: "stop protecting a domain that has no addresses left",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: domainRemove},
		{name: "domain retention", args: "NAME DAYS", summary: "change how many days a domain's messages are kept",
			minArgs: 2, maxArgs: 2, data: dataExisting, setup: domainRetention},
		{name: "domain set", args: "NAME", summary: "change a domain's settings: whole-domain continuity, relay, allowed upstream IPs",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: domainSet},
	}
}

func domainAdd(fs *flag.FlagSet) action {
	days := fs.Int("retention-days", store.DefaultRetentionDays, "days a message is kept")
	customer := customerFlag(fs, "the customer (`ID or name`) the domain belongs to (default: the default customer)")
	return func(ctx context.Context, e *env, args []string) error {
		cid, err := customer.id(ctx, e)
		if err != nil {
			return err
		}
		d, err := e.admin().AddDomain(ctx, admin.CLI(), cid, args[0], *days)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s added, messages kept %d days\n", d.Name, d.RetentionDays)
		return nil
	}
}

// domainRow is a domain in `domain list --json`.
type domainRow struct {
	Name           string   `json:"name"`
	CustomerID     int64    `json:"customer_id"`
	RetentionDays  int      `json:"retention_days"`
	WholeDomain    bool     `json:"whole_domain"`
	RelayHost      string   `json:"relay_host,omitempty"`
	AllowedIPs     []string `json:"allowed_ips,omitempty"`
	ContinuityOnly bool     `json:"continuity_only"`
	// RecipientDelimiter: sub-addresses' delimiters (RFC 5233), "" none.
	RecipientDelimiter string    `json:"recipient_delimiter"`
	Addresses          int       `json:"addresses"`
	CreatedAt          time.Time `json:"created_at"`
}

func domainList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		ds, err := e.admin().Domains(ctx, admin.CLI(), 0)
		if err != nil {
			return err
		}
		rows := make([]domainRow, len(ds))
		for i, d := range ds {
			as, err := e.store.Accounts(ctx, d.Name)
			if err != nil {
				return err
			}
			rows[i] = domainRow{d.Name, d.CustomerID, d.RetentionDays, d.WholeDomain, d.RelayHost, d.AllowedIPs, d.ContinuityOnly, d.RecipientDelimiter, len(as), d.CreatedAt}
		}
		return printList(e.cli, *asJSON, rows, "DOMAIN\tRETENTION\tADDRESSES\tCUSTOMER\tWHOLE DOMAIN\tCREATED", func(r domainRow) string {
			return fmt.Sprintf("%s\t%d days\t%d\t%d\t%s\t%s", r.Name, r.RetentionDays, r.Addresses, r.CustomerID,
				onOff(r.WholeDomain, "on", "off"), r.CreatedAt.Format(time.DateOnly))
		})
	}
}

func domainRemove(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		if err := e.admin().RemoveDomain(ctx, admin.CLI(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s removed\n", strings.ToLower(args[0]))
		return nil
	}
}

func domainRetention(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		d, err := strconv.Atoi(args[1])
		if err != nil {
			return usageErr("domain retention: days %q is not a number", args[1])
		}
		if err := e.setDomain(ctx, args[0], func(s *store.DomainSettings) { s.RetentionDays = d }); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s now keeps messages %d days\n", strings.ToLower(args[0]), d)
		return nil
	}
}

// setDomain changes some of a domain's settings through the admin package.
func (e *env) setDomain(ctx context.Context, name string, change func(*store.DomainSettings)) error {
	d, err := e.admin().Domain(ctx, admin.CLI(), name)
	if err != nil {
		return err
	}
	set := d.Settings()
	change(&set)
	return e.admin().SetDomainSettings(ctx, admin.CLI(), d.Name, set)
}

func domainSet(fs *flag.FlagSet) action {
	whole := fs.String("whole-domain", "", "on: every address of the domain is protected (created at its first copy); off: only added addresses")
	relay := fs.String("relay", "", "`host[:port]` of the domain's primary mail system, for redelivery (\"none\" clears it)")
	allow := fs.String("allow-ips", "", "comma-separated upstream `addresses or CIDR prefixes` allowed for this domain (\"none\" clears them)")
	contOnly := fs.String("continuity-only", "", "true: mail submitted to the domain's protected addresses goes to their continuity INBOX only, never relayed (no primary mail system exists); false: both (the default)")
	delim := fs.String("recipient-delimiter", "", "`characters` that separate a sub-address's tag (RFC 5233: alice+news@ is alice@'s mail, as Postfix's recipient_delimiter): one or more of "+
		store.RecipientDelimiterChars+", each once (\"none\": no sub-addresses; new domains have +)")
	return func(ctx context.Context, e *env, args []string) error {
		if *whole == "" && *relay == "" && *allow == "" && *contOnly == "" && *delim == "" {
			return usageErr("domain set needs --whole-domain, --relay, --allow-ips, --continuity-only or --recipient-delimiter")
		}
		if *whole != "" && *whole != "on" && *whole != "off" {
			return usageErr("domain set: --whole-domain takes on or off")
		}
		var only bool
		if *contOnly != "" {
			var err error
			if only, err = strconv.ParseBool(*contOnly); err != nil {
				return usageErr("domain set: --continuity-only takes true or false")
			}
		}
		err := e.setDomain(ctx, args[0], func(s *store.DomainSettings) {
			if *whole != "" {
				s.WholeDomain = *whole == "on"
			}
			if *contOnly != "" {
				s.ContinuityOnly = only
			}
			switch *delim {
			case "":
			case "none":
				s.RecipientDelimiter = ""
			default:
				s.RecipientDelimiter = *delim
			}
			switch *relay {
			case "":
			case "none":
				s.RelayHost = ""
			default:
				s.RelayHost = *relay
			}
			switch *allow {
			case "":
			case "none":
				s.AllowedIPs = nil
			default:
				s.AllowedIPs = strings.Split(*allow, ",")
			}
		})
		if err != nil {
			return err
		}
		d, err := e.admin().Domain(ctx, admin.CLI(), args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s: whole domain %s, relay %s, allowed upstream IPs %s, continuity only %t, recipient delimiter %s\n", d.Name, onOff(d.WholeDomain, "on", "off"),
			dash(d.RelayHost), dash(strings.Join(d.AllowedIPs, ", ")), d.ContinuityOnly, onOff(d.RecipientDelimiter != "", d.RecipientDelimiter, "none"))
		return nil
	}
}
