package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/store"
)

// listMessages runs message list --json and decodes it.
func listMessages(t *testing.T, data string, args ...string) []messageRow {
	t.Helper()
	out := cliProc(t, data, "", append([]string{"message", "list", "--json"}, args...)...)
	var rows []messageRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("message list --json %q: %v", out, err)
	}
	return rows
}

func idsOf(rows []messageRow) []string {
	var ids []string
	for _, r := range rows {
		ids = append(ids, fmt.Sprint(r.ID))
	}
	return ids
}

// TestMessageRestore guards issue 12 part 6: messages a user deleted over
// IMAP are listed with message list --deleted and brought back with
// message restore through the store's restore (logged "restored"), under
// new UIDs that an IMAP client sees; a wrong, live or foreign id restores
// nothing.
func TestMessageRestore(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, "s3cret-pass\n", "user", "add", "bob@example.test", "--password-stdin")
	cliProc(t, data, "", "user", "add", "alice@example.test")
	srv := startServer(t, data)
	defer srv.stop(t)
	for i := 1; i <= 3; i++ {
		msg := fmt.Sprintf("Subject: message %d\r\nMessage-ID: <m%d@outside.test>\r\n\r\nbody %d\r\n", i, i, i)
		if got := pySend(t, srv.addr, "sender@outside.test", "bob@example.test", []byte(msg)); got != "OK []" {
			t.Fatal(got)
		}
	}
	if got := pySend(t, srv.addr, "sender@outside.test", "alice@example.test", []byte("Subject: alice's\r\n\r\nx\r\n")); got != "OK []" {
		t.Fatal(got)
	}

	// Bob deletes two messages in his mail client.
	opts := &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	c, err := imapclient.DialTLS(srv.imap, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob@example.test", "s3cret-pass").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids := imap.UIDSetNum(1, 2)
	if err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	c.Close()

	deleted := listMessages(t, data, "bob@example.test", "--deleted")
	if len(deleted) != 2 || !deleted[0].Deleted || deleted[0].Mailbox != store.Inbox {
		t.Fatalf("deleted messages %+v", deleted)
	}
	subjects := map[string]bool{}
	for _, r := range deleted {
		subjects[r.Subject] = true
	}
	if !subjects["message 1"] || !subjects["message 2"] {
		t.Fatalf("deleted subjects %v", subjects)
	}
	live := listMessages(t, data, "bob@example.test")
	if len(live) != 1 || live[0].Subject != "message 3" || live[0].UID != 3 {
		t.Fatalf("live messages %+v", live)
	}
	if rows := listMessages(t, data, "bob@example.test", "--deleted", "--mailbox", "Sent"); len(rows) != 0 {
		t.Errorf("deleted in Sent: %+v", rows)
	}
	if rows := listMessages(t, data, "bob@example.test", "--deleted", "--since", "1h"); len(rows) != 2 {
		t.Errorf("deleted since 1h: %+v", rows)
	}
	if rows := listMessages(t, data, "bob@example.test", "--deleted", "--since", "2099-01-01"); len(rows) != 0 {
		t.Errorf("deleted since 2099: %+v", rows)
	}
	if out := cliProc(t, data, "", "message", "list", "bob@example.test", "--deleted"); !strings.Contains(out, "2 deleted messages") || !strings.Contains(out, "message 1") {
		t.Errorf("message list --deleted table:\n%s", out)
	}
	aliceID := fmt.Sprint(listMessages(t, data, "alice@example.test")[0].ID)
	liveID := fmt.Sprint(live[0].ID)
	ids := idsOf(deleted)

	// Nothing is restored unless every id can be.
	runCases(t, data, []cliCase{
		{args: []string{"message", "restore", "bob@example.test", ids[0], liveID, "--data", "$DATA"}, code: 1, stderr: []string{"message " + liveID + " of bob@example.test is not deleted"}},
		{args: []string{"message", "restore", "bob@example.test", ids[0], aliceID, "--data", "$DATA"}, code: 1, stderr: []string{"message " + aliceID + " of bob@example.test: not found"}},
		{args: []string{"message", "restore", "bob@example.test", ids[0], "99999", "--data", "$DATA"}, code: 1, stderr: []string{"not found"}},
		{args: []string{"message", "restore", "bob@example.test", "abc", "--data", "$DATA"}, code: 2, stderr: []string{`"abc" is not a message id`}},
		{args: []string{"message", "restore", "nobody@example.test", ids[0], "--data", "$DATA"}, code: 1, stderr: []string{"not found"}},
	})
	if rows := listMessages(t, data, "bob@example.test", "--deleted"); len(rows) != 2 {
		t.Fatalf("a refused restore restored something: %+v", rows)
	}

	out := cliProc(t, data, "", append([]string{"message", "restore", "bob@example.test"}, ids...)...)
	if !strings.Contains(out, "2 messages of bob@example.test restored") || !strings.Contains(out, "restored to INBOX (UID 4)") {
		t.Errorf("message restore said:\n%s", out)
	}
	if rows := listMessages(t, data, "bob@example.test", "--deleted"); len(rows) != 0 {
		t.Errorf("still deleted after restore: %+v", rows)
	}
	if evs := searchLog(t, data, "--status", "restored", "--address", "bob@example.test"); len(evs) != 2 {
		t.Errorf("restored events %+v", evs)
	}

	// Bob's client sees them again, under new UIDs.
	c, err = imapclient.DialTLS(srv.imap, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.test", "s3cret-pass").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]imap.UID{}
	for _, m := range msgs {
		got[m.Envelope.Subject] = m.UID
	}
	if len(got) != 3 || got["message 3"] != 3 || got["message 1"] < 4 || got["message 2"] < 4 {
		t.Errorf("INBOX after restore: %v", got)
	}
}
