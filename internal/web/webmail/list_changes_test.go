package webmail

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// changes asks a folder's changes since modseq as mail.js does, and
// returns the fragment.
func (c *client) changes(t *testing.T, mailbox int64, since string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.e.URL+"/mail/"+strconv.FormatInt(mailbox, 10)+"/changes?since="+since, nil)
	req.Header.Set("HX-Request", "true")
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("changes: %s\n%s", resp.Status, b)
	}
	return string(b)
}

var modseqAttr = regexp.MustCompile(`data-modseq="(\d+)"`)

// TestFolderChangesSinceModSeq: a folder's live update carries what
// changed since the modseq the page saw, and only that: the new message,
// the row whose flags changed; a message marked \Deleted as gone (by id
// flat, by conversation key otherwise); a message expunged as gone by
// UID in the flat list, and as "read the rows again" by conversation;
// more than maxChanges changes as "read the rows again"; nothing since
// the last modseq as nothing. Another account's folder is a 404.
func TestFolderChangesSinceModSeq(t *testing.T) {
	for _, flat := range []bool{false, true} {
		t.Run(fmt.Sprintf("flat=%v", flat), func(t *testing.T) {
			e := newWebEnv(t)
			ctx := context.Background()
			base := time.Now().Add(-time.Hour)
			var ms []store.Message
			for i := range 10 {
				ms = append(ms, put(t, e.st, e.bob, store.Inbox, fmt.Sprintf("From: a@example.org\nSubject: number %02d\nMessage-ID: <n%d@example.org>\n\nbody\n", i, i),
					base.Add(time.Duration(i)*time.Second), 0))
			}
			c := e.signIn(e.bob)
			if flat {
				c.post("/prefs/conversations", url.Values{"conv": {"off"}})
			}
			_, page := c.get("/")
			m := modseqAttr.FindStringSubmatch(page)
			if m == nil {
				t.Fatal("the inbox page carries no modseq")
			}
			in := ms[0].MailboxID
			if got := c.changes(t, in, m[1]); strings.Contains(got, "mail-row") || strings.Contains(got, "data-gone") || strings.Contains(got, "data-reload") {
				t.Errorf("nothing changed, yet: %s", got)
			}
			put(t, e.st, e.bob, store.Inbox, "From: a@example.org\nSubject: brand new\n\nbody\n", time.Now(), 0)
			if _, _, err := e.st.StoreFlags(ctx, e.bob.ID, in, []uint32{ms[3].UID}, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
				t.Fatal(err)
			}
			got := c.changes(t, in, m[1])
			if n := strings.Count(got, `class="list-row mail-row`); n != 2 || !strings.Contains(got, "brand new") || !strings.Contains(got, "number 03") {
				t.Errorf("changes: %d rows, want the new one and number 03:\n%s", n, got)
			}
			if !flat && !strings.Contains(got, `data-conv="`) {
				t.Errorf("rows by conversation carry no conversation key:\n%s", got)
			}
			next := modseqAttr.FindStringSubmatch(got)[1]
			if _, _, err := e.st.StoreFlags(ctx, e.bob.ID, in, []uint32{ms[5].UID}, store.FlagsAdd, store.FlagDeleted, nil, 0); err != nil {
				t.Fatal(err)
			}
			got = c.changes(t, in, next)
			switch {
			case strings.Contains(got, "mail-row"):
				t.Errorf("a message marked \\Deleted is listed:\n%s", got)
			case flat && !strings.Contains(got, fmt.Sprintf(`data-gone-id="%d"`, ms[5].ID)):
				t.Errorf("a message marked \\Deleted is not gone by id:\n%s", got)
			case !flat && !strings.Contains(got, `data-gone-conv="`):
				t.Errorf("a message marked \\Deleted is not gone by conversation:\n%s", got)
			}
			next = modseqAttr.FindStringSubmatch(got)[1]
			if err := e.st.ExpungeUIDs(ctx, e.bob.ID, in, []uint32{ms[6].UID}); err != nil {
				t.Fatal(err)
			}
			got = c.changes(t, in, next)
			switch {
			case flat && !strings.Contains(got, fmt.Sprintf(`data-gone-uid="%d"`, ms[6].UID)):
				t.Errorf("an expunged message is not gone by UID:\n%s", got)
			case !flat && !strings.Contains(got, "data-reload"):
				t.Errorf("an expunge in a list by conversation does not ask for the rows:\n%s", got)
			}
			next = modseqAttr.FindStringSubmatch(got)[1]
			for i := range maxChanges + 1 {
				put(t, e.st, e.bob, store.Inbox, fmt.Sprintf("From: a@example.org\nSubject: bulk %d\n\nbody\n", i), base, 0)
			}
			if got := c.changes(t, in, next); !strings.Contains(got, "data-reload") || strings.Contains(got, "mail-row") {
				t.Errorf("%d changes: not a reload:\n%.300s", maxChanges+1, got)
			}
			ec := e.signIn(e.eve)
			req, _ := http.NewRequest("GET", e.URL+"/mail/"+strconv.FormatInt(in, 10)+"/changes?since=0", nil)
			resp, err := ec.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("another account's folder: %s, want 404", resp.Status)
			}
		})
	}
}
