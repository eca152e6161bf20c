package imapserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// utf8Message has 8-bit header fields (RFC 6532): stored as received and
// served as stored.
const utf8Message = "From: J\u00f6rg <j@example.net>\r\nTo: alice@example.org\r\nSubject: Gr\u00fc\u00dfe aus K\u00f6ln\r\n" +
	"Message-ID: <utf8@example.net>\r\n\r\nHallo\r\n"

// TestUTF8AcceptSearchCharsetAndHeaders guards RFC 6855 after ENABLE
// UTF8=ACCEPT: SEARCH with CHARSET is refused with BAD (section 3; it
// works before), a search string in UTF-8 needs no CHARSET, 8-bit header
// fields come back byte for byte (BODY[HEADER]) and in ENVELOPE as quoted
// UTF-8 (before ENABLE as literals, which IMAP4rev1 allows), and mailbox
// names in UTF-8 work bare and quoted in CREATE, LIST and SELECT.
func TestUTF8AcceptSearchCharsetAndHeaders(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", utf8Message, 0)
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok("FETCH 1 (ENVELOPE)")
	has(t, lines, "ENVELOPE (NIL {17}\r\nGrüße aus Köln ")
	has(t, c.ok(`SEARCH CHARSET UTF-8 SUBJECT "Grüße"`), "* SEARCH 1")
	c.want(`SEARCH CHARSET ""  ALL`, "BAD") // two spaces: a syntax error
	c.want(`SEARCH CHARSET "" ALL`, "NO [BADCHARSET")
	c.ok("UNSELECT")

	has(t, c.ok("ENABLE UTF8=ACCEPT"), "* ENABLED UTF8=ACCEPT")
	c.ok("SELECT INBOX")
	c.want(`SEARCH CHARSET UTF-8 SUBJECT "Grüße"`, "BAD")
	if !strings.Contains(c.last, "ENABLE UTF8=ACCEPT") {
		t.Errorf("SEARCH CHARSET after ENABLE: %q", c.last)
	}
	c.want(`UID SEARCH CHARSET US-ASCII ALL`, "BAD")
	has(t, c.ok(`SEARCH SUBJECT "Grüße"`), "* SEARCH 1")
	has(t, c.ok(`SEARCH SUBJECT Grüße`), "* SEARCH 1")
	has(t, c.ok(`UID SEARCH RETURN (COUNT) FROM Jörg`), "COUNT 1")
	has(t, c.ok("FETCH 1 (ENVELOPE)"), `ENVELOPE (NIL "Grüße aus Köln" (("Jörg" NIL "j" "example.net"))`)
	hdr := strings.SplitAfter(utf8Message, "\r\n\r\n")[0]
	has(t, c.ok("FETCH 1 (BODY.PEEK[HEADER])"), fmt.Sprintf("BODY[HEADER] {%d}\r\n%s", len(hdr), hdr))

	c.ok(`CREATE Büro/Entwürfe`)
	c.ok(`CREATE "Größe"`)
	has(t, c.ok(`LIST "" Bü*`), `"/" "Büro"`, `"/" "Büro/Entwürfe"`)
	has(t, c.ok(`LIST "" "Grö*"`), `"/" "Größe"`)
	c.ok(`SELECT Büro/Entwürfe`)
	c.ok(`SELECT "Größe"`)
	// A quoted name that is not UTF-8 is no string in UTF-8 mode: BAD.
	c.want("CREATE \"Gr\xf6\xdfe\"", "BAD")
	for _, name := range []string{"Büro", "Büro/Entwürfe", "Größe"} {
		if _, err := e.st.Mailbox(context.Background(), e.account.ID, name); err != nil {
			t.Errorf("mailbox %q: %v", name, err)
		}
	}
	// Another session without ENABLE sees the same names in modified
	// UTF-7 (RFC 3501 section 5.1.3).
	d := e.login()
	has(t, d.ok(`LIST "" B*`), `"/" B&APw-ro`, `"/" B&APw-ro/Entw&APw-rfe`)
	d.ok("SELECT B&APw-ro/Entw&APw-rfe")
	d.want("SELECT Büro", "BAD")
}

// imaplibUTF8 signs in with Python's imaplib, enables UTF8=ACCEPT
// (imaplib then sends its arguments in UTF-8, unquoted) and uses mailbox
// names in UTF-8. It prints a JSON object of each call's status and data.
const imaplibUTF8 = `
call('login', m.login, user, password)
call('enable', m.enable, 'UTF8=ACCEPT')
call('create', m.create, 'Büro')
call('create-child', m.create, 'Büro/Entwürfe')
call('list', m.list, '""', 'Bü*')
call('select', m.select, 'Büro/Entwürfe')
call('status', m.status, 'Büro', '(MESSAGES)')
call('select-inbox', m.select, 'INBOX')
call('search', m.search, None, 'SUBJECT', '"Grüße"')
call('search-charset', m.search, 'UTF-8', 'SUBJECT', '"Grüße"')
call('search-charset-sent', m._simple_command, 'SEARCH', 'CHARSET', 'UTF-8', 'SUBJECT', '"Grüße"')
call('fetch', m.fetch, '1', '(ENVELOPE)')
call('copy', m.copy, '1', 'Büro')
call('status-after', m.status, 'Büro', '(MESSAGES)')
call('rename', m.rename, 'Büro/Entwürfe', 'Büro/Vorlagen')
call('delete', m.delete, 'Büro/Vorlagen')
call('logout', m.logout)
print(json.dumps(out))
`

// TestImaplibUTF8Accept: Python's imaplib after enable("UTF8=ACCEPT")
// creates, lists, selects, renames and deletes mailboxes named in UTF-8,
// searches in UTF-8 without a charset, and is refused a CHARSET (RFC 6855
// section 3).
func TestImaplibUTF8Accept(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", utf8Message, 0)
	out := e.runImaplib("utf8.py", imaplibUTF8, 2*time.Minute)
	var got map[string][2]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("imaplib output: %v\n%s", err, out)
	}
	for name, want := range map[string]string{
		"login": "OK", "enable": "OK", "create": "OK", "create-child": "OK", "list": "OK",
		"select": "OK", "status": "OK", "select-inbox": "OK", "search": "OK", "fetch": "OK",
		"copy": "OK", "status-after": "OK", "rename": "OK", "delete": "OK", "logout": "BYE",
		// imaplib refuses it itself; sent anyway, the server says BAD.
		"search-charset":      "error: error: Non-None charset not valid in UTF8 mode",
		"search-charset-sent": "error: error: SEARCH command error: BAD [b'SEARCH with CHARSET is not allowed after ENABLE UTF8=ACCEPT']",
	} {
		if r, ok := got[name]; !ok || r[0] != want {
			t.Errorf("%s: got %v, want %q", name, r, want)
		}
	}
	data := func(name string) string { return fmt.Sprint(got[name][1]) }
	for name, want := range map[string]string{
		"list":         `(\HasChildren) "/" "Büro"`,
		"status":       `"Büro" (MESSAGES 0)`,
		"status-after": `"Büro" (MESSAGES 1)`,
		"search":       "[1]",
		"fetch":        `"Grüße aus Köln"`,
	} {
		if !strings.Contains(data(name), want) {
			t.Errorf("%s: %s, want %s in it", name, data(name), want)
		}
	}
	for name, want := range map[string]bool{"Büro": true, "Büro/Vorlagen": false, "Büro/Entwürfe": false} {
		if _, err := e.st.Mailbox(context.Background(), e.account.ID, name); (err == nil) != want {
			t.Errorf("mailbox %q exists: %v, want %v", name, err == nil, want)
		}
	}
}
