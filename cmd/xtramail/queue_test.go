package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/queue"
	"github.com/xtramail/xtramail/internal/store"
)

// TestQueueAndDKIMCommands: queue list, retry and delete on entries made
// the way Submit makes them, and domain dkim generate/show printing a
// record whose key the store keeps.
func TestQueueAndDKIMCommands(t *testing.T) {
	data := t.TempDir()
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
	d.Outbound, d.Events = queue.Outbound(acc.ID, acc.DomainID, acc.Address, []string{"bob@remote.test", "carol@far.test"}, d.Info, d.Size, later)
	if _, err := st.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}

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
	runCases(t, data, []cliCase{
		{args: data2("queue", "retry", id), stdout: []string{"1 entries due now"}},
		{args: data2("queue", "retry"), code: 2, stderr: []string{"give entry ids or --all"}},
		{args: data2("queue", "retry", "x"), code: 2, stderr: []string{`"x" is not a queue entry id`}},
		{args: data2("queue", "retry", "--all"), stdout: []string{"2 entries due now"}},
		{args: data2("queue", "delete", id), stdout: []string{"1 entries deleted"}},
		{args: data2("queue", "delete", id), code: 1, stderr: []string{"not in the queue: not found"}},
		{args: data2("queue", "list"), stdout: []string{"1 waiting"}, notOut: []string{"bob@remote.test"}},
		{args: data2("domain", "dkim", "show", "example.test"), code: 1, stderr: []string{"not found"}},
		{args: data2("domain", "dkim", "generate", "nowhere.test"), code: 1, stderr: []string{"not found"}},
		{args: data2("domain", "dkim", "generate", "example.test", "--algorithm", "dsa"), code: 1, stderr: []string{"want ed25519 or rsa"}},
		{args: data2("domain", "dkim", "generate", "example.test", "--algorithm", "ed25519", "--selector", "ed1"),
			stdout: []string{"publish:", `ed1._domainkey.example.test. IN TXT "v=DKIM1; k=ed25519; p=`}},
		{args: data2("domain", "dkim", "generate", "example.test", "--selector", "rsa1"),
			stdout: []string{`rsa1._domainkey.example.test. IN TXT "v=DKIM1; k=rsa; p=`, "It replaces key ed1: its record ed1._domainkey.example.test can go"}},
		{args: data2("log", "search", "--status", "expired"), stdout: []string{"TIME (UTC)"}},
	})
	// The RSA record is split into 255-byte strings, and show prints the
	// one stored.
	out = cliProc(t, data, "", "domain", "dkim", "show", "example.test")
	parts := regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(out, -1)
	if len(parts) < 2 || len(parts[0][1]) != 255 {
		t.Fatalf("rsa record not split: %s", out)
	}
	if !strings.HasPrefix(out, "rsa1._domainkey.example.test.") {
		t.Fatalf("show %s", out)
	}
	if k, err := st.DKIMKey(ctx, "example.test"); err != nil || k.Selector != "rsa1" || k.Algorithm != "rsa" {
		t.Fatalf("stored key %+v %v", k, err)
	}
	// Two keys made the same day without --selector have DNS names of
	// their own: the second under the first's name would fail every
	// signature until its record replaced the published one.
	sel := regexp.MustCompile(`with DKIM key (x\d{8}[a-z]?) \(rsa\)`)
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
