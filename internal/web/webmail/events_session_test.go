package webmail

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// eventSource opens /events as a browser's EventSource does (Accept:
// text/event-stream) and returns the stream once its first line came:
// the server has subscribed by then.
func (c *client) eventSource(ctx context.Context) (*http.Response, *bufio.Reader) {
	c.e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", c.e.URL+"/events", nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.e.t.Fatalf("stream: %s", resp.Status)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		c.e.t.Fatalf("stream's first line %q, %v", line, err)
	}
	return resp, r
}

// drained reads the stream to its end and returns the events it sent on
// the way; a stream that does not end fails when ctx does.
func drained(t *testing.T, ctx context.Context, r *bufio.Reader) []string {
	t.Helper()
	var events []string
	for {
		line, err := r.ReadString('\n')
		if ctx.Err() != nil {
			t.Fatalf("the stream was still open when the test gave up (%v); it sent %q", ctx.Err(), events)
		}
		if err != nil {
			return events
		}
		if strings.HasPrefix(line, "event:") || strings.HasPrefix(line, "data:") {
			events = append(events, strings.TrimSpace(line))
		}
	}
}

// TestLiveStreamEndsWithItsSession is the regression test for a stream
// that outlived its session: /events checked the session once, when it
// opened, so a tab kept getting "change" events (new mail, unread counts)
// after sign-out, after the password was changed in another session, the
// address disabled, or the session expired, kept open by the heartbeat.
// Now the stream ends, whether the end is made in this process (woken at
// once) or elsewhere, or by the clock (found at the next heartbeat or
// before the next event), and sends nothing more. Each case ends the
// session, then delivers mail, and reads the stream to its end.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	const idle, max = 30 * time.Minute, 2 * time.Hour
	cases := []struct {
		name string
		end  func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client)
	}{
		{"sign-out", func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client) {
			if resp, _ := c.post("/logout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign out: %s", resp.Status)
			}
		}},
		{"password changed in another session", func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client) {
			other := e.signIn(acct)
			resp, body := other.post("/settings/password", url.Values{"current": {testPassword},
				"new": {"another horse battery staple"}, "confirm": {"another horse battery staple"}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("change password: %s\n%s", resp.Status, body)
			}
		}},
		{"address disabled by another process", func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client) {
			// Straight in the store, as `xtramail user disable` does
			// from its own process: nothing here is told.
			if err := e.st.SetEnabled(context.Background(), acct.Address, false); err != nil {
				t.Fatal(err)
			}
		}},
		{"session deleted by another process", func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client) {
			if _, err := e.st.DeleteSessions(context.Background(), web.PrincipalUser, acct.ID, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"idle", func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client) {
			clk.Advance(idle)
		}},
		{"max while in use", func(t *testing.T, e *webEnv, clk *clocktest.Clock, acct store.Account, c *client) {
			for range max/(idle/2) - 1 {
				clk.Advance(idle / 2)
				if resp, _ := c.get("/"); resp.StatusCode != http.StatusOK {
					t.Fatalf("a page of the session in use: %s", resp.Status)
				}
			}
			clk.Advance(idle / 2)
		}},
	}
	// One server for all (each case signs in an address of its own): the
	// clock only moves on, and each session starts at its time.
	clk := clocktest.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	e := newWebEnvWith(t, webEnvOptions{heartbeat: 20 * time.Millisecond,
		sessions: web.SessionsConfig{Idle: idle, Max: max, Now: clk.Now}})
	n := 0
	for _, tc := range cases {
		for _, mail := range []bool{false, true} {
			name := tc.name
			if mail {
				name += ", then mail"
			}
			n++
			t.Run(name, func(t *testing.T) {
				acct := e.addUser(fmt.Sprintf("user%d@example.test", n))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c := e.signIn(acct)
				resp, r := c.eventSource(ctx)
				defer resp.Body.Close()
				// The stream is live: it tells of new mail.
				put(t, e.st, acct, store.Inbox, "Subject: before\n\nx\n", time.Now(), 0)
				nextChange(t, r)

				tc.end(t, e, clk, acct, c)
				if mail {
					// Before the stream's next check: the change must
					// not be sent.
					put(t, e.st, acct, store.Inbox, "Subject: after\n\nx\n", time.Now(), 0)
				}
				if events := drained(t, ctx, r); len(events) > 0 {
					t.Errorf("the stream sent %q after its session ended", events)
				}
			})
		}
	}
}

// addUser protects another address with the test password.
func (e *webEnv) addUser(address string) store.Account {
	e.t.Helper()
	h, err := auth.HashParams(testPassword, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.st.CreateAccount(context.Background(), address, h)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// TestLiveStreamIsNotUse: a tab that only follows new mail (its stream,
// which EventSource reopens by itself, and the lists' re-reads after a
// change, marked by mail.js) does not keep the session from going idle;
// a page the user opens does.
func TestLiveStreamIsNotUse(t *testing.T) {
	const idle = 30 * time.Minute
	clk := clocktest.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	e := newWebEnvWith(t, webEnvOptions{heartbeat: 20 * time.Millisecond,
		sessions: web.SessionsConfig{Idle: idle, Now: clk.Now}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bob := e.signIn(e.bob) // the last use: its first page
	in, err := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}

	clk.Advance(idle / 3)
	resp, r := bob.eventSource(ctx)
	defer resp.Body.Close()
	clk.Advance(idle / 3)
	put(t, e.st, e.bob, store.Inbox, "Subject: news\n\nx\n", time.Now(), 0)
	nextChange(t, r)
	if resp, body := bob.doHeader("GET", "/mail/"+strconv.FormatInt(in.ID, 10)+"/changes?since=0", nil,
		http.Header{"Hx-Request": {"true"}, web.BackgroundHeader: {"1"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("the list's re-read: %s\n%s", resp.Status, body)
	}
	clk.Advance(idle / 3) // idle since the first page
	if events := drained(t, ctx, r); len(events) > 0 {
		t.Errorf("the stream sent %q after its session went idle", events)
	}
	if resp, _ := bob.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a page after the idle time with only the stream open: %s, want a redirect to sign in", resp.Status)
	}

	// A page the user opens is use: the stream opened after it lives on
	// past the idle time counted from the sign-in.
	bob = e.signIn(e.bob)
	resp, r = bob.eventSource(ctx)
	defer resp.Body.Close()
	clk.Advance(idle / 2)
	if resp, _ := bob.get("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a page within the idle time: %s", resp.Status)
	}
	clk.Advance(idle / 2)
	put(t, e.st, e.bob, store.Inbox, "Subject: still\n\nx\n", time.Now(), 0)
	if d := nextChange(t, r); !strings.Contains(d, `"unread":2`) {
		t.Errorf("the stream of a session in use sent %s", d)
	}
}
