package sqlite

import (
	"cmp"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestLogSearchSameAfterRecords writes the same random message log twice:
// in a database made before the message records (logMessagesSchema),
// in the layout of then, which Open then upgrades; and through AppendLog
// into a new database. Every random search (by address, Message-ID,
// status, time, subject words, domains, page) gives both the records a
// plain filter of the events gives, in the same order, so that neither
// the upgrade nor the records change what the console and the API find.
func TestLogSearchSameAfterRecords(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 7))
	events := randomLog(rnd, 1500)

	oldDir := t.TempDir()
	writeOldLog(t, oldDir, events)
	upgraded := open(t, oldDir)
	defer upgraded.Close()
	fresh := open(t, t.TempDir())
	defer fresh.Close()
	ctx := t.Context()
	// In several writes, as the queue settles later events.
	for i := 0; i < len(events); i += 100 {
		if err := fresh.AppendLog(ctx, events[i:min(i+100, len(events))]...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range events {
		events[i].ID = int64(i + 1)
	}

	for n := range 400 {
		q := randomLogQuery(rnd, events)
		want := filterLog(events, q)
		for name, s := range map[string]*Store{"upgraded": upgraded, "new": fresh} {
			got, err := s.SearchLog(ctx, q)
			if err != nil {
				t.Fatalf("search %d %+v: %v", n, q, err)
			}
			if d := diffLog(got, want); d != "" {
				t.Fatalf("%s database, search %d %+v: %s", name, n, q, d)
			}
		}
	}
}

var (
	logWords  = []string{"harbour", "crane", "invoice", "gravel", "Report", "quarterly", "ALPHA", "beta", "sand", "delivery"}
	logFroms  = []string{"a@x.test", "B@x.test", "c@y.test", "d@z.test", ""}
	logRcpts  = []string{"r1@remote.test", "R2@remote.test", "r3@remote.test", "a@x.test", "c@y.test", ""}
	logKinds  = []store.LogStatus{msglog.Submitted, msglog.Stored, msglog.Queued, msglog.Delivered, msglog.Captured, msglog.Login}
	logOrigin = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// randomLog returns n events about a few hundred messages, each event
// a random one of its message's: events of one message share its
// Message-ID (some have none) and mostly its subject (a Message-ID used
// again with another subject too), its times collide often, and some
// events (sign-ins) are about no message.
func randomLog(rnd *rand.Rand, n int) []store.LogEvent {
	type msg struct{ id, subject, from string }
	var msgs []msg
	for i := range 300 {
		m := msg{id: fmt.Sprintf("m%d@x.test", i), from: logFroms[rnd.IntN(len(logFroms))]}
		switch rnd.IntN(10) {
		case 0:
			m.id = ""
		case 1:
			m.id = "<" + m.id + ">"
		}
		if rnd.IntN(10) != 0 {
			var ws []string
			for range 1 + rnd.IntN(3) {
				ws = append(ws, logWords[rnd.IntN(len(logWords))])
			}
			m.subject = strings.Join(ws, " ")
		}
		msgs = append(msgs, m)
	}
	var out []store.LogEvent
	for range n {
		e := store.LogEvent{
			Time:     logOrigin.Add(time.Duration(rnd.IntN(5000)) * time.Second),
			Status:   logKinds[rnd.IntN(len(logKinds))],
			Rcpt:     logRcpts[rnd.IntN(len(logRcpts))],
			Size:     rnd.Int64N(100000),
			RemoteIP: "192.0.2.1",
			Detail:   fmt.Sprintf("detail %d", rnd.IntN(10)),
			DomainID: rnd.Int64N(4),
		}
		if e.Status != msglog.Login {
			m := msgs[rnd.IntN(len(msgs))]
			e.MessageID, e.Subject, e.MailFrom = m.id, m.subject, m.from
			if rnd.IntN(20) == 0 {
				e.Subject = "other " + logWords[rnd.IntN(len(logWords))]
			}
			if rnd.IntN(5) == 0 {
				e.Rcpt = e.MailFrom // the Sent copy's "stored"
			}
		}
		if rnd.IntN(8) == 0 {
			e.Account = strings.ToUpper(logFroms[rnd.IntN(len(logFroms)-1)])
		}
		out = append(out, e)
	}
	return out
}

func randomLogQuery(rnd *rand.Rand, events []store.LogEvent) store.LogQuery {
	var q store.LogQuery
	pick := func() bool { return rnd.IntN(3) == 0 }
	if pick() {
		q.Address = logFroms[rnd.IntN(len(logFroms)-1)]
		if rnd.IntN(2) == 0 {
			q.Address = " " + strings.ToUpper(logRcpts[rnd.IntN(len(logRcpts)-1)])
		}
	}
	if pick() {
		q.MessageID = events[rnd.IntN(len(events))].MessageID
		if rnd.IntN(10) == 0 {
			q.MessageID = "none@x.test"
		}
	}
	if rnd.IntN(4) == 0 {
		q.Status = logKinds[rnd.IntN(len(logKinds))]
	}
	if pick() {
		q.Since = logOrigin.Add(time.Duration(rnd.IntN(5000)) * time.Second)
	}
	if rnd.IntN(4) == 0 {
		q.Until = logOrigin.Add(time.Duration(rnd.IntN(5000)) * time.Second)
	}
	if pick() {
		q.Subject = logWords[rnd.IntN(len(logWords))]
		if rnd.IntN(2) == 0 {
			q.Subject = strings.ToUpper(q.Subject) + ", " + logWords[rnd.IntN(len(logWords))]
		}
	}
	if pick() {
		q.DomainIDs = []int64{}
		for id := range int64(4) {
			if rnd.IntN(2) == 0 {
				q.DomainIDs = append(q.DomainIDs, id)
			}
		}
	}
	if rnd.IntN(4) == 0 {
		e := events[rnd.IntN(len(events))]
		q.BeforeTime, q.BeforeID = e.Time, int64(rnd.IntN(len(events))+1)
	}
	q.Limit = []int{0, 1, 7, 50, 2000}[rnd.IntN(5)]
	return q
}

// filterLog is what a search of the message log finds, by the events
// themselves: the specification the database's indexes answer.
func filterLog(events []store.LogEvent, q store.LogQuery) []store.LogEvent {
	var words []string
	if q.Subject != "" {
		if words = strings.Fields(strings.ToLower(strings.ReplaceAll(q.Subject, ",", " "))); len(words) == 0 {
			return nil
		}
	}
	if q.DomainIDs != nil && len(q.DomainIDs) == 0 {
		return nil
	}
	addr := strings.ToLower(strings.TrimSpace(q.Address))
	var out []store.LogEvent
	for _, e := range events {
		switch {
		case addr != "" && strings.ToLower(e.Rcpt) != addr && strings.ToLower(e.MailFrom) != addr && strings.ToLower(e.Account) != addr,
			q.MessageID != "" && strings.Trim(e.MessageID, "<>") != strings.Trim(q.MessageID, "<>"),
			q.Status != "" && e.Status != q.Status,
			!q.Since.IsZero() && e.Time.Before(q.Since),
			!q.Until.IsZero() && !e.Time.Before(q.Until),
			!q.BeforeTime.IsZero() && (e.Time.After(q.BeforeTime) || e.Time.Equal(q.BeforeTime) && e.ID >= q.BeforeID),
			q.DomainIDs != nil && !slices.Contains(q.DomainIDs, e.DomainID):
			continue
		}
		have := strings.Fields(strings.ToLower(e.Subject))
		if !containsAll(have, words) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.LogEvent) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	})
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	return out[:min(limit, len(out))]
}

