package capture

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/retention"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// hostileHeaders are messages whose header values are huge: each is
// stored byte for byte, and what the store keeps of it parsed (the
// Info, held in memory while the message is stored and cached by the
// store afterwards) stays small.
var hostileHeaders = map[string]string{
	"huge subject": "Subject: " + strings.Repeat("hugesubject ", 1<<20) + "\r\nMessage-ID: <" +
		strings.Repeat("m", 1<<20) + "@x>\r\n\r\nbody\r\n",
	"embedded address bomb": func() string {
		var b strings.Builder
		b.WriteString("Subject: bomb\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n")
		to := "To: " + strings.Repeat("a@b,", 3000) + "\r\n"
		for range 300 {
			b.WriteString("--bb\r\nContent-Type: message/rfc822\r\n\r\n" + to + "\r\nx\r\n")
		}
		b.WriteString("--bb--\r\n")
		return b.String()
	}(),
	"embedded fields": func() string {
		part := "--bb\r\nContent-Type: message/rfc822\r\nContent-Description: " + strings.Repeat("d", 1000) +
			"\r\n\r\nSubject: " + strings.Repeat("s", 4000) + "\r\nMessage-ID: <" + strings.Repeat("m", 1000) + "@x>\r\n\r\nx\r\n"
		return "Subject: fields\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n" + strings.Repeat(part, 2000) + "--bb--\r\n"
	}(),
	"parameter bomb": func() string {
		var ps []string
		for i := range 100 {
			ps = append(ps, "p"+strconv.Itoa(i)+"=v")
		}
		params := strings.Join(ps, ";")
		part := "--bb\r\nContent-Type: text/plain; " + params + "\r\nContent-Disposition: attachment; " + params +
			"\r\nContent-Language: " + strings.Repeat("en,", 100) + "\r\n\r\nx\r\n"
		return "Subject: parameters\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n" + strings.Repeat(part, 4000) + "--bb--\r\n"
	}(),
}

// TestHostileHeadersBounded sends each hostile message over a real SMTP
// session (BDAT, so that it arrives byte for byte) and reads back the
// stored body and its Info.
func TestHostileHeadersBounded(t *testing.T) {
	e := newEnv(t, Config{Config: smtpserver.Config{MaxMessageBytes: 50 << 20}})
	ctx := context.Background()
	for name, raw := range hostileHeaders {
		t.Run(name, func(t *testing.T) {
			cv := dialRaw(t, e.addr)
			cv.cmd("EHLO up.test", "250 ")
			cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
			cv.cmd("RCPT TO:<bob@example.test>", "250 ")
			cv.send("BDAT " + strconv.Itoa(len(raw)) + " LAST\r\n" + raw)
			cv.expect("250 2.0.0 stored")
			cv.cmd("QUIT", "221 ")

			mb, err := e.st.Mailbox(ctx, e.bob.ID, "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := e.st.Messages(ctx, e.bob.ID, mb.ID)
			if err != nil || len(msgs) == 0 {
				t.Fatalf("messages: %d, %v", len(msgs), err)
			}
			m := msgs[len(msgs)-1]
			rc, err := e.st.OpenBody(ctx, e.bob.ID, m.BodyID)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != raw {
				t.Fatalf("stored %d bytes, sent %d (not the same)", len(got), len(raw))
			}
			b, err := e.st.Body(ctx, e.bob.ID, m.BodyID)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(b.Info)
			t.Logf("Info of a %d-byte message: %d bytes", len(raw), len(js))
			if len(js) > 2<<20 {
				t.Errorf("Info of a %d-byte message is %d bytes", len(raw), len(js))
			}
		})
	}
}

// TestHostileDatesRoll: a copy's retention window runs from its arrival,
// whatever its Date says (far future, far past, unparseable, absent): it
// is neither kept for ever nor purged at once.
func TestHostileDatesRoll(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	dates := []string{"Date: Mon, 1 Jan 2999 00:00:00 +0000\r\n", "Date: Mon, 1 Jan 1901 00:00:00 +0000\r\n",
		"Date: Fri, 31 Dec 99999999999 25:61:61 +9999\r\n", "Date: yesterday-ish\r\n", ""}
	arrived := time.Now()
	for i, d := range dates {
		cv := dialRaw(t, e.addr)
		cv.cmd("EHLO up.test", "250 ")
		cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
		cv.cmd("RCPT TO:<bob@example.test>", "250 ")
		cv.cmd("DATA", "354 ")
		cv.send(d + "Subject: dated " + strconv.Itoa(i) + "\r\n\r\nbody\r\n.\r\n")
		cv.expect("250 ")
		cv.cmd("QUIT", "221 ")
	}
	now := arrived
	w := &retention.Worker{Store: e.st, Log: slog.New(slog.DiscardHandler), Batch: 100, LogDays: 90, Now: func() time.Time { return now }}
	window := time.Duration(store.DefaultRetentionDays) * 24 * time.Hour
	for _, step := range []struct {
		at   time.Duration
		kept int
	}{{0, len(dates)}, {window - time.Hour, len(dates)}, {window + time.Hour, 0}} {
		now = arrived.Add(step.at)
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(e.inbox(t, e.bob)); n != step.kept {
			t.Fatalf("%v after arrival: %d copies kept, want %d", step.at, n, step.kept)
		}
	}
}
