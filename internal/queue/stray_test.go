package queue

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store/storetest"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// strayRelay is a relay (its script for startScript) that writes
// replies no command asked for (strays) in the same write as its reply
// at where: "greeting", "EHLO", "MAIL", "RCPT", "DATA" or "END" (the
// end of the data, which it answers with end). With pipelining it
// announces PIPELINING and writes the replies to the commands sent
// together (RSET, MAIL, RCPT, DATA) in one write once it read DATA; the
// strays then come between them. idle, when set, is written on a
// session's first message's connection once release is closed: strays
// sent while the session waits in the client's pool. With tls, it
// speaks TLS from the start (implicit), and with split the strays go in
// a TLS record of their own, in the same TCP write as their reply's:
// the client's TLS reads the two at once and hands out the first.
type strayRelay struct {
	tls        *tls.Config
	split      bool
	pipelining bool
	where      string
	strays     []string
	end        string
	release    chan struct{} // closed: write idle
	idle       string
	sentIdle   chan struct{} // closed once idle was written

	mu    sync.Mutex
	conns int
	got   []string // "connection: Message-ID" of each message read to its end
	late  []string // a command read after idle was written
}

func (r *strayRelay) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *strayRelay) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// heldConn holds what is written while hold is set, for one write.
type heldConn struct {
	net.Conn
	hold bool
	buf  []byte
}

func (h *heldConn) Write(b []byte) (int, error) {
	if h.hold {
		h.buf = append(h.buf, b...)
		return len(b), nil
	}
	return h.Conn.Write(b)
}

func (h *heldConn) flush() error {
	h.hold = false
	_, err := h.Conn.Write(h.buf)
	h.buf = h.buf[:0]
	return err
}

func (r *strayRelay) script(raw net.Conn, br *bufio.Reader) {
	r.mu.Lock()
	r.conns++
	n := r.conns
	r.mu.Unlock()
	hc := &heldConn{Conn: raw}
	var nc net.Conn = hc
	if r.tls != nil {
		tc := tls.Server(hc, r.tls)
		defer tc.Close()
		// Now, not at the first write, which may be held.
		if tc.Handshake() != nil {
			return
		}
		nc, br = tc, bufio.NewReader(tc)
	}
	// What goes in the next write: replies, then strays.
	var out, strays strings.Builder
	reply := func(stage string, lines ...string) {
		for _, l := range lines {
			out.WriteString(l + "\r\n")
		}
		if stage == r.where {
			for _, s := range r.strays {
				strays.WriteString(s + "\r\n")
			}
		}
		if !r.split {
			out.WriteString(strays.String())
			strays.Reset()
		}
	}
	flush := func() bool {
		defer out.Reset()
		defer strays.Reset()
		if strays.Len() == 0 {
			_, err := io.WriteString(nc, out.String())
			return err == nil
		}
		hc.hold = true
		io.WriteString(nc, out.String())
		io.WriteString(nc, strays.String())
		return hc.flush() == nil
	}
	reply("greeting", "220 raw.test ESMTP")
	flush()
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		word, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(l)), " ")
		switch word {
		case "EHLO":
			if r.pipelining {
				reply("EHLO", "250-raw.test", "250-PIPELINING", "250 8BITMIME")
			} else {
				reply("EHLO", "250-raw.test", "250 8BITMIME")
			}
		case "RSET":
			reply("RSET", "250 2.0.0 ok")
		case "MAIL":
			reply("MAIL", "250 2.1.0 ok")
		case "RCPT":
			reply("RCPT", "250 2.1.5 ok")
		case "DATA":
			reply("DATA", "354 go ahead")
			if !flush() {
				return
			}
			var msg strings.Builder
			for {
				d, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if d == ".\r\n" {
					break
				}
				msg.WriteString(d)
			}
			id := "?"
			if m := msgIDRe.FindStringSubmatch(msg.String()); m != nil {
				id = m[1]
			}
			r.mu.Lock()
			r.got = append(r.got, fmt.Sprintf("%d: %s", n, id))
			r.mu.Unlock()
			reply("END", r.end)
			if !flush() {
				return
			}
			if r.release != nil && n == 1 {
				<-r.release
				io.WriteString(nc, r.idle)
				close(r.sentIdle)
				// The session is out of step: whatever comes is noted,
				// and the connection closed.
				if l, err := br.ReadString('\n'); err == nil {
					r.mu.Lock()
					r.late = append(r.late, strings.TrimSpace(l))
					r.mu.Unlock()
				}
				return
			}
			continue
		case "QUIT":
			io.WriteString(nc, "221 2.0.0 bye\r\n")
			return
		default:
			reply("", "500 5.5.2 what")
		}
		// With pipelining, the replies to what was sent with DATA wait
		// for it (RFC 2920 3.1 lets a server answer them together).
		if !r.pipelining || word != "RSET" && word != "MAIL" && word != "RCPT" {
			if !flush() {
				return
			}
		}
	}
}

