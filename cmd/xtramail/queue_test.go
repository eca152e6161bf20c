package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/queue"
	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
)

// TestQueueAndDKIMCommands: queue list, retry and delete on entries made
// the way Submit makes them, and the dkim commands' refusals.
func TestQueueAndDKIMCommands(t *testing.T) {
	data := t.TempDir()
	queueMessage(t, data, "bob@remote.test", "carol@far.test")

	out := cliProc(t, data, "", "queue", "list")
	for _, want := range []string{"ID", "alice@example.test", "bob@remote.test", "carol@far.test", "2 waiting"} {
		if !strings.Contains(out, want) {
			t.Fatalf("queue list lacks %q:\n%s", want, out)
		}
	}
	var rows []queueRow
	if err := json.Unmarshal([]byte(cliProc(t, data, "", "queue", "list", "--json")), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("queue list --json: %v %+v", err, rows)
	}
	if rows[0].MessageID != "q1@example.test" || rows[0].Subject != "out" {
		t.Fatalf("row %+v", rows[0])
	}
	id := fmt.Sprint(rows[0].ID)
	data2 := func(args ...string) []string { return append(args, "--data", "$DATA") }
	noQueue := filepath.Join(t.TempDir(), "xtramail.toml")
	if err := os.WriteFile(noQueue, []byte("[queue]\nmode = \"hold\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCases(t, data, []cliCase{
		{args: data2("queue", "retry", id), stdout: []string{"1 entries due now"}},
		{args: data2("queue", "retry"), code: 2, stderr: []string{"give entry ids, --domain or --all"}},
		{args: data2("queue", "retry", "x"), code: 2, stderr: []string{`"x" is not a queue entry id`}},
		// Exact about when: the server is not woken by another process.
		{args: data2("queue", "retry", "--all"), stdout: []string{"2 entries due now; a running server tries them at its next look at the queue, within 15 seconds"},
			notOut: []string{"sends nothing out"}},
		{args: data2("queue", "retry", "--all", "--config", noQueue), stdout: []string{"2 entries due now",
			"This configuration sends nothing out (queue mode is hold): a server running with it leaves them queued."}},
		{args: data2("queue", "delete", id), stdout: []string{"1 entries deleted"}},
		{args: data2("queue", "delete", id), code: 1, stderr: []string{"no queue entry " + id + " (delivered, returned or deleted already?): not found"}},
		{args: data2("queue", "list"), stdout: []string{"1 waiting"}, notOut: []string{"bob@remote.test"}},
		// The log says bob's message was dropped, not only queued.
		{args: data2("log", "search", "--address", "bob@remote.test", "--status", "cancelled"),
			stdout: []string{"cancelled", "alice@example.test", "bob@remote.test", "deleted from the queue by an administrator"}},
		{args: data2("log", "search", "--status", "nope"), code: 2, stderr: []string{"expired, cancelled, redelivered"}},
		{args: data2("domain", "dkim", "show", "example.test"), code: 1, stderr: []string{"not found"}},
		{args: data2("domain", "dkim", "generate", "nowhere.test"), code: 1, stderr: []string{"not found"}},
		{args: data2("domain", "dkim", "generate", "example.test", "--algorithm", "dsa"), code: 1, stderr: []string{"want ed25519 or rsa"}},
		{args: data2("log", "search", "--status", "expired"), stdout: []string{"TIME (UTC)"}},
	})
	evs := searchLog(t, data, "--status", "cancelled")
	if len(evs) != 1 || evs[0].Rcpt != rows[0].To || evs[0].MessageID != "q1@example.test" || evs[0].Subject != "out" ||
		evs[0].Detail != "deleted from the queue by an administrator on the command line before its first attempt: not delivered, no notice to the sender" {
		t.Errorf("log search --status cancelled after one queue delete: %+v", evs)
	}
}

