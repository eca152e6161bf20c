package console_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestLogSubjectSearchFindsEachEventOnce guards the message log's subject
// index, which holds each distinct subject's words once (issue 13,
// speed) rather than once per record: a sent message's four records
// (submitted, stored, queued, delivered) are each listed exactly once by
// a search for one of its subject's words, beside a record of another
// message with the same subject, and a message with another subject is
// not listed.
func TestLogSubjectSearchFindsEachEventOnce(t *testing.T) {
	tr := newTree(t)
	b := newBrowser(t, tr.srv)
	enrol(t, b, tr.provider)
	ctx := context.Background()
	acct, err := tr.srv.Store.Account(ctx, tr.u2)
	if err != nil {
		t.Fatal(err)
	}
	const subject = "Zeppelin timetable for Tuesday"
	now := time.Now()
	raw := []byte("From: u2@c2.test\r\nTo: far@elsewhere.example\r\nSubject: " + subject +
		"\r\nMessage-ID: <four@c2.test>\r\n\r\nHello.\r\n")
	d := store.NewDelivery(raw, now)
	base := msglog.Message(now, d.Info, tr.u2, int64(len(raw)), "192.0.2.7")
	d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: store.Sent,
		Event: msglog.With(base, msglog.Stored, tr.u2, tr.d2.ID, store.Sent)}}
	d.Outbound = []store.Outbound{{AccountID: acct.ID, MailFrom: tr.u2, Rcpt: "far@elsewhere.example"}}
	d.Events = []store.LogEvent{
		msglog.With(base, msglog.Submitted, "far@elsewhere.example", tr.d2.ID, "for 1 recipient(s)"),
		msglog.With(base, msglog.Queued, "far@elsewhere.example", tr.d2.ID, "queued"),
	}
	if _, err := tr.srv.Store.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	// Delivered later, by the queue, in a write of its own.
	later := base
	later.Time = now.Add(time.Second)
	if err := tr.srv.Store.AppendLog(ctx, msglog.With(later, msglog.Delivered, "far@elsewhere.example", tr.d2.ID, "250 ok"),
		store.LogEvent{Time: now, Status: msglog.Captured, MessageID: "other@c2.test", Subject: "Lunch on Tuesday",
			Rcpt: tr.u2, DomainID: tr.d2.ID},
		store.LogEvent{Time: now, Status: msglog.Captured, MessageID: "again@c2.test", Subject: subject,
			Rcpt: tr.u2, DomainID: tr.d2.ID}); err != nil {
		t.Fatal(err)
	}

	rowRE := regexp.MustCompile(`(?s)<tr>\s*<td data-label="Time">.*?</tr>`)
	statusRE := regexp.MustCompile(`xc-st-([a-z-]+)`)
	for _, word := range []string{"zeppelin", "TIMETABLE", "timetable zeppelin"} {
		pg := b.get("/console/log?subject=" + strings.ReplaceAll(word, " ", "+"))
		if pg.status != 200 {
			t.Fatalf("search %q: status %d", word, pg.status)
		}
		rows := rowRE.FindAllString(pg.body, -1)
		seen := map[string]int{}
		for _, r := range rows {
			switch {
			case strings.Contains(r, "four%40c2.test"):
				if m := statusRE.FindStringSubmatch(r); m != nil {
					seen[m[1]]++
				}
			case strings.Contains(r, "again%40c2.test"):
				seen["other message"]++
			default:
				t.Errorf("search %q lists a record of neither message: %s", word, r)
			}
		}
		want := map[string]int{"submitted": 1, "stored": 1, "queued": 1, "delivered": 1, "other message": 1}
		if len(rows) != 5 || len(seen) != len(want) {
			t.Errorf("search %q: %d rows %v, want each of %v once", word, len(rows), seen, want)
			continue
		}
		for k, n := range want {
			if seen[k] != n {
				t.Errorf("search %q: %s listed %d times, want %d", word, k, seen[k], n)
			}
		}
	}
	// "tuesday" is in both subjects: all six records.
	if rows := rowRE.FindAllString(b.get("/console/log?subject=tuesday").body, -1); len(rows) != 6 {
		t.Errorf("search tuesday: %d rows, want 6", len(rows))
	}
}