// strayLines are replies a relay out of step might send for no command.
var strayLines = []string{"250 2.0.0 extra1", "550 5.0.0 extra2", "354 fake", "250 2.1.5 fake",
	"451 4.3.0 try later", "554 5.7.1 refused"}

// TestStrayReplies (class: a reply sent for no command was taken for the
// next command's): RFC 5321 4.2, each reply answers one command. A relay
// without PIPELINING that answered the end of the data with "250 2.0.0
// ok" and two more lines had the next message bounced with the stray
// "550 5.0.0 extra2", a message it never refused; one that answered MAIL
// with "250 ok" and a stray 250 and 354 had its 550 to the data go
// unread and the message logged delivered, lost. With and without
// pipelining, in the clear and over implicit TLS, with the prober's byte
// sequences and random strays (seed logged) after the greeting, EHLO,
// MAIL, RCPT, DATA's 354 or the end of the data, three messages queued
// for one session (a 421 sent unasked, RFC 5321 3.8, is the session
// closing, with its reply kept):
//   - strays past a 250 to the end of the data leave each message
//     delivered, once: each over a session of its own, as the one out of
//     step is closed rather than used again;
//   - strays past a refusal of the data leave the transaction in doubt:
//     deferred, saying it may arrive twice, never bounced;
//   - strays anywhere else end the session before its transaction
//     completes: the messages are deferred as a protocol error (4.5.0),
//     none delivered, none bounced.
func TestStrayReplies(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 3))
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name       string
		pipelining bool
		where      string
		strays     []string
		end        string
	}
	cases := []tc{
		{"prober dataend_250_extra_nopipe", false, "END", []string{"250 2.0.0 extra1", "550 5.0.0 extra2"}, "250 2.0.0 ok"},
		{"prober dataend_250_extra", true, "END", []string{"250 2.0.0 extra1", "550 5.0.0 extra2"}, "250 2.0.0 ok"},
		{"prober mail_250_extra354_550", false, "MAIL", []string{"250 2.1.5 fake", "354 fake"}, "550 5.7.1 rejected, not accepted"},
		// RFC 5321 3.8: a server shutting down may send 421 unasked.
		{"421 after the data", false, "END", []string{"421 4.3.2 shutting down"}, "250 2.0.0 ok"},
		{"421 after MAIL", false, "MAIL", []string{"421 4.3.2 shutting down"}, "250 2.0.0 ok"},
	}
	for _, where := range []string{"greeting", "EHLO", "MAIL", "RCPT", "DATA", "END"} {
		for _, pipelining := range []bool{false, true} {
			c := tc{where: where, pipelining: pipelining, end: "250 2.0.0 queued"}
			for range 1 + rnd.IntN(3) {
				c.strays = append(c.strays, strayLines[rnd.IntN(len(strayLines))])
			}
			if where == "END" && rnd.IntN(2) == 0 {
				c.end = "550 5.7.1 rejected by policy"
			}
			c.name = fmt.Sprintf("%s pipelining=%v", where, pipelining)
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		implicit := rnd.IntN(2) == 0
		split := implicit && rnd.IntN(2) == 0
		t.Run(fmt.Sprintf("%s strays=%q end=%q implicit=%v split=%v", c.name, c.strays, c.end, implicit, split), func(t *testing.T) {
			t.Parallel()
			r := &strayRelay{pipelining: c.pipelining, where: c.where, strays: c.strays, end: c.end, split: split}
			mode := "none"
			if implicit {
				r.tls, mode = srvTLS, "implicit"
			}
			port := startScript(t, r.script)
			st, acc := newStore(t)
			w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "localhost", Port: port, TLS: mode},
				RootCAs: roots, Concurrency: 1, Now: func() time.Time { return t0 }, Rand: func() float64 { return 0.5 }}, st, nil, nil)
			for i := 1; i <= 3; i++ {
				enqueue(t, st, acc, t0, fmt.Sprintf("m%d", i), fmt.Sprintf("bob%d@remote.test", i))
			}
			runOnce(t, w)
			if f := events(t, st, msglog.Bounced); len(f) != 0 {
				t.Errorf("bounced: %+v", f)
			}
			if n := len(storetest.Inbox(t, st, acc)); n != 0 {
				t.Errorf("the sender got %d notices, want none: the relay refused nothing", n)
			}
			got := r.received()
			q := queued(t, st)
			switch {
			case c.where == "END" && strings.HasPrefix(c.end, "250"):
				if len(q) != 0 {
					t.Errorf("queue %+v, want every message delivered", q)
				}
				if want := []string{"1: m1", "2: m2", "3: m3"}; !slices.Equal(got, want) {
					t.Errorf("the relay got %q, want %q: each message once, each over a session of its own", got, want)
				}
				if n := r.connections(); n != 3 {
					t.Errorf("%d connections, want 3: a session out of step carries no other message", n)
				}
			default:
				// The first message's transaction is what broke; the
				// others go back to the queue untried (deliverDomain),
				// unless the session broke as it was opened.
				if len(q) != 3 {
					t.Fatalf("queue %+v, want the three deferred", q)
				}
				var errs []string
				for _, e := range q {
					if e.LastError != "" {
						errs = append(errs, e.LastError)
					}
				}
				want := []string{"smtp protocol error"}
				switch {
				case strings.HasPrefix(c.strays[0], "421 "):
					// The session closing, with the server's reply.
					want = []string{c.strays[0]}
				case c.where == "END":
					want = append(want, "where no reply was due", "may arrive twice")
				case !c.pipelining || c.where == "greeting" || c.where == "EHLO":
					want = append(want, "where no reply was due")
				}
				// With pipelining, strays among the replies to the
				// commands sent together may be taken for theirs
				// until one has a code none of them could have (an
				// unexpected reply): a protocol error all the same.
				if len(errs) == 0 || (c.where == "greeting" || c.where == "EHLO") && len(errs) != 3 {
					t.Errorf("queue %+v, want the first message deferred with the session's error", q)
				}
				for _, e := range errs {
					for _, s := range want {
						if !strings.Contains(e, s) {
							t.Errorf("last error %q, want it to say %q", e, s)
						}
					}
				}
				switch {
				case c.where == "END" && len(got) != 1:
					t.Errorf("the relay got %q, want the first message only", got)
				case c.where != "END" && len(got) != 0:
					t.Errorf("the relay got %q, want nothing: no transaction completed", got)
				}
			}
		})
	}
}

