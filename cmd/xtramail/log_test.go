package main

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestLogSearchTableWidth: one record of a client's long values (a
// refused sign-in's user name with a line break and a tab in it, a
// refused 1000-character sender) does not push the other rows of `log
// search` off the screen nor break them over lines: each cell is at most
// 60 characters, cut with "…", and each record one line; --json keeps
// the values as the log holds them.
func TestLogSearchTableWidth(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	st := openStore(t, data)
	now := time.Now()
	user := strings.Repeat("ü", 150) + "\n\tnext"
	from := strings.Repeat("s", 1000) + "@example.test"
	evs := []store.LogEvent{
		msglog.Session(now.Add(-2*time.Second), msglog.Refused, user, 0, "203.0.113.9", "535 5.7.8 "+strings.Repeat("d", 900)),
		msglog.With(msglog.Message(now.Add(-time.Second), nil, from, 0, "203.0.113.9"), msglog.Refused, "bob@example.test", 0, "550 5.1.8 sender refused"),
		msglog.Session(now, msglog.Login, "alice@example.test", 1, "198.51.100.7", "IMAP sign-in"),
	}
	if err := st.AppendLog(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out := cliProc(t, data, "", "log", "search")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+len(evs) {
		t.Fatalf("log search: %d lines, want a header and %d records:\n%s", len(lines), len(evs), out)
	}
	// Time and status (about 35 characters), then six cells of at most
	// 60 and the space between them.
	const widest = 35 + 6*(60+2)
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > widest {
			t.Errorf("line %d is %d characters wide, want at most %d: %.120q…", i, n, widest, l)
		}
	}
	if !strings.Contains(lines[1], "alice@example.test") || !strings.Contains(lines[1], "IMAP sign-in") {
		t.Errorf("the sign-in's row: %q", lines[1])
	}
	if !strings.Contains(out, strings.Repeat("ü", 59)+"…") || !strings.Contains(out, strings.Repeat("s", 59)+"…") {
		t.Errorf("long values not cut at 60 characters with …:\n%s", out)
	}
	got := searchLog(t, data, "--status", "refused")
	if len(got) != 2 || got[0].MailFrom != store.ClipText(from, store.LogAddressMax) || got[1].Rcpt != store.LogAddress(user) ||
		got[1].Detail != evs[0].Detail {
		t.Errorf("log search --json does not keep the values as logged: %+v", got)
	}
}