func containsAll(have, words []string) bool {
	for _, w := range words {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// diffLog says how got differs from want, each record as stored: the
// addresses in lower case, the Message-ID without its brackets.
func diffLog(got, want []store.LogEvent) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		w.MessageID = strings.Trim(w.MessageID, "<>")
		w.MailFrom, w.Rcpt, w.Account = strings.ToLower(w.MailFrom), strings.ToLower(w.Rcpt), strings.ToLower(w.Account)
		g := got[i]
		if !g.Time.Equal(w.Time) {
			return fmt.Sprintf("record %d at %v, want %v", i, g.Time, w.Time)
		}
		g.Time = w.Time
		if g != w {
			return fmt.Sprintf("record %d is %+v, want %+v", i, g, w)
		}
	}
	return ""
}

// writeOldLog makes a database in dir at the step before the message
// records and writes events into it as appendLog then did: each with
// its Message-ID and subject, its subject's row found or added.
func writeOldLog(t *testing.T, dir string, events []store.LogEvent) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "xtramail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for v := range slices.Index(migrations, logMessagesSchema) {
		if err := migrateStep(db, v); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	subjects := map[string]int64{}
	for _, e := range events {
		sid := subjects[e.Subject]
		if e.Subject != "" && sid == 0 {
			r, err := tx.Exec("INSERT INTO msglog_subjects (subject) VALUES (?)", e.Subject)
			if err != nil {
				t.Fatal(err)
			}
			sid, _ = r.LastInsertId()
			subjects[e.Subject] = sid
			if _, err := tx.Exec("INSERT INTO msglog_subject_fts (rowid, subject) VALUES (?, ?)", sid, e.Subject); err != nil {
				t.Fatal(err)
			}
		}
		_, err := tx.Exec(`INSERT INTO msglog (time, status, message_id, subject, mail_from, rcpt, size, remote_ip, detail, domain_id, subject_id, account)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Time.UnixMilli(), e.Status, strings.Trim(e.MessageID, "<>"), e.Subject, strings.ToLower(e.MailFrom),
			strings.ToLower(e.Rcpt), e.Size, e.RemoteIP, e.Detail, e.DomainID, sid, logAccount(strings.ToLower(e.Account)))
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestSubjectWordsOneToken: every rune subjectMatch keeps in a word is
// one the index's tokenizer keeps in a token too, so that no word of a
// search becomes a phrase, which the index (detail=none) refuses. The
// tokens are counted by a table of the same tokenizer that keeps counts.
func TestSubjectWordsOneToken(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE VIRTUAL TABLE words USING fts5(subject, tokenize='" + logWordsTokenizer + "')"); err != nil {
		t.Fatal(err)
	}
	// Every word rune between two letters, a thousand to a row.
	var words []int
	var b strings.Builder
	n := 0
	add := func() {
		if _, err := db.Exec("INSERT INTO words (rowid, subject) VALUES (?, ?)", len(words), b.String()); err != nil {
			t.Fatal(err)
		}
		words = append(words, n)
		b.Reset()
		n = 0
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !wordRune(r) {
			continue
		}
		b.WriteString(" a" + string(r) + "b")
		if n++; n == 1000 {
			add()
		}
	}
	add()
	rows, err := db.Query("SELECT id, sz FROM words_docsize")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var id int
		var sz []byte
		if err := rows.Scan(&id, &sz); err != nil {
			t.Fatal(err)
		}
		if tokens := sqliteVarint(sz); tokens != words[id] {
			t.Errorf("row %d: %d tokens, want %d (one per word)", id, tokens, words[id])
		}
		checked++
	}
	if err := rows.Err(); err != nil || checked != len(words) {
		t.Fatalf("read %d of %d rows: %v", checked, len(words), err)
	}

	// A search by a word with such a rune is no phrase, and finds the
	// subject.
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	if err := s.AppendLog(ctx, store.LogEvent{Status: msglog.Captured, MessageID: "tai@x", Subject: "a\u19b0b"}); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.SearchLog(ctx, store.LogQuery{Subject: "A\u19b0B"}); err != nil || len(evs) != 1 {
		t.Errorf("search by a word of New Tai Lue: %d records, %v; want 1", len(evs), err)
	}
}

// sqliteVarint reads the count at the start of an FTS5 _docsize row:
// SQLite's varint, seven bits a byte, most significant first.
func sqliteVarint(b []byte) int {
	v := 0
	for _, c := range b {
		v = v<<7 | int(c&0x7f)
		if c&0x80 == 0 {
			break
		}
	}
	return v
}
