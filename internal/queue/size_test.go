package queue

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// TestOverAnnouncedSizeFailsWithoutSending guards RFC 1870 6.1: a
// message larger than the SIZE its relay announced is not sent, neither
// in a pipelined transaction (RFC 2920) nor one command at a time. The
// limit is the server's fixed maximum, so every recipient fails at once
// with 5.3.4 and the sender gets a failure DSN naming the limit, and the
// relay reads no MAIL for it. A message under the limit on the same
// session is delivered, its MAIL carrying a SIZE at or under the limit;
// "SIZE" without a number (or 0) sets no limit.
func TestOverAnnouncedSizeFailsWithoutSending(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ext   []string
		limit int // 0: none
	}{
		{"pipelined", []string{"PIPELINING", "SIZE 4000"}, 4000},
		{"one command at a time", []string{"SIZE 4000"}, 4000},
		{"no fixed limit", []string{"PIPELINING", "SIZE"}, 0},
		{"zero is no limit", []string{"PIPELINING", "SIZE 0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, acc := newStore(t)
			var mu sync.Mutex
			var mails []string
			delivered := 0
			raw := startRawSMTP(t, tc.ext, func(s *rawSession) error {
				return s.relay(func(l string) (string, bool) {
					mu.Lock()
					mails = append(mails, l)
					mu.Unlock()
					return "250 2.1.0 ok", false
				}, func([]byte) bool {
					mu.Lock()
					delivered++
					mu.Unlock()
					return false
				})
			})
			rcpts := []string{"bob@remote.test", "carol@remote.test"}
			queue := func(id string, pad int) int64 {
				msg := append(rawMessage(id, "subject "+id, rcpts...), strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n", pad)...)
				d := store.NewDelivery(msg, t0)
				d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
				d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, rcpts, d.Info, d.Size, t0)
				if _, err := st.Deliver(context.Background(), d); err != nil {
					t.Fatal(err)
				}
				return d.Size
			}
			small := queue("small", 10) // about 1 KiB
			big := queue("big", 70)     // about 5 KiB
			if small >= 4000 || big <= 4000 {
				t.Fatalf("sizes %d and %d do not straddle the limit", small, big)
			}
			w := relayWorker(t, st, raw.port, func() time.Time { return t0 })
			runOnce(t, w)
			w.pool.closeAll()
			raw.check(t)
			mu.Lock()
			defer mu.Unlock()
			if tc.limit == 0 {
				if delivered != 2 || len(mails) != 2 {
					t.Fatalf("without a limit: %d delivered, MAILs %q; want both", delivered, mails)
				}
				if b := events(t, st, msglog.Bounced); len(b) != 0 {
					t.Fatalf("bounced %+v", b)
				}
				return
			}
			if delivered != 1 || len(mails) != 1 {
				t.Fatalf("%d delivered, MAILs %q; want only the small message sent", delivered, mails)
			}
			var size int64
			if _, err := fmt.Sscanf(mails[0][strings.Index(mails[0], " SIZE=")+1:], "SIZE=%d", &size); err != nil || size < small || size > int64(tc.limit) {
				t.Errorf("MAIL %q: SIZE %d (%v), want between the message's %d and the limit", mails[0], size, err, small)
			}
			if q := queued(t, st); len(q) != 0 {
				t.Errorf("left in the queue: %+v", q)
			}
			b := events(t, st, msglog.Bounced)
			if len(b) != 2 {
				t.Fatalf("bounced events %+v, want both recipients of the big message", b)
			}
			for _, e := range b {
				if !strings.Contains(e.MessageID, "big@") || !strings.Contains(e.Detail, "4000-byte limit") {
					t.Errorf("bounced event %+v", e)
				}
			}
			in := storetest.Inbox(t, st, acc)
			if len(in) != 1 {
				t.Fatalf("%d messages in the sender's INBOX, want one failure notice", len(in))
			}
			if err := contains(in[0], "Content-Type: multipart/report; report-type=delivery-status", "Action: failed",
				"Status: 5.3.4", "Final-Recipient: rfc822; bob@remote.test", "Final-Recipient: rfc822; carol@remote.test",
				"4000-byte limit", "Message-ID: <big@example.org>"); err != nil {
				t.Fatalf("notification %v:\n%s", err, in[0])
			}
		})
	}
}
