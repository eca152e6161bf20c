package imapserver_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/store"
)

// threadMsg is a message for the SORT and THREAD tests.
func threadMsg(from, to, subject, date, id, refs string, bodyLen int) string {
	h := "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: " + date + "\r\nMessage-ID: <" + id + ">\r\n"
	if refs != "" {
		h += "References: " + refs + "\r\nIn-Reply-To: " + refs[strings.LastIndexByte(refs, '<'):] + "\r\n"
	}
	return h + "\r\n" + strings.Repeat("x", bodyLen) + "\r\n"
}

// deliverThreads stores six messages in INBOX: UIDs 1..6.
//
//	1 "Lunch"        from carol  2026-11-20 10:00  (thread a)
//	2 "Report"       from Alice  2026-11-19 09:00
//	3 "Re: Lunch"    from bob    2026-11-20 11:00  refs 1
//	4 "Re: Re: Lunch" from dave  2026-11-20 12:00  refs 1 3
//	5 "Re: Lunch"    from erin   2026-11-20 10:30  refs 1
//	6 "Fwd: Report"  from frank  2026-11-21 09:00  no refs
func deliverThreads(e *env) {
	for _, m := range []string{
		threadMsg("Carol <carol@example.net>", "z@example.org", "Lunch", "Fri, 20 Nov 2026 10:00:00 +0000", "a@x", "", 5000),
		threadMsg("=?UTF-8?Q?Zo=C3=A9?= <alice@example.net>", "y@example.org", "Report", "Thu, 19 Nov 2026 09:00:00 +0000", "b@x", "", 1000),
		threadMsg("bob@example.net", "x@example.org", "Re: Lunch", "Fri, 20 Nov 2026 11:00:00 +0000", "c@x", "<a@x>", 4000),
		threadMsg("dave@example.net", "w@example.org", "Re: Re: Lunch", "Fri, 20 Nov 2026 12:00:00 +0000", "d@x", "<a@x> <c@x>", 3000),
		threadMsg("erin@example.net", "v@example.org", "Re: Lunch", "Fri, 20 Nov 2026 10:30:00 +0000", "e@x", "<a@x>", 2000),
		threadMsg("frank@example.net", "u@example.org", "Fwd: Report", "Sat, 21 Nov 2026 09:00:00 +0000", "f@x", "", 6000),
	} {
		e.deliver("INBOX", m, store.Flags(0))
	}
}

// TestSortAndThreadTranscripts guards SORT, ESORT and THREAD (RFC 5256,
// RFC 5267) answers, over a raw TLS session.
func TestSortAndThreadTranscripts(t *testing.T) {
	e := newEnv(t)
	deliverThreads(e)
	c := e.login()
	lines := c.ok("CAPABILITY")
	has(t, lines, " SORT ", " SORT=DISPLAY", " ESORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT")
	c.ok("SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (DATE) UTF-8 ALL", "* SORT 2 1 5 3 4 6"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 6 4 3 5 1 2"},
		{"SORT (SIZE) US-ASCII ALL", "* SORT 2 5 4 3 1 6"},
		{"SORT (SUBJECT DATE) UTF-8 ALL", "* SORT 1 5 3 4 2 6"},
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 3 1 4 5 6"},
		{"SORT (TO) UTF-8 ALL", "* SORT 6 5 4 3 2 1"},
		// DISPLAYFROM sorts by decoded display name: "Zoé" last.
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 3 1 4 5 6 2"},
		{"SORT (ARRIVAL) UTF-8 SUBJECT lunch", "* SORT 1 3 4 5"},
		{"UID SORT (DATE) UTF-8 UID 2:4", "* SORT 2 3 4"},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (2 6)(1 (5)(3)(4))"},
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (2 6)(1 (5)(3 4))"},
		{"UID THREAD REFERENCES UTF-8 NOT SUBJECT report", "* THREAD (1 (5)(3 4))"},
		{"THREAD REFERENCES UTF-8 SUBJECT nothing-matches", "* THREAD"},
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", `ESEARCH (TAG "` + "a" + `") MIN 2 MAX 6 COUNT 6`},
		{"UID SORT RETURN (ALL) (REVERSE DATE) UTF-8 ALL", "UID ALL 6,4,3,5,1:2"},
		{"SORT RETURN () (SIZE) UTF-8 ALL", "ALL 2,5,4,3,1,6"},
	} {
		lines, st := c.cmd(tc.cmd)
		if !strings.HasPrefix(st, "OK") {
			t.Errorf("%s: %s", tc.cmd, st)
			continue
		}
		want := strings.Replace(tc.want, `TAG "a"`, `TAG "`+c.tag+`"`, 1)
		if !slices.ContainsFunc(lines, func(l string) bool { return l == want || strings.HasSuffix(l, want) }) {
			t.Errorf("%s: got %q, want %q", tc.cmd, lines, want)
		}
	}
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (DATE) KOI8-R ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"THREAD JWZ UTF-8 ALL", "BAD"},
		{"SORT (COLOUR) UTF-8 ALL", "BAD"},
		{"SORT () UTF-8 ALL", "BAD"},
	} {
		c.want(tc.cmd, tc.want)
	}
	// Expunges of other sessions wait during SORT by sequence number
	// (RFC 5256 section 3 refers to SEARCH's rules, RFC 9051 7.5.1).
	o := e.login()
	o.ok("SELECT INBOX")
	o.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
	o.ok("EXPUNGE")
	// The expunged message is no longer found, but it keeps its number.
	lines, _ = c.cmd("SORT (DATE) UTF-8 ALL")
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, "* SORT 1 5 3 4 6")
	// UID SORT reports the expunge once the change feed has told this
	// session about it (it arrives asynchronously: wait for it).
	deadline := time.Now().Add(20 * time.Second)
	for {
		lines = c.ok("UID SORT (DATE) UTF-8 ALL")
		has(t, lines, "* SORT 1 5 3 4 6")
		if slices.Contains(lines, "* 2 EXPUNGE") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	has(t, lines, "* 2 EXPUNGE")
}

