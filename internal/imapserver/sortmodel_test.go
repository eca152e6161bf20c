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

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// randomThreadMsg is a message whose sort and thread keys vary: display
// names plain, encoded or missing, reply and forward subjects, a missing
// Date, In-Reply-To and References to earlier messages.
func randomThreadMsg(r *rand.Rand, i int) string {
	names := []string{"Zoe Zed", "=?UTF-8?Q?=C3=89mile?=", "", `"Quoted, Name"`, "adam"}
	subjects := []string{"Hello", "Re: Hello", "Fwd: [list] Report (fwd)", "re: RE: hello", "", "[fwd: Report]", "Lunch"}
	from := fmt.Sprintf("u%d@example.org", r.IntN(7))
	if n := names[r.IntN(len(names))]; n != "" {
		from = n + " <" + from + ">"
	}
	h := fmt.Sprintf("From: %s\r\nTo: t%d@example.test\r\nSubject: %s\r\nMessage-ID: <m%d@x>\r\n", from, r.IntN(5), subjects[r.IntN(len(subjects))], i)
	if r.IntN(3) > 0 {
		h += fmt.Sprintf("Date: Mon, %d Nov 2026 10:%02d:00 +0100\r\n", 1+r.IntN(28), r.IntN(60))
	}
	if r.IntN(2) == 0 {
		h += fmt.Sprintf("Cc: c%d@example.net\r\n", r.IntN(3))
	}
	if i > 0 && r.IntN(2) == 0 {
		p := r.IntN(i)
		h += fmt.Sprintf("In-Reply-To: <m%d@x>\r\nReferences: <m%d@x> <m%d@x>\r\n", p, r.IntN(i), p)
	}
	return h + "\r\n" + strings.Repeat("x", r.IntN(3000)) + "\r\n"
}

// TestSortThreadAgainstModel checks SORT, UID SORT and THREAD, served from
// the keys the store keeps per body, against a model that derives every
// key from the raw message at sort time, over random mailboxes with
// expunged messages and random criteria and search keys.
func TestSortThreadAgainstModel(t *testing.T) {
	keys := []string{"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
	for round := range 3 {
		r := rand.New(rand.NewPCG(uint64(round), 99))
		e := newEnv(t)
		type msg struct {
			uid      uint32
			info     *message.Info
			received time.Time
			size     int64
		}
		var msgs []msg
		n := 40 + r.IntN(40)
		for i := range n {
			raw := randomThreadMsg(r, i)
			received := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(50)) * time.Hour)
			d := store.NewDelivery([]byte(raw), received)
			d.Copies = []store.Copy{{AccountID: e.account.ID, Mailbox: "INBOX"}}
			dl, err := e.st.Deliver(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, msg{dl[0].UID, d.Info, received, int64(len(raw))})
		}
		c := e.login()
		c.ok("SELECT INBOX")
		// Expunge a random few; the rest keep their UIDs, renumbered.
		var live []msg
		var gone []string
		for _, m := range msgs {
			if r.IntN(6) == 0 {
				gone = append(gone, strconv.Itoa(int(m.uid)))
			} else {
				live = append(live, m)
			}
		}
		if len(gone) > 0 {
			c.ok("UID STORE " + strings.Join(gone, ",") + ` +FLAGS.SILENT (\Deleted)`)
			c.ok("EXPUNGE")
		}
		model := func(uid bool, lo, hi uint32) []thread.Msg {
			var out []thread.Msg
			for i, m := range live {
				if m.uid < lo || m.uid > hi {
					continue
				}
				k := store.SortKeysOf(m.info)
				tm := thread.Msg{UID: m.uid, Date: m.info.Date, Arrival: m.received, Size: m.size, Subject: m.info.Subject,
					From: k.From, To: k.To, Cc: k.Cc, DisplayFrom: k.DisplayFrom, DisplayTo: k.DisplayTo,
					MessageID: m.info.MessageID, InReplyTo: k.InReplyTo, References: m.info.References}
				if !uid {
					tm.UID = uint32(i + 1)
				}
				out = append(out, tm)
			}
			return out
		}
		nextUID := msgs[len(msgs)-1].uid + 1
		for step := range 40 {
			if step%8 == 7 {
				// The mailbox changes under the session's sort cache:
				// two new messages, two expunged.
				for range 2 {
					raw := randomThreadMsg(r, int(nextUID))
					received := time.Date(2026, 11, 22, r.IntN(24), 0, 0, 0, time.UTC)
					c.ok(fmt.Sprintf("APPEND INBOX %q {%d+}\r\n%s", received.Format("02-Jan-2006 15:04:05 -0700"), len(raw), raw))
					live = append(live, msg{nextUID, message.Parse([]byte(raw)), received, int64(len(raw))})
					nextUID++
				}
				for range 2 {
					i := r.IntN(len(live))
					c.ok(fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Deleted)", live[i].uid))
					c.ok("EXPUNGE")
					live = slices.Delete(live, i, i+1)
				}
			}
			var crit []thread.Criterion
			var names []string
			for range 1 + r.IntN(3) {
				name := keys[r.IntN(len(keys))]
				k, _ := thread.ParseKey(name)
				rev := r.IntN(2) == 0
				crit = append(crit, thread.Criterion{Key: k, Reverse: rev})
				if rev {
					name = "REVERSE " + name
				}
				names = append(names, name)
			}
			uid := r.IntN(2) == 0
			lo, hi := uint32(1), uint32(1<<31)
			search := "ALL"
			if r.IntN(2) == 0 {
				lo = uint32(1 + r.IntN(n))
				hi = lo + uint32(r.IntN(n))
				search = fmt.Sprintf("UID %d:%d", lo, hi)
			}
			want := model(uid, lo, hi)
			thread.Sort(want, crit)
			cmd := "SORT (" + strings.Join(names, " ") + ") UTF-8 " + search
			if uid {
				cmd = "UID " + cmd
			}
			var w strings.Builder
			w.WriteString("* SORT")
			for _, m := range want {
				fmt.Fprintf(&w, " %d", m.UID)
			}
			if lines := c.ok(cmd); !slices.Contains(lines, w.String()) {
				t.Fatalf("round %d step %d: %s: got %q, want %q", round, step, cmd, lines, w.String())
			}
			algo, fn := "REFERENCES", thread.References
			if r.IntN(2) == 0 {
				algo, fn = "ORDEREDSUBJECT", thread.OrderedSubject
			}
			tcmd := "THREAD " + algo + " UTF-8 " + search
			if uid {
				tcmd = "UID " + tcmd
			}
			wantThread := "* THREAD"
			if roots := fn(model(uid, lo, hi)); len(roots) > 0 {
				wantThread += " " + string(thread.Format(nil, roots))
			}
			if lines := c.ok(tcmd); !slices.Contains(lines, wantThread) {
				t.Fatalf("round %d step %d: %s: got %q, want %q", round, step, tcmd, lines, wantThread)
			}
		}
	}
}
