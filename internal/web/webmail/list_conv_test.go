package webmail

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

var convCount = regexp.MustCompile(`data-id="(\d+)"[\s\S]*?title="(\d+) messages in this conversation"`)

// TestConversationsAcrossPages: a conversation whose messages lie far
// apart (one reply today, the rest among 120 older messages, beyond the
// first page) is listed once, on the first page, at its newest message,
// with all its messages counted and unread when any is; paging on never
// lists it again, and every other message is listed exactly once.
func TestConversationsAcrossPages(t *testing.T) {
	e := newWebEnv(t)
	base := time.Now().Add(-24 * time.Hour)
	put(t, e.st, e.bob, store.Inbox, "Subject: Plan\nMessage-ID: <plan@example.org>\n\nstart\n", base, store.FlagSeen)
	for i := range 120 {
		put(t, e.st, e.bob, store.Inbox, fmt.Sprintf("Subject: other %d\nMessage-ID: <o%d@example.org>\n\nx\n", i, i),
			base.Add(time.Duration(i+1)*time.Minute), store.FlagSeen)
		if i == 3 {
			put(t, e.st, e.bob, store.Inbox, "Subject: Re: Plan\nMessage-ID: <plan-2@example.org>\nIn-Reply-To: <plan@example.org>\n\nearly reply\n",
				base.Add(4*time.Minute+time.Second), store.FlagSeen)
		}
	}
	newest := put(t, e.st, e.bob, store.Inbox, "Subject: Re: Plan\nMessage-ID: <plan-3@example.org>\nIn-Reply-To: <plan-2@example.org>\n"+
		"References: <plan@example.org> <plan-2@example.org>\n\nlatest\n", time.Now(), 0)
	bob := e.signIn(e.bob)
	_, body := bob.get("/")
	first := rowID.FindAllStringSubmatch(body, -1)
	if len(first) != pageSize {
		t.Fatalf("first page lists %d rows, want %d", len(first), pageSize)
	}
	if first[0][1] != fmt.Sprint(newest.ID) {
		t.Errorf("first row is %s, want the conversation's newest message %d", first[0][1], newest.ID)
	}
	if m := convCount.FindStringSubmatch(body); m == nil || m[1] != fmt.Sprint(newest.ID) || m[2] != "3" {
		t.Errorf("conversation count: %v, want 3 on message %d", m, newest.ID)
	}
	if !strings.Contains(body[:strings.Index(body, `data-id="`+fmt.Sprint(newest.ID)+`"`)+200], "is-unread") {
		t.Errorf("the conversation with an unread message is not shown unread")
	}
	seen := map[string]int{}
	for _, m := range first {
		seen[m[1]]++
	}
	for range 10 {
		more := moreURL.FindStringSubmatch(body)
		if more == nil {
			break
		}
		var resp *http.Response
		resp, body = bob.fragment(strings.ReplaceAll(more[1], "&amp;", "&"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("more rows: %s", resp.Status)
		}
		for _, m := range rowID.FindAllStringSubmatch(body, -1) {
			seen[m[1]]++
		}
		if strings.Contains(body, "conversation") {
			t.Errorf("a later page shows a conversation count: the thread is listed twice")
		}
	}
	if len(seen) != 121 {
		t.Errorf("pages list %d rows, want 121 (120 others and the conversation once)", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %s listed %d times", id, n)
		}
	}
}