// TestQueueDeleteLeavesEntryBeingDelivered: queue delete leaves an entry
// that a server is delivering (leased), says so and exits 1, and deletes
// the others named.
func TestQueueDeleteLeavesEntryBeingDelivered(t *testing.T) {
	data := t.TempDir()
	st := queueMessage(t, data, "bob@remote.test", "carol@far.test")
	ctx := context.Background()
	// Due in an hour: claimed as a server would then, leased beyond now.
	claimed, err := st.ClaimQueue(ctx, time.Now().Add(2*time.Hour), 15*time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	all, err := st.QueueEntries(ctx, store.QueueQuery{})
	if err != nil || len(all) != 2 {
		t.Fatalf("queue: %v %v", all, err)
	}
	runCases(t, data, []cliCase{
		{args: []string{"queue", "delete", fmt.Sprint(all[0].ID), fmt.Sprint(all[1].ID), "--data", "$DATA"}, code: 1,
			stdout: []string{"1 entries deleted"},
			stderr: []string{fmt.Sprintf("left as they are, being delivered at this moment: [%d]", claimed[0].ID)}},
		{args: []string{"queue", "list", "--data", "$DATA"}, stdout: []string{"1 waiting", claimed[0].Rcpt}},
	})
	if evs := searchLog(t, data, "--status", "cancelled"); len(evs) != 1 || evs[0].Rcpt == claimed[0].Rcpt {
		t.Errorf("cancelled records %+v, want one, not for %s", evs, claimed[0].Rcpt)
	}
}

// queueMessage makes a store in data with alice@example.test, and queues
// a message of hers to rcpts the way Submit does, due in an hour.
func queueMessage(t *testing.T, data string, rcpts ...string) store.Store {
	t.Helper()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "", "user", "add", "alice@example.test")
	st := openStore(t, data)
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	d := store.NewDelivery([]byte("From: alice@example.test\r\nSubject: out\r\nMessage-ID: <q1@example.test>\r\n\r\nx\r\n"), later)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent}}
	d.Outbound, d.Events = queue.Outbound(acc.ID, acc.DomainID, acc.Address, rcpts, d.Info, d.Size, later)
	if _, err := st.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestQueueCommandsLongQueue: with 2500 entries, queue list shows a page
// and says how to get the next, which follows on; --domain lists, retries
// and deletes the entries to one recipient domain; ids not in the queue
// are named, and the others are still done.
func TestQueueCommandsLongQueue(t *testing.T) {
	data := t.TempDir()
	var rcpts []string
	for i := range 2500 {
		d := "bulk.test"
		if i%100 == 0 {
			d = "few.test"
		}
		rcpts = append(rcpts, fmt.Sprintf("r%d@%s", i, d))
	}
	st := queueMessage(t, data, rcpts...)
	all, err := st.QueueEntries(context.Background(), store.QueueQuery{Limit: 5000})
	if err != nil || len(all) != 2500 {
		t.Fatalf("%d entries, %v", len(all), err)
	}
	id := func(i int) string { return fmt.Sprint(all[i].ID) }

	out := cliProc(t, data, "", "queue", "list")
	if lines := strings.Count(out, "\n"); lines != 1002 || !strings.Contains(out, "1000 shown of 2500 waiting; the next page: --after "+id(999)) {
		t.Fatalf("queue list: %d lines, ending %q", lines, out[max(0, len(out)-200):])
	}
	data2 := func(args ...string) []string { return append(args, "--data", "$DATA") }
	runCases(t, data, []cliCase{
		{args: data2("queue", "list", "--after", id(999), "--limit", "2"), stdout: []string{"r1000@few.test", "r1001@bulk.test",
			"2 shown of 2500 waiting; the next page: --after " + id(1001)}, notOut: []string{"r999@bulk.test", "r1002@"}},
		{args: data2("queue", "list", "--after", id(2400)), stdout: []string{"r2499@bulk.test", "99 shown of 2500 waiting\n"}},
		{args: data2("queue", "list", "--domain", "Few.Test"), stdout: []string{"r0@few.test", "r2400@few.test", "25 shown of 2500 waiting\n"},
			notOut: []string{"bulk.test"}},
		{args: data2("queue", "list", "--limit", "0"), code: 2, stderr: []string{"--limit must be at least 1"}},
		{args: data2("queue", "retry", "--domain", "few.test"), stdout: []string{"25 entries due now"}},
		{args: data2("queue", "retry", "--domain", "few.test", id(1)), code: 2, stderr: []string{"give entry ids, --domain or --all"}},
		{args: data2("queue", "delete"), code: 2, stderr: []string{"give entry ids or --domain"}},
		{args: data2("queue", "delete", "--domain", "few.test"), stdout: []string{"25 entries deleted"}},
		{args: data2("queue", "delete", id(1), "999999", "999998"), code: 1, stdout: []string{"1 entries deleted"},
			stderr: []string{"no queue entries 999999, 999998 (delivered, returned or deleted already?): not found"}},
		{args: data2("queue", "retry", id(1)), code: 1, stdout: []string{"0 entries due now"}, stderr: []string{"no queue entry " + id(1) + " "}},
		{args: data2("queue", "list", "--domain", "few.test"), stdout: []string{"0 shown of 2474 waiting"}},
	})
}

