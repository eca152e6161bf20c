package webmail_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// form posts an urlencoded form, as the list and message pages do.
func (cl *client) form(path string, v url.Values) (*http.Response, string) {
	cl.t.Helper()
	return cl.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()), map[string]string{"X-CSRF-Token": cl.csrf})
}

// imapLogin signs in over IMAP (implicit TLS) as a stock client would.
func imapLogin(t *testing.T, srv *testserver.Server, addr, pw string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(addr, pw).Wait(); err != nil {
		t.Fatalf("IMAP login: %v", err)
	}
	return c
}

// imapMessageIDs selects a mailbox and returns its messages' UIDs by
// Message-ID (from the envelope).
func imapMessageIDs(t *testing.T, c *imapclient.Client, mailbox string) map[string]imap.UID {
	t.Helper()
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", mailbox, err)
	}
	out := map[string]imap.UID{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH %s: %v", mailbox, err)
	}
	for _, m := range msgs {
		out[m.Envelope.MessageID] = m.UID
	}
	return out
}

// deliver stores a message in bob's INBOX through the store's one
// delivery path (as capture does) and returns its id.
func deliver(t *testing.T, srv *testserver.Server, addr, raw string) store.Message {
	t.Helper()
	ctx := context.Background()
	capture(t, srv, addr, raw)
	a := srv.Account(t, addr)
	mb, err := srv.Store.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := srv.Store.MessagePage(ctx, a.ID, mb.ID, store.Cursor{}, 1)
	if err != nil || len(ms) == 0 {
		t.Fatalf("the message captured is not in INBOX: %v", err)
	}
	return ms[0]
}

func ids(ms ...store.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, strconv.FormatInt(m.ID, 10))
	}
	return out
}

// TestArchiveCreatesSpecialUseFolder: the first Archive (of two messages
// selected in the list) makes an Archive folder that an IMAP client
// lists with \Archive (RFC 6154) and subscribed, holding those two and
// not the third; a second Archive (from the message page) uses the same
// folder, and the message page of an archived message offers no Archive.
func TestArchiveCreatesSpecialUseFolder(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	var ms []store.Message
	for i := range 4 {
		ms = append(ms, deliver(t, srv, bob, fmt.Sprintf("From: Ann <ann@example.org>\nTo: %s\nSubject: Note %d\nMessage-ID: <note-%d@example.org>\n\nText %d.\n", bob, i, i, i)))
	}
	cl := signIn(t, srv, bob, bobPw)
	resp, _ := cl.form("/actions", url.Values{"id": ids(ms[0], ms[1]), "action": {"archive"}, "back": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("archive: %s", resp.Status)
	}
	c := imapLogin(t, srv, bob, bobPw)
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true, ReturnSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var found *imap.ListData
	for _, l := range list {
		if l.Mailbox == "Archive" {
			found = l
		}
	}
	if found == nil {
		t.Fatalf("no Archive folder over IMAP: %+v", list)
	}
	if !slices.Contains(found.Attrs, imap.MailboxAttrArchive) || !slices.Contains(found.Attrs, imap.MailboxAttrSubscribed) {
		t.Errorf("Archive is listed with %v, want \\Archive and \\Subscribed", found.Attrs)
	}
	got := imapMessageIDs(t, c, "Archive")
	if len(got) != 2 || got["note-0@example.org"] == 0 || got["note-1@example.org"] == 0 {
		t.Errorf("Archive holds %v over IMAP, want note-0 and note-1", got)
	}
	if in := imapMessageIDs(t, c, "INBOX"); len(in) != 2 || in["note-0@example.org"] != 0 {
		t.Errorf("INBOX holds %v over IMAP, want note-2 and note-3", in)
	}

	// From the message page: the same folder, no second one.
	_, page := cl.get("/msg/" + strconv.FormatInt(ms[2].ID, 10))
	if !strings.Contains(page, `value="archive"`) || !strings.Contains(page, `data-shortcut="e"`) {
		t.Errorf("the message page has no Archive button for e")
	}
	resp, _ = cl.form("/actions", url.Values{"id": ids(ms[2]), "action": {"archive"}, "from": {"message"}, "folder": {"/"}, "back": {"/msg/" + strconv.FormatInt(ms[2].ID, 10)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("archive from the message page: %s to %s", resp.Status, resp.Header.Get("Location"))
	}
	a := srv.Account(t, bob)
	mbs, err := srv.Store.Mailboxes(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var archives []store.Mailbox
	for _, mb := range mbs {
		if mb.SpecialUse == `\Archive` || strings.EqualFold(mb.Name, "archive") {
			archives = append(archives, mb)
		}
	}
	if len(archives) != 1 || archives[0].Messages != 3 {
		t.Fatalf("archive folders after two archives: %+v", archives)
	}
	arch := srv.Messages(t, bob, "Archive")
	_, page = cl.get("/msg/" + strconv.FormatInt(arch[0].ID, 10))
	if strings.Contains(page, `value="archive"`) {
		t.Errorf("a message in Archive offers Archive again")
	}
	_, page = cl.get("/mail/" + strconv.FormatInt(archives[0].ID, 10))
	if strings.Contains(page, `value="archive"`) {
		t.Errorf("the Archive folder's list offers Archive")
	}
}

// TestArchiveUsesFolderMadeOverIMAP: a folder named Archive that an IMAP
// client made (without the attribute) is where the webmail archives; no
// second folder is made.
func TestArchiveUsesFolderMadeOverIMAP(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	m := deliver(t, srv, bob, "From: Ann <ann@example.org>\nTo: "+bob+"\nSubject: Keep\nMessage-ID: <keep@example.org>\n\nText.\n")
	c := imapLogin(t, srv, bob, bobPw)
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	cl := signIn(t, srv, bob, bobPw)
	if resp, _ := cl.form("/actions", url.Values{"id": ids(m), "action": {"archive"}, "back": {"/"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("archive: %s", resp.Status)
	}
	if got := imapMessageIDs(t, c, "Archive"); got["keep@example.org"] == 0 {
		t.Errorf("the IMAP-made Archive holds %v", got)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range list {
		if strings.Contains(strings.ToLower(l.Mailbox), "archive") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d archive folders over IMAP, want 1: %+v", n, list)
	}
}

// TestArchiveAtFolderLimit: an account that holds as many folders as
// imap.max_mailboxes allows gets a page saying why its first Archive
// cannot make the folder and what to do, not a server error; the
// messages stay where they were.
func TestArchiveAtFolderLimit(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{
		Users:     map[string]string{bob: bobPw},
		Configure: func(c *config.Config) { c.IMAP.MaxMailboxes = 6 },
	})
	m := deliver(t, srv, bob, "From: Ann <ann@example.org>\nTo: "+bob+"\nSubject: Full\nMessage-ID: <full@example.org>\n\nText.\n")
	c := imapLogin(t, srv, bob, bobPw)
	for i := 0; ; i++ {
		err := c.Create(fmt.Sprintf("Projects %d", i), nil).Wait()
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), "LIMIT") {
			t.Fatalf("CREATE: %v, want NO [LIMIT] past the bound", err)
		}
		break
	}
	cl := signIn(t, srv, bob, bobPw)
	resp, page := cl.form("/actions", url.Values{"id": ids(m), "action": {"archive"}, "back": {"/"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "as many folders as it may have") {
		t.Fatalf("archive at the folder limit: %s, want 409 with a page that says why", resp.Status)
	}
	if in := imapMessageIDs(t, c, "INBOX"); in["full@example.org"] == 0 {
		t.Errorf("the message left INBOX: %v", in)
	}
}
