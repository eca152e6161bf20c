package webmail

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

func draftsOf(t *testing.T, st store.Store, acct store.Account) []store.Message {
	t.Helper()
	ctx := context.Background()
	mb, err := st.Mailbox(ctx, acct.ID, store.Drafts)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.Messages(ctx, acct.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestSaveDraftKeepsStateAcrossVersions: each save replaces the previous
// version; attachments, threading and the Message-ID carry over; a
// removed attachment goes; the built message reads back into the form.
func TestSaveDraftKeepsStateAcrossVersions(t *testing.T) {
	st, bob, _ := testStore(t)
	a := &app{store: st, now: time.Now, opt: Options{Compose: ComposeOptions{MaxMessageBytes: 10 << 20}}}
	ctx := context.Background()
	orig := put(t, st, bob, store.Inbox, origReport, time.Now(), 0)

	s1, err := a.saveDraft(ctx, bob, draftForm{Source: "replyall:" + itoa(orig.ID), To: "alice@example.org",
		Cc: "carol@example.org", Text: "first words",
		Uploads: []compose.Attachment{{Filename: "one.txt", Data: []byte("1")}, {Filename: "two.txt", Data: []byte("2")}}})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := a.saveDraft(ctx, bob, draftForm{DraftID: s1.ID, To: "alice@example.org, Dave <dave@example.org>",
		Subject: "Re: Report", Text: "second words", Remove: map[int]bool{0: true},
		Uploads: []compose.Attachment{{Filename: "three.txt", Data: []byte("3")}}})
	if err != nil {
		t.Fatal(err)
	}
	ds := draftsOf(t, st, bob)
	if len(ds) != 1 || ds[0].ID != s2.ID {
		t.Fatalf("Drafts %+v, want only version 2", ds)
	}
	_, o, err := a.loadDraft(ctx, bob, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	d := draftFromStored(bob, o.Info, compose.BodyText(o), compose.Files(o.Info, bytes.NewReader(o.Raw)))
	var names []string
	for _, x := range d.Attachments {
		names = append(names, x.Filename)
	}
	if !slices.Equal(names, []string{"two.txt", "three.txt"}) {
		t.Errorf("attachments %q", names)
	}
	if d.InReplyTo != "rep@example.org" || !slices.Equal(d.References, []string{"rep@example.org"}) {
		t.Errorf("threading lost: %q %q", d.InReplyTo, d.References)
	}
	if compose.FormatAddressList(d.To) != "alice@example.org, Dave <dave@example.org>" || len(d.Cc) != 0 ||
		d.Subject != "Re: Report" || strings.TrimSpace(d.Text) != "second words" {
		t.Errorf("fields %+v", d)
	}
	if o.Info.MessageID == "" || !strings.HasSuffix(o.Info.MessageID, "@example.test") {
		t.Errorf("message id %q", o.Info.MessageID)
	}
	m1, _, _ := a.loadOriginal(ctx, bob.ID, s2.ID)
	if m1.Flags&store.FlagDraft == 0 {
		t.Error("draft without \\Draft")
	}
}

// TestSaveDraftRefusals: another account's draft, a message that is not
// a draft, another account's message as a reply source: 404, and
// nothing stored; mistakes in the form and the size limit are errForm.
func TestSaveDraftRefusals(t *testing.T) {
	st, bob, eve := testStore(t)
	a := &app{store: st, now: time.Now, opt: Options{Compose: ComposeOptions{MaxMessageBytes: 2 << 20}}}
	ctx := context.Background()
	eveDraft, err := a.saveDraft(ctx, eve, draftForm{To: "x@example.org", Text: "eve's"})
	if err != nil {
		t.Fatal(err)
	}
	bobInbox := put(t, st, bob, store.Inbox, origReport, time.Now(), 0)
	eveInbox := put(t, st, eve, store.Inbox, origReport, time.Now(), 0)
	for name, f := range map[string]draftForm{
		"another account's draft":          {DraftID: eveDraft.ID},
		"an INBOX message as draft":        {DraftID: bobInbox.ID},
		"another account's message source": {Source: "forward:" + itoa(eveInbox.ID)},
	} {
		if _, err := a.saveDraft(ctx, bob, f); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if n := len(draftsOf(t, st, bob)); n != 0 {
		t.Fatalf("bob has %d drafts after refusals", n)
	}
	var fe *errForm
	if _, err := a.saveDraft(ctx, bob, draftForm{To: "bob@example.org, not an address"}); !errors.As(err, &fe) || !strings.Contains(fe.msg, "not an address") {
		t.Errorf("bad address: %v", err)
	}
	big := compose.Attachment{Filename: "big.bin", Data: make([]byte, 2<<20)}
	if _, err := a.saveDraft(ctx, bob, draftForm{Uploads: []compose.Attachment{big}}); !errors.As(err, &fe) || !strings.Contains(fe.msg, "at most") {
		t.Errorf("over the size limit: %v", err)
	}
}

// TestForwardAsAttachmentDraft: forwarding as an attachment keeps the
// original as a message/rfc822 attachment of the draft, across saves.
func TestForwardAsAttachmentDraft(t *testing.T) {
	st, bob, _ := testStore(t)
	a := &app{store: st, now: time.Now}
	ctx := context.Background()
	orig := put(t, st, bob, store.Inbox, origReport, time.Now(), 0)
	s1, err := a.saveDraft(ctx, bob, draftForm{Source: "forwardatt:" + itoa(orig.ID), To: "x@example.org", Subject: "Fwd: Report"})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := a.saveDraft(ctx, bob, draftForm{DraftID: s1.ID, To: "x@example.org", Subject: "Fwd: Report", Text: "see attached"})
	if err != nil {
		t.Fatal(err)
	}
	_, o, _ := a.loadDraft(ctx, bob, s2.ID)
	atts := compose.Attachments(o)
	if len(atts) != 1 || atts[0].ContentType != "message/rfc822" || !strings.Contains(string(atts[0].Data), "Subject: Report") {
		t.Fatalf("attachments %+v", atts)
	}
}

const origReport = `From: Alice <alice@example.org>
To: bob@example.test, carol@example.org
Subject: Report
Date: Fri, 04 Dec 2026 09:15:00 +0000
Message-ID: <rep@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

See the report.
`

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
