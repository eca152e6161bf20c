package webmail

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/webmail/benchmailbox"
)

// benchClient signs bob in on the handler chain, in process.
type benchClient struct {
	h      http.Handler
	cookie string
}

func (c *benchClient) get(b *testing.B, path string) (*httptest.ResponseRecorder, time.Duration) {
	req := httptest.NewRequest("GET", "https://127.0.0.1"+path, nil)
	req.Header.Set("Cookie", c.cookie)
	if strings.Contains(path, "/rows?") || strings.Contains(path, "/changes?") {
		req.Header.Set("HX-Request", "true") // as mail.js asks
	}
	rec := httptest.NewRecorder()
	t0 := time.Now()
	c.h.ServeHTTP(rec, req)
	d := time.Since(t0)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return rec, d
}

// BenchmarkWebmail measures server time (the handler, from request to
// written response, in process) for the targets on a
// 100,000-message INBOX (WEBMAIL_BENCH_N to change): the inbox page,
// searches by subject and body, opening a 1 MiB message and its HTML
// frame, a conversation, a live update after one new message (and the
// 500-row refresh it replaced); and the inbox page's weight with its
// assets, gzip-compressed. It reports the median wall time (ms/median),
// the process's CPU time per operation (cpu-ms/op: user and system,
// every goroutine, from getrusage) and the load average when it ran
// (load1): the machine is shared, and wall time alone says more about
// the others.
//
// The mailbox is built once and kept (benchMailbox): the first run takes
// minutes, the next ones start at once. Each run adds one small message
// to it, for the live update.
func BenchmarkWebmail(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(getenv("WEBMAIL_BENCH_N")); err == nil && v >= 100 {
		n = v
	}
	st, bob, bigMsg := benchMailbox(b, n)
	ctx := context.Background()
	// The live update after one new message arrives, and the refresh
	// it replaced: every row down to the 500th.
	before, err := st.Mailbox(ctx, bob.ID, store.Inbox)
	if err != nil {
		b.Fatal(err)
	}
	put(b, st, bob, store.Inbox, "From: Alice <alice@example.org>\nSubject: live one\n\nNew.\n", time.Now(), 0)
	top, err := st.ConversationPage(ctx, bob.ID, before.ID, store.Cursor{}, refreshMax)
	if err != nil || len(top) == 0 {
		b.Fatal("no conversations", err)
	}
	inbox := "/mail/" + strconv.FormatInt(before.ID, 10)
	changes := inbox + "/changes?since=" + strconv.FormatUint(before.HighestModSeq, 10)
	refresh := inbox + "/rows?after=&upto=" + formatCursor(store.CursorOf(top[len(top)-1].Newest))
	authn := auth.NewAuthenticator(func(ctx context.Context, user string) (auth.Credential, error) {
		a, err := st.Account(ctx, user)
		if err != nil {
			return auth.Credential{}, auth.ErrUnknownUser
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled}, nil
	}, auth.Options{})
	log := slog.New(slog.DiscardHandler)
	w := web.New(web.Config{}, web.NewSessions(st, web.SessionsConfig{}), log)
	w.UserSignIn(authn, st)
	w.Mount("/", New(Options{Web: w, Store: st, Logger: log}))
	hd := w.Handler()
	req := httptest.NewRequest("POST", "https://127.0.0.1/login", strings.NewReader(url.Values{"address": {bob.Address}, "password": {benchmailbox.Password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	hd.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("sign in: %d", rec.Code)
	}
	c := &benchClient{h: hd, cookie: strings.SplitN(rec.Header().Get("Set-Cookie"), ";", 2)[0]}
	// A conversation: a reply in the middle of the mailbox.
	conv, err := st.MessagesByMessageID(ctx, bob.ID, []string{fmt.Sprintf("m%d@example.net", n/20+5)})
	if err != nil || len(conv) == 0 {
		b.Fatal("no conversation message", err)
	}
	// A conversation of 50 messages (issue 14's conversation view): a
	// chain of replies with In-Reply-To, half with References, delivered
	// in a shuffled order over the last hour; the newest is opened.
	chain := make([]string, 50)
	for i := range chain {
		raw := fmt.Sprintf("From: Carol <carol@example.org>\nSubject: Re: The long one\nMessage-ID: <long%d@example.org>\n"+
			"Date: %s\n", i, time.Now().Add(time.Duration(i-60)*time.Minute).Format(time.RFC1123Z))
		if i > 0 {
			raw += fmt.Sprintf("In-Reply-To: <long%d@example.org>\n", i-1)
			if i%2 == 0 {
				raw += "References: <long0@example.org> <long" + strconv.Itoa(i-1) + "@example.org>\n"
			}
		}
		chain[i] = raw + "\nPart " + strconv.Itoa(i) + " of a long conversation.\n"
	}
	var newest store.Message
	for i, j := range rand.New(rand.NewPCG(50, 50)).Perm(len(chain)) {
		m := put(b, st, bob, store.Inbox, chain[j], time.Now().Add(time.Duration(i-60)*time.Minute), 0)
		if j == len(chain)-1 {
			newest = m
		}
	}
	if cv, err := st.ConversationOf(ctx, bob.ID, newest.ID, 100); err != nil || len(cv) != len(chain) {
		b.Fatalf("the 50-message conversation has %d messages (%v)", len(cv), err)
	}
	// A page of the conversation list from the middle of INBOX.
	in, err := st.Mailbox(ctx, bob.ID, store.Inbox)
	if err != nil {
		b.Fatal(err)
	}
	mid, err := st.MessagesByMessageID(ctx, bob.ID, []string{fmt.Sprintf("m%d@example.net", n/20)})
	if err != nil || len(mid) == 0 {
		b.Fatal("no message in the middle", err)
	}
	cases := []struct{ name, path string }{
		{"inbox", "/"},
		{"inbox-flat", "/?flat"},
		{"conv-list-middle", "/mail/" + strconv.FormatInt(in.ID, 10) + "/rows?after=" + formatCursor(store.CursorOf(mid[0]))},
		{"conversation-50", "/msg/" + strconv.FormatInt(newest.ID, 10)},
		{"search-subject", "/search?q=subject%3Arenewal"},
		{"search-body", "/search?q=migration"},
		// A phrase of two words every message holds, apart: every
		// candidate is read and turned down, by IMAP's check and then
		// by the one without accents (search_accents.go).
		{"search-phrase-none", "/search?q=%22message+about%22"},
		{"search-accented", "/search?q=r%C3%A9sum%C3%A9"},
		{"open-1MiB", "/msg/" + strconv.FormatInt(bigMsg.ID, 10)},
		{"open-1MiB-frame", "/msg/" + strconv.FormatInt(bigMsg.ID, 10) + "/html?part=0"},
		{"conversation", "/msg/" + strconv.FormatInt(conv[0].ID, 10)},
		{"live-changes", changes},
		{"live-changes-flat", changes + "&flat"},
		{"live-refresh-500", refresh},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			cc := *c
			if strings.HasSuffix(bc.name, "-flat") {
				cc.cookie += "; xm-conv=off"
			}
			var times []time.Duration
			cpu0 := processCPU()
			for range b.N {
				_, d := cc.get(b, strings.TrimSuffix(strings.TrimSuffix(bc.path, "?flat"), "&flat"))
				times = append(times, d)
			}
			cpu := processCPU() - cpu0
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/median")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(loadAverage(), "load1")
		})
	}
	b.Run("page-weight", func(b *testing.B) {
		for range b.N {
			req := httptest.NewRequest("GET", "https://127.0.0.1/", nil)
			req.Header.Set("Cookie", c.cookie)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			hd.ServeHTTP(rec, req)
			page := rec.Body.Len()
			body := rec.Body.String()
			if rec.Header().Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := io.ReadAll(zr)
				body = string(raw)
			}
			total := page
			for _, m := range assetURL.FindAllStringSubmatch(body, -1) {
				req := httptest.NewRequest("GET", "https://127.0.0.1"+m[1], nil)
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				hd.ServeHTTP(rec, req)
				total += rec.Body.Len()
			}
			b.ReportMetric(float64(total)/1024, "KiB-gzip")
			b.ReportMetric(float64(page)/1024, "KiB-html-gzip")
		}
	})
}

var assetURL = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