// TestSortThreadGoIMAPClient drives SORT and THREAD with go-imap v2's
// imapclient.
func TestSortThreadGoIMAPClient(t *testing.T) {
	e := newEnv(t)
	deliverThreads(e)
	c, err := imapclient.DialTLS(e.addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: e.roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := c.UIDSort(&imapclient.SortOptions{
		SearchCriteria: &imap.SearchCriteria{},
		SortCriteria:   []imapclient.SortCriterion{{Key: imapclient.SortKeySubject}, {Key: imapclient.SortKeyDate, Reverse: true}},
	}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{4, 3, 5, 1, 6, 2}; !slices.Equal(got, want) {
		t.Errorf("UID SORT (SUBJECT REVERSE DATE): %v, want %v", got, want)
	}
	threads, err := c.Thread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(threads), "[{[2 6] []} {[1] [{[5] []} {[3 4] []}]}]"; got != want {
		t.Errorf("THREAD REFERENCES: %s, want %s", got, want)
	}
	threads, err = c.UIDThread(&imapclient.ThreadOptions{Algorithm: imap.ThreadOrderedSubject,
		SearchCriteria: &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "lunch"}}}}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(threads), "[{[1] [{[5] []} {[3] []} {[4] []}]}]"; got != want {
		t.Errorf("UID THREAD ORDEREDSUBJECT: %s, want %s", got, want)
	}
}

const pythonSortThread = `
import imaplib, ssl, sys
port, cafile, user, password = sys.argv[1:]
m = imaplib.IMAP4_SSL('localhost', int(port), ssl_context=ssl.create_default_context(cafile=cafile))
m.login(user, password)
m.select('INBOX')
typ, data = m.sort('(REVERSE SIZE)', 'UTF-8', 'ALL')
assert typ == 'OK', (typ, data)
print('sort', data[0].decode())
typ, data = m.thread('REFERENCES', 'UTF-8', 'ALL')
assert typ == 'OK', (typ, data)
print('thread', data[0].decode())
typ, data = m.uid('SORT', '(FROM)', 'UTF-8', 'SUBJECT', 'lunch')
print('uidsort', data[0].decode())
m.logout()
`

// TestSortThreadPythonImaplib drives SORT and THREAD with Python's
// imaplib.
func TestSortThreadPythonImaplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not installed: run scripts/test, which installs it")
	}
	e := newEnv(t)
	deliverThreads(e)
	script := filepath.Join(t.TempDir(), "s.py")
	os.WriteFile(script, []byte(pythonSortThread), 0o600)
	_, port, _ := strings.Cut(e.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, script, port, e.writeCert(), testUser, testPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := "sort 6 1 3 4 5 2\nthread (2 6)(1 (5)(3 4))\nuidsort 3 1 4 5\n"
	if string(out) != want {
		t.Errorf("imaplib:\n%s\nwant:\n%s", out, want)
	}
}

// TestFirstSortAfterExpungeElsewhere guards the first SORT or THREAD of
// ALL on a mailbox (nothing of it in the sort cache), which takes the
// session's view without reading the mailbox's flags: a message another
// session expunged, not yet announced, keeps its number but is not found,
// as with a SORT after the cache is warm.
func TestFirstSortAfterExpungeElsewhere(t *testing.T) {
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (DATE) UTF-8 ALL", "* SORT 1 5 3 4 6"},
		{"UID SORT (SIZE) UTF-8 ALL", "* SORT 5 4 3 1 6"},
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (1 (5)(3 4))(6)"},
	} {
		e := newEnv(t)
		deliverThreads(e)
		c := e.login()
		c.ok("SELECT INBOX")
		o := e.login()
		o.ok("SELECT INBOX")
		o.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
		o.ok("EXPUNGE")
		lines, st := c.cmd(tc.cmd)
		if !strings.HasPrefix(st, "OK") || !slices.Contains(lines, tc.want) {
			t.Errorf("%s: %q %s, want %q", tc.cmd, lines, st, tc.want)
		}
	}
}