// TestDKIMRotationCommands: generate makes a pending key that does not
// sign; activate looks its record up (here at a test name server) and
// leaves it pending while the record is missing or holds another public
// key, activates it once published, or at once with --force; the key it
// replaces is listed as retired with the date its record can go; list
// shows each key's state and the records to publish.
func TestDKIMRotationCommands(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	ns := queuetest.StartDNS(t)
	st := openStore(t, data)
	ctx := context.Background()
	data2 := func(args ...string) []string { return append(args, "--data", "$DATA") }
	activate := data2("domain", "dkim", "activate", "example.test", "--nameserver", ns.Addr)
	// publish serves the record show prints, as an administrator pastes it.
	publish := func(zoneLine string) {
		t.Helper()
		name, rest, ok := strings.Cut(strings.TrimSpace(zoneLine), ". IN TXT ")
		if !ok {
			t.Fatalf("not a TXT record in zone-file form: %q", zoneLine)
		}
		ns.SetTXT(t, name, strings.ReplaceAll(strings.Trim(rest, `"`), `" "`, ""))
	}
	runCases(t, data, []cliCase{
		{args: activate, code: 1, stderr: []string{"no pending DKIM key"}},
		{args: data2("domain", "dkim", "generate", "example.test", "--algorithm", "ed25519", "--selector", "ed1"),
			stdout: []string{"new DKIM key ed1 (ed25519) is pending; publish:", `ed1._domainkey.example.test. IN TXT "v=DKIM1; k=ed25519; p=`,
				"Mail from example.test stays unsigned until the record is seen in DNS"}},
		{args: activate, code: 1, stderr: []string{"DKIM key ed1 of example.test stays pending", "no TXT record at ed1._domainkey.example.test"}},
	})
	if _, err := st.DKIMKey(ctx, "example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a pending key signs: %v", err)
	}
	publish(cliProc(t, data, "", "domain", "dkim", "show", "example.test"))
	runCases(t, data, []cliCase{
		{args: activate, stdout: []string{"domain example.test: DKIM key ed1 is active"}, notOut: []string{"retired"}},
		{args: data2("domain", "dkim", "generate", "example.test", "--selector", "ed1"), code: 2, stderr: []string{"the active key's"}},
		{args: data2("domain", "dkim", "generate", "example.test", "--selector", "rsa1"),
			stdout: []string{`rsa1._domainkey.example.test. IN TXT "v=DKIM1; k=rsa; p=`, "Key ed1 keeps signing until the new record is seen in DNS"}},
	})
	if k, err := st.DKIMKey(ctx, "example.test"); err != nil || k.Selector != "ed1" {
		t.Fatalf("signing key after a new one was generated: %+v %v", k, err)
	}
	// A record with another key at the new name activates nothing.
	ns.SetTXT(t, "rsa1._domainkey.example.test", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong")
	runCases(t, data, []cliCase{
		{args: activate, code: 1, stderr: []string{"stays pending", "rsa1._domainkey.example.test publishes another public key"}},
		{args: data2("domain", "dkim", "list"), stdout: []string{"example.test", "rsa1", "pending", "ed1", "active",
			"pending key rsa1:", "active key ed1:", `ed1._domainkey.example.test. IN TXT "v=DKIM1; k=ed25519; p=`}},
		{args: data2("domain", "dkim", "activate", "example.test", "--force"),
			stdout: []string{"DKIM key rsa1 is active", "Key ed1 is retired: keep its record ed1._domainkey.example.test until " +
				time.Now().Add(7*24*time.Hour).UTC().Format(time.DateOnly)}},
		{args: data2("domain", "dkim", "list", "example.test"), stdout: []string{"rsa1", "active", "ed1", "retired",
			"keep ed1._domainkey.example.test until"}, notOut: []string{"pending"}},
	})
	if k, err := st.DKIMKey(ctx, "example.test"); err != nil || k.Selector != "rsa1" || k.Algorithm != "rsa" {
		t.Fatalf("forced key %+v %v", k, err)
	}
	var rows []dkimRow
	if err := json.Unmarshal([]byte(cliProc(t, data, "", "domain", "dkim", "list", "--json")), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("list --json: %v %+v", err, rows)
	}
	if rows[0].State != "active" || rows[0].Selector != "rsa1" || !strings.HasPrefix(rows[0].Record, "v=DKIM1; k=rsa; p=") ||
		rows[1].State != "retired" || rows[1].Selector != "ed1" || rows[1].Record != "" || rows[1].RemoveAfter == nil {
		t.Fatalf("list --json rows %+v", rows)
	}

	// The RSA record is split into 255-byte strings, and show prints the
	// active one.
	out := cliProc(t, data, "", "domain", "dkim", "show", "example.test")
	parts := regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(out, -1)
	if len(parts) < 2 || len(parts[0][1]) != 255 || !strings.HasPrefix(out, "rsa1._domainkey.example.test.") {
		t.Fatalf("show %s", out)
	}
	// Two keys made the same day without --selector have DNS names of
	// their own (also the second while the first is pending), and none
	// is the active key's.
	sel := regexp.MustCompile(`new DKIM key (x\d{8}[a-z]?) \(rsa\) is pending`)
	var made []string
	for range 2 {
		m := sel.FindStringSubmatch(cliProc(t, data, "", "domain", "dkim", "generate", "example.test"))
		if m == nil {
			t.Fatal("generate without --selector: no selector of the form x20261206[b] in its output")
		}
		made = append(made, m[1])
	}
	if made[0] == made[1] || made[0][:9] == made[1][:9] && made[1] != made[0]+"b" {
		t.Fatalf("two keys made without --selector: selectors %q", made)
	}
}

