package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

func auditCommands() []command {
	return []command{
		{name: "audit search", summary: "search the audit log: who changed what, and refused cross-tenant attempts",
			data: dataExisting, setup: auditSearch},
	}
}

func auditSearch(fs *flag.FlagSet) action {
	actor := fs.String("actor", "", "only this administrator (`email`, or cli)")
	act := fs.String("action", "", "only this `action` (domain.add, address.password, denied, ...)")
	object := fs.String("object", "", "only objects containing this `text`")
	since := fs.String("since", "", "only records newer than this: 7d, 24h, 2006-01-02 or an RFC 3339 time")
	limit := fs.Int("limit", 100, "at most this many records, newest first")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		q := store.AuditQuery{Actor: *actor, Action: *act, Object: *object, Limit: *limit}
		if *limit < 1 || *limit > 1000 {
			return usageErr("audit search: --limit takes 1 to 1000")
		}
		var err error
		if q.Since, err = parseWhen(*since, time.Now()); err != nil {
			return usageErr("audit search: --since: %v", err)
		}
		recs, err := e.admin().SearchAudit(ctx, admin.CLI(), q)
		if err != nil {
			return err
		}
		return printList(e.cli, *asJSON, recs, "TIME (UTC)\tACTOR\tACTION\tOBJECT\tDETAIL\tIP", func(r store.AuditRecord) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.Time.UTC().Format(time.DateTime), r.Actor, r.Action, clip(r.Object, 40),
				dash(clip(r.Detail, 60)), dash(r.RemoteIP))
		})
	}
}
