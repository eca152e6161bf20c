package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestLogReadersUseIndexes reads the plan of every query that reads the
// message log (the console's and the API's search and timeline in each
// form, the webmail's delivery status, the retention purge, the
// records' look-up and clean-up) and checks two things. Each searches the index it
// needs instead of scanning: a search bounded in time, a next page
// above all, reads a range of msglog_time. And every index on msglog is
// one that some reader uses: each costs every message's four records a
// B-tree insert and a page per group commit (about 8 KiB written per
// message in BenchmarkSubmitPath), so one that no reader needs must go.
func TestLogReadersUseIndexes(t *testing.T) {
	s := open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	dom := []int64{1, 2}
	cases := []struct {
		name string
		q    store.LogQuery
		want string // a line of the plan
	}{
		{"newest", store.LogQuery{}, "SCAN msglog USING INDEX msglog_time"},
		{"newest in scope", store.LogQuery{DomainIDs: dom}, "SCAN msglog USING INDEX msglog_time"},
		{"next page", store.LogQuery{BeforeTime: now, BeforeID: 5, DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_time (time<?)"},
		{"since", store.LogQuery{Since: now, DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_time (time>?)"},
		{"range", store.LogQuery{Since: now.Add(-time.Hour), Until: now, DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_time (time>? AND time<?)"},
		{"address", store.LogQuery{Address: "a@x", DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_rcpt (rcpt=?)"},
		{"address (sender)", store.LogQuery{Address: "a@x", DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_from (mail_from=?)"},
		{"address (sub-addresses)", store.LogQuery{Address: "a@x", DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_account (account=?)"},
		{"timeline", store.LogQuery{MessageID: "m@x", DomainIDs: dom, Limit: 1000}, "SEARCH msglog USING INDEX msglog_message (subject_id=?)"},
		{"timeline (record)", store.LogQuery{MessageID: "m@x", DomainIDs: dom, Limit: 1000}, "SEARCH msglog_messages USING COVERING INDEX msglog_messages_msgid (message_id=?)"},
		{"submitted before", store.LogQuery{MessageID: "m@x", Address: "a@x", Status: "submitted", Limit: 1}, "SEARCH msglog USING INDEX msglog_message (subject_id=?)"},
		{"subject", store.LogQuery{Subject: "harbour crane", DomainIDs: dom}, "SEARCH msglog USING INDEX msglog_message (subject_id=?)"},
	}
	used := map[string]bool{}
	for _, c := range cases {
		query, args, ok := logSearch(c.q)
		if !ok {
			t.Fatalf("%s: no query", c.name)
		}
		plan := queryPlan(t, s, query, args...)
		if !slices.Contains(plan, c.want) {
			t.Errorf("%s: plan %q, want a line %q", c.name, plan, c.want)
		}
		usedBy(used, plan)
	}
	for name, q := range map[string]string{
		"delivery status": deliveryLog,
		"purge":           purgeLog,
		"subject cleanup": dropLogSubject,
		"record look-up":  selectLogSubject,
	} {
		plan := queryPlan(t, s, q, 1, 2, 3)
		for _, l := range plan {
			if strings.HasPrefix(l, "SCAN msglog") {
				t.Errorf("%s: plan %q scans the message log", name, plan)
			}
		}
		usedBy(used, plan)
	}
	rows, err := s.r.Query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'msglog' AND sql IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if !used[name] {
			t.Errorf("index %s: no reader of the message log uses it", name)
		}
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("list msglog's indexes: %d, %v", n, err)
	}
}

// usedBy marks the msglog indexes a plan reads.
func usedBy(used map[string]bool, plan []string) {
	for _, l := range plan {
		if !strings.Contains(l, " msglog USING ") {
			continue
		}
		if _, ix, ok := strings.Cut(l, " INDEX "); ok {
			used[strings.Fields(ix)[0]] = true
		}
	}
}
