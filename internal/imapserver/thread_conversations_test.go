package imapserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// threadGroups reads a THREAD answer (RFC 5256 section 4) as the UIDs
// of each top-level thread, each sorted, the list sorted by first UID.
func threadGroups(t *testing.T, line string) [][]uint32 {
	t.Helper()
	rest, ok := strings.CutPrefix(line, "* THREAD")
	if !ok {
		t.Fatalf("not a THREAD answer: %q", line)
	}
	var out [][]uint32
	depth := 0
	for _, f := range strings.FieldsFunc(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(rest), func(r rune) bool { return r == ' ' }) {
		switch f {
		case "(":
			if depth == 0 {
				out = append(out, nil)
			}
			depth++
		case ")":
			depth--
		default:
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil || depth == 0 {
				t.Fatalf("THREAD answer %q: %q", line, f)
			}
			out[len(out)-1] = append(out[len(out)-1], uint32(n))
		}
	}
	for _, g := range out {
		slices.Sort(g)
	}
	slices.SortFunc(out, func(a, b []uint32) int { return int(a[0]) - int(b[0]) })
	return out
}

// TestThreadReferencesMatchesWebmailConversations: on random corpora
// (storetest.ThreadCorpus: replies arriving in random order, missing
// parents, In-Reply-To only, subject-only replies, Re:/Fwd: forms,
// changed subjects), IMAP THREAD=REFERENCES over the wire groups the
// INBOX exactly as the webmail's conversations do (the store's
// ConversationOf of each message, and ConversationPage's counts).
func TestThreadReferencesMatchesWebmailConversations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(14, 4))
	c := e.login()
	for round := range 4 {
		name := fmt.Sprintf("Round%d", round)
		c.ok("CREATE " + name)
		mb, err := e.st.Mailbox(ctx, e.account.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range storetest.ThreadCorpus(rng, 80, fmt.Sprintf("w%d", round)) {
			if m.Missing {
				continue
			}
			d := store.NewDelivery(m.Raw(), time.Date(2026, 11, 20, 10, i, 0, 0, time.UTC))
			d.Copies = []store.Copy{{AccountID: e.account.ID, Mailbox: name}}
			if _, err := e.st.Deliver(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		c.ok("SELECT " + name)
		lines := c.ok("UID THREAD REFERENCES UTF-8 ALL")
		var imap [][]uint32
		for _, l := range lines {
			if strings.HasPrefix(l, "* THREAD") {
				imap = threadGroups(t, l)
			}
		}
		msgs, err := e.st.Messages(ctx, e.account.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		var web [][]uint32
		seen := map[uint32]bool{}
		for _, m := range msgs {
			if seen[m.UID] {
				continue
			}
			conv, err := e.st.ConversationOf(ctx, e.account.ID, m.ID, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var g []uint32
			for _, cm := range conv {
				if cm.MailboxID == mb.ID {
					g = append(g, cm.UID)
					seen[cm.UID] = true
				}
			}
			slices.Sort(g)
			web = append(web, g)
		}
		slices.SortFunc(web, func(a, b []uint32) int { return int(a[0]) - int(b[0]) })
		if fmt.Sprint(web) != fmt.Sprint(imap) {
			t.Errorf("%s: IMAP THREAD=REFERENCES\n%v\nwebmail conversations\n%v", name, imap, web)
		}
		pages, err := e.st.ConversationPage(ctx, e.account.ID, mb.ID, store.Cursor{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != len(imap) {
			t.Errorf("%s: %d conversations listed, IMAP has %d threads", name, len(pages), len(imap))
		}
		if len(imap) < 5 || len(imap) >= len(msgs) {
			t.Errorf("%s: %d threads of %d messages: the corpus shows nothing", name, len(imap), len(msgs))
		}
	}
}
