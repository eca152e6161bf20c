package imapserver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSubscriptionsOwnList: subscriptions are a list of names of their
// own (RFC 9051 sections 6.3.7-6.3.9): CREATE does not subscribe, DELETE
// keeps the subscription (LIST (SUBSCRIBED) then shows \NonExistent), and
// LSUB with "%" returns a subscribed child's unsubscribed parent with
// \Noselect (RFC 3501 section 6.3.9).
func TestSubscriptionsOwnList(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	c.ok("CREATE Work/Reports")
	hasNot(t, c.ok(`LSUB "" "*"`), "Work")
	hasNot(t, c.ok(`LIST (SUBSCRIBED) "" "*"`), "Work")
	has(t, c.ok(`LSUB "" "*"`), `* LSUB () "/" INBOX`, `* LSUB (\Sent) "/" Sent`)

	c.ok("SUBSCRIBE Work/Reports")
	lines := c.ok(`LSUB "" "%"`)
	has(t, lines, `* LSUB (\Noselect) "/" Work`)
	hasNot(t, lines, "Work/Reports")
	lines = c.ok(`LSUB "" "*"`)
	has(t, lines, `* LSUB () "/" Work/Reports`)
	for _, l := range lines {
		if strings.HasSuffix(l, `"/" Work`) {
			t.Errorf("LSUB * lists the unsubscribed parent: %q", l)
		}
	}
	has(t, c.ok(`LSUB "Work/" "%"`), `* LSUB () "/" Work/Reports`)
	has(t, c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`), `"/" Work ("CHILDINFO" ("SUBSCRIBED"))`)
	has(t, c.ok(`LIST "" "*" RETURN (SUBSCRIBED)`), `* LIST (\Subscribed \HasNoChildren) "/" Work/Reports`, `* LIST (\HasChildren) "/" Work`)

	// DELETE keeps the subscription.
	c.ok("DELETE Work/Reports")
	has(t, c.ok(`LIST (SUBSCRIBED) "" "*"`), `* LIST (\Subscribed \NonExistent) "/" Work/Reports`)
	has(t, c.ok(`LSUB "" "*"`), `* LSUB (\Noselect) "/" Work/Reports`)
	hasNot(t, c.ok(`LIST "" "*"`), "Work/Reports")
	// Re-created, it is subscribed again without SUBSCRIBE.
	c.ok("CREATE Work/Reports")
	has(t, c.ok(`LIST (SUBSCRIBED) "" "Work/*"`), `* LIST (\Subscribed \HasNoChildren) "/" Work/Reports`)
	// A name whose mailbox is gone can be unsubscribed; twice is NO.
	c.ok("DELETE Work/Reports")
	c.ok("UNSUBSCRIBE Work/Reports")
	c.want("UNSUBSCRIBE Work/Reports", "NO")
	hasNot(t, c.ok(`LSUB "" "*"`), "Work")
	// SUBSCRIBE wants a mailbox.
	c.want("SUBSCRIBE Nowhere", "NO")
}

const pythonSubscriptions = `
import imaplib, ssl, sys
port, cafile, user, password = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
m = imaplib.IMAP4_SSL('localhost', int(port), ssl_context=ctx)
m.login(user, password)
for cmd in (m.create('Projects'), m.create('Projects/2027'), m.subscribe('Projects/2027')):
    assert cmd[0] == 'OK', cmd
typ, data = m.lsub('""', '%')
assert typ == 'OK', (typ, data)
assert b'(\\Noselect) "/" Projects' in data, data
assert not any(b'2027' in d for d in data), data
typ, data = m.delete('Projects/2027')
assert typ == 'OK', (typ, data)
typ, data = m.list('""', '*')
assert not any(b'2027' in d for d in data), data
typ, data = m._simple_command('LIST', '(SUBSCRIBED)', '""', '*')
typ, data = m._untagged_response(typ, data, 'LIST')
assert b'(\\Subscribed \\NonExistent) "/" Projects/2027' in data, data
typ, data = m.unsubscribe('Projects/2027')
assert typ == 'OK', (typ, data)
m.logout()
print('ok')
`

// TestSubscriptionsImaplib drives the same rules with Python's imaplib.
func TestSubscriptionsImaplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not installed: run scripts/test, which installs it")
	}
	e := newEnv(t)
	script := filepath.Join(t.TempDir(), "subs.py")
	os.WriteFile(script, []byte(pythonSubscriptions), 0o600)
	_, port, _ := strings.Cut(e.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, script, port, e.writeCert(), testUser, testPassword).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("python: %v\n%s", err, out)
	}
}