// TestStrayReplyWhileIdle (class as TestStrayReplies): a relay that
// sends replies for no command while the session waits in the pool
// (Config.IdleConn) had the next message take them for its own: without
// pipelining, the RSET that checks the session took "250 2.0.0 extra1"
// and judged it alive, and MAIL took "550 5.0.0 extra2" and bounced the
// message. What the socket holds unread, in the clear or under TLS, is
// looked for before a pooled session is reused: it is dropped without a
// word more (its RSET would be answered by the strays), and the message
// goes over a new one, delivered, once. The strays are the prober's, or
// random ones (seed logged).
func TestStrayReplyWhileIdle(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 4))
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	var idles []string
	for range 2 {
		idle := ""
		for range 1 + rnd.IntN(3) {
			idle += strayLines[rnd.IntN(len(strayLines))] + "\r\n"
		}
		idles = append(idles, idle)
	}
	idles = append(idles, "250 2.0.0 extra1\r\n550 5.0.0 extra2\r\n") // the prober's
	for _, pipelining := range []bool{false, true} {
		for _, implicit := range []bool{false, true} {
			for _, idle := range idles {
				t.Run(fmt.Sprintf("pipelining=%v implicit=%v strays=%q", pipelining, implicit, idle), func(t *testing.T) {
					t.Parallel()
					r := &strayRelay{pipelining: pipelining, end: "250 2.0.0 queued", idle: idle,
						release: make(chan struct{}), sentIdle: make(chan struct{})}
					mode := "none"
					if implicit {
						r.tls, mode = srvTLS, "implicit"
					}
					port := startScript(t, r.script)
					st, acc := newStore(t)
					w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "localhost", Port: port, TLS: mode},
						RootCAs: roots, Concurrency: 1, IdleConn: time.Hour, Rand: func() float64 { return 0.5 }}, st, nil, nil)
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan error, 1)
					go func() { done <- w.Run(ctx) }()
					defer func() {
						cancel()
						if err := <-done; err != nil {
							t.Error(err)
						}
					}()
					settled := func(n int) {
						t.Helper()
						for deadline := time.Now().Add(2 * time.Minute); len(r.received()) < n || len(queued(t, st)) > 0; time.Sleep(10 * time.Millisecond) {
							if time.Now().After(deadline) {
								t.Fatalf("the relay has %q, the queue %+v", r.received(), queued(t, st))
							}
						}
					}
					enqueue(t, st, acc, time.Now(), "m1", "bob@remote.test")
					w.Wake()
					settled(1)
					// The session is idle: the relay speaks unasked.
					close(r.release)
					<-r.sentIdle
					enqueue(t, st, acc, time.Now(), "m2", "bob@remote.test")
					w.Wake()
					settled(2)
					if f := events(t, st, msglog.Bounced); len(f) != 0 {
						t.Errorf("bounced: %+v", f)
					}
					if d := events(t, st, msglog.Deferred); len(d) != 0 {
						t.Errorf("deferred: %+v", d)
					}
					if got, want := r.received(), []string{"1: m1", "2: m2"}; !slices.Equal(got, want) {
						t.Errorf("the relay got %q, want %q: the second message over a new session", got, want)
					}
					r.mu.Lock()
					defer r.mu.Unlock()
					if len(r.late) > 0 {
						t.Errorf("the session out of step was sent %q after the strays, want nothing", r.late)
					}
				})
			}
		}
	}
}
