package webmail

import (
	"context"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// TestSearchIgnoresAccents: the search box finds "résumé" for "resume"
// and "Müller" for "muller", in the subject, the sender and the body
// (also encoded, and HTML), and the reverse, as Gmail and Outlook do;
// IMAP SEARCH, on the same store, still matches as RFC 9051 says.
func TestSearchIgnoresAccents(t *testing.T) {
	st, bob, eve := testStore(t)
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	put(t, st, bob, store.Inbox, "From: Hans Müller <hans@example.de>\nSubject: Termin\n\nBis morgen.\n", day(2), 0)
	put(t, st, bob, store.Inbox, "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\nSubject: =?UTF-8?Q?R=C3=A9sum=C3=A9?=\n\nsee attached\n", day(3), 0)
	put(t, st, bob, store.Inbox, "From: carol@example.net\nSubject: Application\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nMy r=C3=A9sum=C3=A9 is attached; I worked at Caf=C3=A9 Noir.\n", day(4), 0)
	put(t, st, bob, store.Inbox, "From: dave@example.org\nSubject: html one\nContent-Type: text/html; charset=iso-8859-1\n\n<p>Le r&eacute;sum&eacute; de Fran\xe7ois</p>\n", day(5), 0)
	put(t, st, bob, store.Inbox, "From: erin@example.org\nSubject: plain resume\n\nmy resume, no accents\n", day(6), 0)
	put(t, st, bob, store.Inbox, "From: frank@example.org\nSubject: Straße\n\nDie Hauptstraße.\n", day(7), 0)
	put(t, st, eve, store.Inbox, "From: Hans Müller <hans@example.de>\nSubject: Résumé for eve\n\nrésumé\n", day(8), 0)
	a := &app{store: st}
	checkSearches(t, a, bob.ID, []searchCase{
		{"resume", []string{"plain resume", "html one", "Application", "Résumé"}},
		{"résumé", []string{"plain resume", "html one", "Application", "Résumé"}},
		{"RESUME", []string{"plain resume", "html one", "Application", "Résumé"}},
		{"muller", []string{"Résumé", "Termin"}},
		{"from:muller", []string{"Résumé", "Termin"}},
		{"from:Muller", []string{"Résumé", "Termin"}},
		{"from:jurgen", []string{"Résumé"}},
		{"subject:resume", []string{"plain resume", "Résumé"}},
		{"body:resume", []string{"plain resume", "html one", "Application"}},
		{`"cafe noir"`, []string{"Application"}},
		{"francois", []string{"html one"}},
		{"strasse", []string{"Straße"}},
		{"hauptstrasse", []string{"Straße"}},
		{"resume from:dave", []string{"html one"}},
		{"résumés", nil},
	})

	// IMAP SEARCH keeps its own semantics (RFC 9051 6.4.4: substrings,
	// case-insensitive, accents as written): the store's candidates for
	// it, a superset of its matches, do not grow.
	inbox, err := st.Mailbox(ctx, bob.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want int
	}{{"resume", 1}, {"muller", 0}, {"strasse", 0}} {
		keys := []imapwire.SearchKey{{Op: imapwire.SearchText, Text: c.text}}
		uids, err := st.SearchCandidates(ctx, bob.ID, inbox.ID, imapmsg.IndexTerms(keys))
		if err != nil {
			t.Fatal(err)
		}
		if len(uids) != c.want {
			t.Errorf("IMAP SEARCH TEXT %q: %d candidates, want %d", c.text, len(uids), c.want)
		}
	}
}
