package webmail_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// convRows reads the list's rows: each row's sender and its
// conversation count badge ("" without one).
const convRows = `[...document.querySelectorAll('#rows .mail-row')].map(r =>
	r.querySelector('.mail-from').textContent + ':' + ((r.querySelector('.badge') || {}).textContent || ''))`

// TestBrowserConversationSwitch: with conversations on (the default),
// a thread shows once with its count, also a reply whose parent is
// missing (joined by subject, as IMAP THREAD joins it) and a reply that
// arrived before its parent; the message page lists the conversation.
// "Conversations: on" switches them off: every message is its own row
// and the message page has no conversation; switching on again brings
// them back. Screenshots of both lists and the message page at 390 and
// 1280 px, light and dark.
func TestBrowserConversationSwitch(t *testing.T) {
	// The reply to the missing "q2" and the reply to "q1" arrive first.
	srv, _, tab := inboxWith(t,
		"From: Dave <dave@example.org>\nTo: bob@example.test\nSubject: Re: Quarterly plan\nMessage-ID: <q3@example.org>\n"+
			"In-Reply-To: <q2@example.org>\nDate: Tue, 01 Dec 2026 12:00:00 +0000\n\nSounds good to me.\n",
		"From: Carol <carol@example.org>\nTo: bob@example.test\nSubject: Re: Quarterly plan\nMessage-ID: <q4@example.org>\n"+
			"In-Reply-To: <q1@example.org>\nReferences: <q1@example.org>\nDate: Tue, 01 Dec 2026 13:00:00 +0000\n\nCan we move it to Friday?\n",
		"From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: Quarterly plan\nMessage-ID: <q1@example.org>\n"+
			"Date: Tue, 01 Dec 2026 10:00:00 +0000\n\nHere is the plan for the quarter.\n",
		"From: Erin <erin@example.org>\nTo: bob@example.test\nSubject: Lunch?\nMessage-ID: <l1@example.org>\n"+
			"Date: Tue, 01 Dec 2026 11:00:00 +0000\n\nNoon at the usual place?\n")
	rows := func(want int) []string {
		t.Helper()
		tab.Navigate(srv.Web + "/")
		tab.WaitFor(fmt.Sprintf(`document.querySelectorAll('#rows .mail-row').length === %d`, want))
		return webtest.Run(tab, chromedp.Evaluate[[]string](convRows))
	}
	shots := func(name string) {
		t.Helper()
		tab.EachLook(func(width int, dark bool) {
			tab.Screenshot(name)
			sideways := webtest.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
			if sideways {
				t.Errorf("%s at %d px (dark %v): the page scrolls sideways", name, width, dark)
			}
		})
	}
	toggle := func(label string) {
		t.Helper()
		tab.Navigate(srv.Web + "/")
		if got := tab.Text(`form[action="/prefs/conversations"] button`); got != label {
			t.Fatalf("the switch says %q, want %q", got, label)
		}
		tab.Do(chromedp.Click(chromedp.CSS(`form[action="/prefs/conversations"] button`)))
		tab.WaitFor(fmt.Sprintf(`(document.querySelector('form[action="/prefs/conversations"] button') || {}).textContent !== %q`, label))
	}
	convOn := func() {
		t.Helper()
		got := rows(2)
		// Newest first by arrival: the plan's conversation is at its
		// newest arrival, the root.
		if fmt.Sprint(got) != "[Erin: Alice:3]" {
			t.Errorf("conversation rows %q, want Erin's alone and Alice's with 3 messages", got)
		}
	}
	convOn()
	shots("list-conversations")
	// The message page of the plan lists the three, in their order of
	// arrival.
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row:nth-of-type(2) a`)))
	tab.WaitFor(`document.querySelector('.msg-conversation') !== null`)
	conv := webtest.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.msg-conversation .list-title')].map(e => e.textContent)`))
	if fmt.Sprint(conv) != "[Dave Carol Alice]" {
		t.Errorf("the message page's conversation %q, want Dave, Carol, Alice", conv)
	}
	shots("message-conversation")

	toggle("Conversations: on")
	got := rows(4)
	if fmt.Sprint(got) != "[Erin: Alice: Carol: Dave:]" {
		t.Errorf("rows without conversations %q, want all four newest first, without counts", got)
	}
	shots("list-flat")
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row:nth-of-type(2) a`)))
	tab.WaitFor(`document.querySelector('.msg-body') !== null`)
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.msg-conversation').length`)); n != 0 {
		t.Errorf("the message page shows a conversation with conversations off")
	}

	toggle("Conversations: off")
	convOn()
}
