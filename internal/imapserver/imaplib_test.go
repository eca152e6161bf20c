package imapserver_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// imaplibEveryCommand calls every command method of Python's
// imaplib.IMAP4 on the server, and IDLE by raw writes (imaplib has no
// idle before 3.14). It prints one JSON object: for each call (call of
// imaplibStart), the status ("OK", "NO", "BAD", or "error: ..." when
// imaplib raised) and the data.
const imaplibEveryCommand = `
call('capability', m.capability)
call('noop-before', m.noop)
call('login_cram_md5', m.login_cram_md5, user, password)
call('select-before-login', m.select, 'INBOX')
call('login', m.login, user, password)
call('enable', m.enable, 'CONDSTORE')
call('namespace', m.namespace)
call('list', m.list)
call('lsub', m.lsub)
call('create', m.create, 'Py/Sub')
call('create-exists', m.create, 'Py/Sub')
call('subscribe', m.subscribe, 'Py/Sub')
call('lsub-sub', m.lsub, '""', 'Py/*')
call('unsubscribe', m.unsubscribe, 'Py/Sub')
call('rename', m.rename, 'Py/Sub', 'Py/Renamed')
call('status', m.status, 'INBOX', '(MESSAGES UIDNEXT UNSEEN)')
call('getquotaroot', m.getquotaroot, 'INBOX')
call('getquota', m.getquota, '""')
call('setquota', m.setquota, '""', '(STORAGE 1)')
call('myrights', m.myrights, 'INBOX')
call('getacl', m.getacl, 'INBOX')
call('setacl', m.setacl, 'INBOX', 'bob', 'lr')
call('deleteacl', m.deleteacl, 'INBOX', 'bob')
call('getannotation', m.getannotation, 'INBOX', '"/comment"', '"value.priv"')
call('proxyauth', m.proxyauth, 'bob@example.org')
msg = b'From: a@example.net\r\nSubject: from imaplib\r\nMessage-ID: <py1@example.net>\r\n\r\nbody of the appended message\r\n'
call('append', m.append, 'INBOX', '(\\Flagged)', imaplib.Time2Internaldate(time.time()), msg)
call('examine', m.select, 'INBOX', True)
call('store-readonly', m.store, '1', '+FLAGS', '(\\Seen)')
call('unselect', m.unselect)
call('select', m.select, 'INBOX')
call('check', m.check)
call('search', m.search, None, 'ALL')
call('search-charset', m.search, 'UTF-8', 'SUBJECT', 'imaplib')
call('uid-search', m.uid, 'SEARCH', 'FLAGGED')
call('fetch', m.fetch, '1:*', '(UID FLAGS RFC822.SIZE)')
call('fetch-body', m.fetch, '2', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
call('uid-fetch', m.uid, 'FETCH', '1:*', '(FLAGS)')
call('partial', m.partial, '1', 'RFC822', '0', '10')
call('sort', m.sort, '(REVERSE ARRIVAL)', 'UTF-8', 'ALL')
call('thread', m.thread, 'REFERENCES', 'UTF-8', 'ALL')
call('store', m.store, '1', '+FLAGS', '(\\Seen $Label1)')
call('uid-store', m.uid, 'STORE', '2', '+FLAGS.SILENT', '(\\Answered)')
call('copy', m.copy, '1', 'Py/Renamed')
call('uid-copy', m.uid, 'COPY', '2', 'Py/Renamed')
call('uid-move', m.uid, 'MOVE', '1', 'Trash')
call('copy-trycreate', m.copy, '1', 'Nowhere')
call('store-deleted', m.store, '1', '+FLAGS.SILENT', '(\\Deleted)')
call('expunge', m.expunge)
call('xatom', m.xatom, 'XFROB')
call('starttls', m.starttls)
# IDLE by raw writes: another connection appends, this one hears EXISTS.
tag = m._new_tag()
m.send(tag + b' IDLE\r\n')
cont = m.readline()
m2 = imaplib.IMAP4_SSL('localhost', int(port), ssl_context=ctx)
m2.login(user, password)
m2.append('INBOX', None, None, b'Subject: during idle\r\n\r\nx\r\n')
m2.logout()
heard = m.readline()
m.send(b'DONE\r\n')
done = m.readline()
while not done.startswith(tag):
    done = m.readline()
out['idle'] = [done.split(b' ', 2)[1].decode(), [cont.decode().strip(), heard.decode().strip()]]
call('close', m.close)
call('delete', m.delete, 'Py/Renamed')
call('delete-parent', m.delete, 'Py')
call('logout', m.logout)
print(json.dumps(out))
`

