package webmail

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// streamFrom opens a live-update stream with a query (seen=...).
func (c *client) streamFrom(ctx context.Context, query string) (*http.Response, *bufio.Reader) {
	c.e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", c.e.URL+"/events?"+query, nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.e.t.Fatalf("stream: %s", resp.Status)
	}
	return resp, bufio.NewReader(resp.Body)
}

// nextChange returns the data of the stream's next "change" event.
func nextChange(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before a change: %v", err)
		}
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
			return d
		}
	}
}

var folderModSeq = regexp.MustCompile(`data-folder="(\d+)" data-modseq="(\d+)"`)

// seenOf is the seen= a page's folder list gives its stream (mail.js).
func seenOf(t *testing.T, page string) string {
	t.Helper()
	var seen []string
	for _, m := range folderModSeq.FindAllStringSubmatch(page, -1) {
		seen = append(seen, m[1]+"."+m[2])
	}
	if len(seen) == 0 {
		t.Fatalf("the page's folder list carries no modseqs:\n%s", page)
	}
	return "seen=" + strings.Join(seen, ",")
}

// TestLiveStreamSendsChangesBeforeItStarted guards the render-to-stream
// race: a change made after a page was rendered but before its stream
// subscribed (mail.js opens it after the first paint, seconds later on a
// slow phone) reached no notification, so the list and the badges kept
// what the page was rendered with. The page carries each folder's
// modseq; the stream sends every folder changed since, and only those,
// then what changes from then on.
func TestLiveStreamSendsChangesBeforeItStarted(t *testing.T) {
	e := newWebEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := put(t, e.st, e.bob, store.Inbox, "Subject: first\n\nx\n", time.Now(), 0)
	work, err := e.st.CreateMailbox(ctx, e.bob.ID, "Work", "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	bob := e.signIn(e.bob)
	_, page := bob.get("/")
	seen := seenOf(t, page)

	// Between the render and the stream: new mail in INBOX, and a
	// folder made that the page does not list.
	put(t, e.st, e.bob, store.Inbox, "Subject: between\n\nx\n", time.Now(), 0)
	later, err := e.st.CreateMailbox(ctx, e.bob.ID, "Later", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, r := bob.streamFrom(ctx, seen)
	defer resp.Body.Close()
	got := map[string]bool{}
	for range 2 {
		got[nextChange(t, r)] = true
	}
	for _, want := range []string{
		fmt.Sprintf(`{"mailbox":%d,"unread":2,"folderUnread":2}`, in.ID),
		fmt.Sprintf(`{"mailbox":%d,"unread":2,"folderUnread":0}`, later.ID),
	} {
		if !got[want] {
			t.Errorf("the stream did not send %s first; sent %v", want, got)
		}
	}
	// Nothing else was sent as changed: the next event is the next
	// change, in Work (not Sent, Drafts... which did not change).
	put(t, e.st, e.bob, "Work", "Subject: work\n\nx\n", time.Now(), 0)
	if d, want := nextChange(t, r), fmt.Sprintf(`{"mailbox":%d,"unread":2,"folderUnread":1}`, work.ID); d != want {
		t.Errorf("after the catch-up the stream sent %s, want %s (Work's new mail)", d, want)
	}

	// A page read after everything: its stream has nothing to catch
	// up, nor has one whose seen= is broken (it follows from now on).
	_, page = bob.get(fmt.Sprintf("/mail/%d", work.ID))
	resp2, r2 := bob.streamFrom(ctx, seenOf(t, page))
	defer resp2.Body.Close()
	resp3, r3 := bob.streamFrom(ctx, "seen=1.x")
	defer resp3.Body.Close()
	if _, _, err := e.st.StoreFlags(ctx, e.bob.ID, in.ID, []uint32{first.UID}, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"mailbox":%d,"unread":1,"folderUnread":1}`, in.ID)
	for i, r := range []*bufio.Reader{r2, r3} {
		if d := nextChange(t, r); d != want {
			t.Errorf("stream %d sent %s first, want %s (the flag change)", i+2, d, want)
		}
	}
}
