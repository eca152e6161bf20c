package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/api"
)

// smtpSink is a real SMTP server on loopback that keeps what it accepts.
type smtpSink struct {
	addr string
	mu   sync.Mutex
	msgs []sunkMail
}

type sunkMail struct {
	from  string
	rcpts []string
	data  []byte
}

func (s *smtpSink) got() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail(nil), s.msgs...)
}

// to returns what was sent to rcpt.
func (s *smtpSink) to(rcpt string) []sunkMail {
	var out []sunkMail
	for _, m := range s.got() {
		for _, r := range m.rcpts {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

type sinkSession struct {
	s     *smtpSink
	from  string
	rcpts []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.rcpts = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.rcpts = append(ss.rcpts, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sunkMail{ss.from, ss.rcpts, b})
	ss.s.mu.Unlock()
	return nil
}

func startSink(t *testing.T) *smtpSink {
	t.Helper()
	s := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedeliverRouteInsideRefused: a customer admin who names an address
// inside the operator's network (here loopback) as their domain's relay
// host cannot make the service connect there: the redelivery waits in the
// queue with the reason, and the server there gets nothing.
func TestRedeliverRouteInsideRefused(t *testing.T) {
	w, _ := relayWorld(t, nil)
	inside := startSink(t)
	ctx := context.Background()
	c1 := w.c.as(w.c1)
	m := seed(t, w, "alice@one.test", "redeliver-inside@one.test", false)
	acc, _ := w.srv.Store.Account(ctx, "alice@one.test")
	_, iport, _ := net.SplitHostPort(inside.addr)
	// By address, and by a name that resolves there.
	for _, route := range []string{inside.addr, "localhost:" + iport} {
		c1.want(200, "PATCH", "/domains/one.test", map[string]any{"relay_host": route})
		c1.want(200, "POST", "/addresses/alice@one.test/messages/redeliver", map[string]any{"ids": []int64{m.deleted}})
		waitUntil(t, "the route to "+route+" to be refused", func() bool {
			qs, err := w.srv.Store.QueueEntries(ctx, store.QueueQuery{AccountID: acc.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range qs {
				if q.Route == route && q.Attempts > 0 {
					if !strings.Contains(q.LastError, "not a public address") {
						t.Fatalf("route %s: last error %q", route, q.LastError)
					}
					return true
				}
			}
			return false
		})
	}
	if n := len(inside.to("alice@one.test")); n != 0 {
		t.Errorf("the server inside got the redelivery %d times", n)
	}
}

// TestRedeliverGoesToDomainRelayOnce: a deleted message redelivered by a
// customer admin reaches the SMTP server its domain names as relay host,
// byte for byte, exactly once, and not the service's own relay; the
// message log has "redelivered" then "delivered" in its timeline, and the
// audit log the act.
func TestRedeliverGoesToDomainRelayOnce(t *testing.T) {
	w, smarthost := relayWorld(t, func(c *config.Config) {
		// The test's "primary mailbox server" listens on loopback, which
		// a route reaches only when the operator allows it.
		c.Queue.RouteNetworks = []string{"127.0.0.1"}
	})
	primary := startSink(t)
	ctx := context.Background()
	c1 := w.c.as(w.c1)
	m := seed(t, w, "alice@one.test", "redeliver-1@one.test", false)
	acc, _ := w.srv.Store.Account(ctx, "alice@one.test")
	msg, err := w.srv.Store.Message(ctx, acc.ID, m.deleted)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := w.srv.Store.OpenBody(ctx, acc.ID, msg.BodyID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()

	// Without a relay host there is nowhere to send it.
	if st, pb := c1.do("POST", "/addresses/alice@one.test/messages/redeliver", map[string]any{"ids": []int64{m.deleted}}); st != 409 {
		t.Fatalf("redeliver without a relay host: %d %v", st, pb)
	}
	c1.want(200, "PATCH", "/domains/one.test", map[string]any{"relay_host": primary.addr})
	res := c1.want(200, "POST", "/addresses/alice@one.test/messages/redeliver", map[string]any{"ids": []int64{m.deleted}})
	items := res["redelivered"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["route"] != primary.addr || items[0].(map[string]any)["message_id"] != m.mid {
		t.Fatalf("redelivered: %v", res)
	}
	waitUntil(t, "the primary mailbox's server to receive the message", func() bool { return len(primary.to("alice@one.test")) > 0 })
	// Settled: the queue holds nothing for alice any more, and the log
	// says delivered.
	waitUntil(t, "the redelivery to be settled", func() bool {
		qs, err := w.srv.Store.QueueEntries(ctx, store.QueueQuery{AccountID: acc.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.Rcpt == "alice@one.test" {
				return false
			}
		}
		return true
	})
	got := primary.to("alice@one.test")
	if len(got) != 1 {
		t.Fatalf("the primary mailbox's server got the message %d times, want once", len(got))
	}
	// The stored bytes after the queue's trace field (RFC 5321 4.4).
	trace, rest, _ := bytes.Cut(got[0].data, []byte("\r\n\tfor <alice@one.test>; "))
	if !bytes.HasPrefix(trace, []byte("Received: from localhost (local)\r\n\tby localhost (xtramail) id ")) || !bytes.HasSuffix(rest, stored) ||
		bytes.Count(rest[:len(rest)-len(stored)], []byte("\n")) != 1 {
		t.Errorf("redelivered bytes are not the stored ones after one Received field:\n%q\nwant after it\n%q", got[0].data, stored)
	}
	if got[0].from != "" {
		t.Errorf("envelope sender %q, want the null sender", got[0].from)
	}
	if n := len(smarthost.to("alice@one.test")); n != 0 {
		t.Errorf("the service's own relay got the redelivery %d times", n)
	}
	tl := c1.want(200, "GET", "/log/"+url.PathEscape(m.mid), nil)
	var statuses []string
	for _, e := range tl["events"].([]any) {
		ev := e.(map[string]any)
		if ev["rcpt"] == "alice@one.test" {
			statuses = append(statuses, ev["status"].(string))
		}
	}
	if s := strings.Join(statuses, " "); !strings.Contains(s, "redelivered delivered") {
		t.Errorf("timeline for alice: %q, want redelivered then delivered", s)
	}
	au := c1.want(200, "GET", "/audit?limit=50", nil)
	found := false
	for _, it := range au["items"].([]any) {
		if it.(map[string]any)["action"] == admin.OpRedeliver {
			found = true
		}
	}
	if !found {
		t.Error("no audit record of the redelivery")
	}
	// Another tenant cannot redeliver alice's message.
	if st, _ := w.c.as(w.c2).do("POST", "/addresses/alice@one.test/messages/redeliver", map[string]any{"ids": []int64{m.deleted}}); st != 404 {
		t.Errorf("c2 redelivers alice's message: %d, want 404", st)
	}
}

var linkRE = regexp.MustCompile(`https://\S+/login/link\?token=(\S+)`)

// TestSignInLinkMailedToAlternate: the link goes by mail through the
// queue to the alternate address, From the system sender; the API answer
// says where it went and does not hold the link; the link in the mail
// signs the user in once. Without a system sender the answer is a clear
// 409.
func TestSignInLinkMailedToAlternate(t *testing.T) {
	w, smarthost := linkWorld(t)
	c1 := w.c.as(w.c1)
	_, raw, res := c1.send("POST", "/addresses/alice@one.test/signin-link/send", "application/json", map[string]any{"to": "Alice.Home@personal.example"})
	if res["sent_to"] != "alice.home@personal.example" || res["expires_at"] == nil {
		t.Fatalf("answer: %s", raw)
	}
	if bytes.Contains(raw, []byte("token")) || bytes.Contains(raw, []byte("/login/link")) {
		t.Fatalf("the answer shows the link: %s", raw)
	}
	waitUntil(t, "the link's mail to reach the relay", func() bool { return len(smarthost.to("alice.home@personal.example")) > 0 })
	got := smarthost.to("alice.home@personal.example")
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	body := string(got[0].data)
	if !strings.Contains(body, "From: ") || !strings.Contains(body, "<continuity@provider.test>") || !strings.Contains(body, "alice@one.test") {
		t.Errorf("mail:\n%s", body)
	}
	mm := linkRE.FindStringSubmatch(body)
	if mm == nil {
		t.Fatalf("no link in the mail:\n%s", body)
	}
	token, _ := url.QueryUnescape(mm[1])
	a, err := w.adm.ConsumeSignInLink(context.Background(), token)
	if err != nil || a.Address != "alice@one.test" {
		t.Fatalf("the mailed link: %v %v", a.Address, err)
	}
	if _, err := w.adm.ConsumeSignInLink(context.Background(), token); err == nil {
		t.Error("the mailed link worked twice")
	}
	// Audited with the alternate address; bad input names its field.
	au := c1.want(200, "GET", "/audit?limit=50", nil)
	found := false
	for _, it := range au["items"].([]any) {
		rec := it.(map[string]any)
		if rec["action"] == admin.OpSignInLink && strings.Contains(fmt.Sprint(rec["detail"]), "alice.home@personal.example") {
			found = true
		}
	}
	if !found {
		t.Error("no audit record of the sent link")
	}
	if st, pb := c1.do("POST", "/addresses/alice@one.test/signin-link/send", map[string]any{"to": "not an address"}); st != 400 || pb["field"] != "alternate" {
		t.Errorf("bad alternate: %d %v", st, pb)
	}
}

// linkWorld is a world whose queue relays to a sink it returns, with a
// system sender to send sign-in links from.
func linkWorld(t *testing.T) (*world, *smtpSink) {
	t.Helper()
	return relayWorld(t, func(c *config.Config) { c.Web.SystemSender = "continuity@provider.test" })
}

// relayWorld is a world whose queue relays to a sink it returns; more,
// when set, adjusts the configuration further.
func relayWorld(t *testing.T, more func(*config.Config)) (*world, *smtpSink) {
	t.Helper()
	sink := startSink(t)
	host, port, _ := net.SplitHostPort(sink.addr)
	w := newWorldWith(t, func(c *config.Config) {
		c.Queue.Mode, c.Queue.RelayHost, c.Queue.RelayTLS = "relay", host, "none"
		fmt.Sscan(port, &c.Queue.RelayPort)
		if more != nil {
			more(c)
		}
	})
	return w, sink
}

// TestSignInLinkNeedsSystemSender: without [web] system_sender nothing
// is queued and the answer says why.
func TestSignInLinkNeedsSystemSender(t *testing.T) {
	w := newWorld(t)
	st, pb := w.c.as(w.c1).do("POST", "/addresses/alice@one.test/signin-link/send", map[string]any{"to": "alice.home@personal.example"})
	if st != 409 || !strings.Contains(fmt.Sprint(pb["detail"]), "system_sender") {
		t.Fatalf("%d %v", st, pb)
	}
	acc, _ := w.srv.Store.Account(context.Background(), "alice@one.test")
	qs, _ := w.srv.Store.QueueEntries(context.Background(), store.QueueQuery{AccountID: acc.ID})
	if len(qs) != 0 {
		t.Errorf("queued without a system sender: %v", qs)
	}
}

// TestSignInLinkRateLimited: a 6th link to one alternate address within
// the hour is 429 with Retry-After and a problem document saying which
// limit and when; nothing more is queued; another alternate address
// still gets its link.
func TestSignInLinkRateLimited(t *testing.T) {
	w, smarthost := linkWorld(t)
	c1 := w.c.as(w.c1)
	send := func(to string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("POST", w.srv.Web+api.Prefix+"/addresses/alice@one.test/signin-link/send", strings.NewReader(`{"to":"`+to+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+w.c1)
		req.Header.Set("Content-Type", "application/json")
		res, err := c1.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var pb map[string]any
		if err := json.NewDecoder(res.Body).Decode(&pb); err != nil {
			t.Fatal(err)
		}
		return res, pb
	}
	for i := range 5 {
		if res, pb := send("alice.home@personal.example"); res.StatusCode != 202 {
			t.Fatalf("link %d: %d %v", i+1, res.StatusCode, pb)
		}
	}
	res, pb := send("alice.home@personal.example")
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != 429 || err != nil || retry < 1 || retry > 12*60 || res.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(fmt.Sprint(pb["detail"]), "alice.home@personal.example") || pb["status"] != float64(429) {
		t.Errorf("6th link: %d Retry-After %q %s %v", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"), pb)
	}
	if res, pb := send("alice.work@elsewhere.example"); res.StatusCode != 202 {
		t.Errorf("link to another address: %d %v", res.StatusCode, pb)
	}
	waitUntil(t, "the links' mail to reach the relay", func() bool {
		return len(smarthost.to("alice.home@personal.example")) >= 5 && len(smarthost.to("alice.work@elsewhere.example")) == 1
	})
	if n := len(smarthost.to("alice.home@personal.example")); n != 5 {
		t.Errorf("%d mails to the limited address, want 5", n)
	}
}