// TestImaplibEveryCommand: every command of Python's imaplib, in its
// default use, gets the RFC's answer: OK with the data the command asks
// for, or, for what the server does not offer (CRAM-MD5, ACL, SETQUOTA,
// ANNOTATE, PROXYAUTH, the obsolete PARTIAL), a clean NO or BAD after
// which the session goes on.
func TestImaplibEveryCommand(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("first", "body one"), 0)
	out := e.runImaplib("every.py", imaplibEveryCommand, 3*time.Minute)
	var got map[string][2]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("imaplib output: %v\n%s", err, out)
	}
	status := func(name string) string {
		r, ok := got[name]
		if !ok {
			t.Fatalf("no result for %s", name)
		}
		return r[0].(string)
	}
	data := func(name string) string {
		return fmt.Sprint(got[name][1])
	}
	for name, want := range map[string]string{
		"capability": "OK", "noop-before": "OK", "login": "OK", "enable": "OK", "namespace": "OK",
		"list": "OK", "lsub": "OK", "create": "OK", "subscribe": "OK", "lsub-sub": "OK", "unsubscribe": "OK",
		"rename": "OK", "status": "OK", "getquotaroot": "OK", "getquota": "OK", "append": "OK",
		"examine": "OK", "unselect": "OK", "select": "OK", "check": "OK", "search": "OK", "search-charset": "OK",
		"uid-search": "OK", "fetch": "OK", "fetch-body": "OK", "uid-fetch": "OK", "sort": "OK", "thread": "OK",
		"store": "OK", "uid-store": "OK", "copy": "OK", "uid-copy": "OK", "uid-move": "OK", "store-deleted": "OK",
		"expunge": "OK", "idle": "OK", "close": "OK", "delete": "OK", "delete-parent": "OK", "logout": "BYE",
		// Refusals: imaplib raises on NO and BAD; the server's words
		// are in the error.
		"login_cram_md5":      "error: error: [CANNOT] unsupported mechanism; use PLAIN",
		"select-before-login": "error: error: command SELECT illegal in state NONAUTH, only allowed in states AUTH, SELECTED",
		"create-exists":       "NO",
		"setquota":            "error: error: SETQUOTA command error: BAD [b'unknown command']",
		"myrights":            "error: error: MYRIGHTS command error: BAD [b'unknown command']",
		"getacl":              "error: error: GETACL command error: BAD [b'unknown command']",
		"setacl":              "error: error: SETACL command error: BAD [b'unknown command']",
		"deleteacl":           "error: error: DELETEACL command error: BAD [b'unknown command']",
		"getannotation":       "error: error: GETANNOTATION command error: BAD [b'unknown command']",
		"proxyauth":           "error: error: PROXYAUTH command error: BAD [b'unknown command']",
		"partial":             "error: error: PARTIAL command error: BAD [b'unknown command']",
		"store-readonly":      "NO",
		"copy-trycreate":      "NO",
		"xatom":               "error: error: XFROB command error: BAD [b'unknown command']",
		"starttls":            "error: abort: TLS not supported by server",
	} {
		if s := status(name); s != want {
			t.Errorf("%s: %q, want %q (data %s)", name, s, want, data(name))
		}
	}
	for name, subs := range map[string][]string{
		"capability":   {"IMAP4rev2", "IDLE", "UIDPLUS"},
		"namespace":    {`(("" "/")) NIL NIL`},
		"list":         {`"/" INBOX`, `\Trash`},
		"lsub-sub":     {`"/" Py/Sub`},
		"status":       {"INBOX (MESSAGES 1 UIDNEXT 2 UNSEEN 1)"},
		"getquotaroot": {`INBOX ""`, "STORAGE"},
		"append":       {"[APPENDUID", " 2] APPEND completed"},
		"examine":      {"2"},
		"select":       {"2"},
		"search":       {"1 2"},
		"search-charset": {
			"2",
		},
		"uid-search": {"2"},
		"fetch":      {"1 (UID 1 FLAGS (", `2 (UID 2 FLAGS (\Flagged`, "RFC822.SIZE"},
		"fetch-body": {"Subject: from imaplib"},
		"sort":       {"2 1"},
		"thread":     {"(1)(2)"},
		"store":      {"$Label1", `\Seen`},
		"copy":       {"[COPYUID"},
		"uid-move":   {},
		"copy-trycreate": {
			"[TRYCREATE]",
		},
		"expunge":       {"1"},
		"idle":          {"+ idling", "EXISTS"},
		"create-exists": {"[ALREADYEXISTS]"},
	} {
		for _, s := range subs {
			if d := data(name); !strings.Contains(d, s) {
				t.Errorf("%s: data %s lacks %q", name, d, s)
			}
		}
	}
}
