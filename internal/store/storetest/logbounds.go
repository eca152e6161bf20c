package storetest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testLogBounded: whatever a client put in a record (a refused sign-in's
// 96 KB user name, a refused sender of thousands of characters), each
// text field comes back from the log at most its bound long, as valid
// UTF-8, cut at a rune and marked "…" when it was longer, whole when it
// was not; a search by the whole long address or Message-ID finds the
// record that kept its cut form. The texts are random runes of one to
// four bytes, some whose lower case is longer, at lengths around the
// bounds and far over them (the seed is logged).
func testLogBounded(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	// 'İ' lowers to "i̇", a byte longer; 'K' (Kelvin) to 'k', two
	// shorter.
	runes := []rune{'a', 'Z', '.', 'é', 'Ä', 'İ', '€', 'K', '中', '𝄞', '😀'}
	text := func(bound int) string {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = rng.IntN(bound + 1) // fits, or nearly
		case 1:
			n = bound - 4 + rng.IntN(9) // at the edge
		case 2:
			n = bound + rng.IntN(2*bound)
		default:
			n = 90_000 + rng.IntN(8000) // a hostile client
		}
		var b strings.Builder
		for b.Len() < n {
			b.WriteRune(runes[rng.IntN(len(runes))])
		}
		return b.String()
	}
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var sent []store.LogEvent
	for i := range 24 {
		e := store.LogEvent{
			Time: base.Add(time.Duration(i) * time.Second), Status: msglog.Refused,
			MailFrom: text(store.LogAddressMax), Rcpt: text(store.LogAddressMax), Account: text(store.LogAddressMax),
			MessageID: "<" + text(store.LogHeaderMax) + ">", Subject: text(store.LogHeaderMax),
			Detail: text(store.LogDetailMax), RemoteIP: "203.0.113.9", DomainID: 1,
		}
		if i%3 == 0 {
			e.MessageID, e.Subject = "", "" // a sign-in's record
		}
		sent = append(sent, e)
		must(0, s.AppendLog(ctx, e))
	}
	got := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Refused, Limit: 100}))
	if len(got) != len(sent) {
		t.Fatalf("%d records back, want %d", len(got), len(sent))
	}
	for i, g := range got {
		w := sent[len(sent)-1-i] // newest first
		for _, f := range []struct {
			name      string
			got, sent string
			bound     int
		}{
			{"mail_from", g.MailFrom, strings.ToLower(w.MailFrom), store.LogAddressMax},
			{"rcpt", g.Rcpt, strings.ToLower(w.Rcpt), store.LogAddressMax},
			{"account", g.Account, strings.ToLower(w.Account), store.LogAddressMax},
			{"message_id", g.MessageID, strings.Trim(w.MessageID, "<>"), store.LogHeaderMax},
			{"subject", g.Subject, w.Subject, store.LogHeaderMax},
			{"detail", g.Detail, w.Detail, store.LogDetailMax},
			{"remote_ip", g.RemoteIP, w.RemoteIP, store.LogRemoteIPMax},
		} {
			switch {
			case len(f.got) > f.bound:
				t.Errorf("record %d: %s of %d bytes, over its bound %d (sent %d)", i, f.name, len(f.got), f.bound, len(f.sent))
			case !utf8.ValidString(f.got):
				t.Errorf("record %d: %s is not valid UTF-8: %q", i, f.name, tail(f.got))
			case len(f.sent) <= f.bound && f.got != f.sent:
				t.Errorf("record %d: %s of %d bytes cut to %d: %q", i, f.name, len(f.sent), len(f.got), tail(f.got))
			case len(f.sent) > f.bound && (!strings.HasSuffix(f.got, "…") || !strings.HasPrefix(f.sent, strings.TrimSuffix(f.got, "…"))):
				t.Errorf("record %d: %s of %d bytes is %q, want a prefix and …", i, f.name, len(f.sent), tail(f.got))
			case len(f.sent) > f.bound && len(f.got) < f.bound-utf8.UTFMax-len("…"):
				t.Errorf("record %d: %s of %d bytes cut to %d, shorter than needed", i, f.name, len(f.sent), len(f.got))
			}
		}
	}
	// A search asks with what the client sent, whole.
	last := sent[len(sent)-1]
	if hit := must(s.SearchLog(ctx, store.LogQuery{Address: last.Rcpt})); len(hit) == 0 || !hit[0].Time.Equal(last.Time) {
		t.Errorf("search by the recipient as sent (%d bytes) found %d records", len(last.Rcpt), len(hit))
	}
	last = sent[len(sent)-2]
	if hit := must(s.SearchLog(ctx, store.LogQuery{MessageID: last.MessageID})); len(hit) != 1 || !hit[0].Time.Equal(last.Time) {
		t.Errorf("search by the Message-ID as sent (%d bytes) found %d records", len(last.MessageID), len(hit))
	}
}

// tail is the end of a long text, for a failure's message.
func tail(s string) string {
	if len(s) > 40 {
		return "…" + s[len(s)-40:]
	}
	return s
}