// TestTablesShowNoTerminalControls: what remote servers and clients sent
// reaches an administrator's terminal through the CLI's tables: a remote
// reply in queue list, a subject and a refused user name in log search.
// Escape sequences (clear the screen, retitle the window), BEL and
// bidirectional overrides show as U+FFFD, in every table.
func TestTablesShowNoTerminalControls(t *testing.T) {
	data := t.TempDir()
	st := queueMessage(t, data, "bob@remote.test")
	ctx := context.Background()
	es, err := st.QueueEntries(ctx, store.QueueQuery{})
	if err != nil || len(es) != 1 {
		t.Fatalf("queue: %v %v", es, err)
	}
	hostile := "451 4.7.1 \x1b]2;PWNED\x07\x1b[2J\x1b[31mred \u202etxt.exe\u202c \x9b1m"
	if err := st.SettleQueue(ctx, []store.QueueSettle{{ID: es[0].ID, Outcome: store.QueueDeferred, Next: time.Now().Add(time.Hour), Error: hostile}},
		store.LogEvent{Time: time.Now(), Status: "deferred", MailFrom: "alice@example.test", Rcpt: "bob@remote.test", Subject: "\u202eevil", Detail: hostile}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{{"queue", "list"}, {"log", "search"}} {
		out := cliProc(t, data, "", args...)
		if i := strings.IndexFunc(out, func(r rune) bool {
			return r == 0x1b || r == 0x07 || r == 0x9b || r == '\u202e' || r == '\u202c'
		}); i >= 0 {
			t.Errorf("%s prints a terminal control at %d: %q", strings.Join(args, " "), i, out)
		}
		if !strings.Contains(out, "451 4.7.1 \uFFFD]2;PWNED\uFFFD\uFFFD[2J") {
			t.Errorf("%s does not show the reply with its controls replaced:\n%s", strings.Join(args, " "), out)
		}
	}
}
