package queue

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store/storetest"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// startRelayScript is startScript with the connection in TLS from the
// start when cfg is set (implicit TLS, RFC 8314).
func startRelayScript(t *testing.T, cfg *tls.Config, script func(nc net.Conn, br *bufio.Reader)) int {
	t.Helper()
	if cfg == nil {
		return startScript(t, script)
	}
	return startScript(t, func(nc net.Conn, _ *bufio.Reader) {
		tc := tls.Server(nc, cfg)
		defer tc.Close()
		script(tc, bufio.NewReader(tc))
	})
}

// cutRelay is a relay's script that answers as a relay does until the
// stage's command (the greeting for "greeting"), whose reply it cuts:
// it writes the first octets of it with no CRLF, then hangs up, or with
// stall says nothing more until the client goes away.
func cutRelay(pipelining bool, stage, cut string, stall bool) func(nc net.Conn, br *bufio.Reader) {
	return func(nc net.Conn, br *bufio.Reader) {
		stop := func() {
			io.WriteString(nc, cut)
			if stall {
				io.Copy(io.Discard, br)
			}
		}
		if stage == "greeting" {
			stop()
			return
		}
		io.WriteString(nc, "220 raw.test ESMTP\r\n")
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(l))
			word, _, _ := strings.Cut(cmd, " ")
			if word == stage {
				stop()
				return
			}
			switch word {
			case "EHLO":
				io.WriteString(nc, "250-raw.test\r\n")
				if pipelining {
					io.WriteString(nc, "250-PIPELINING\r\n")
				}
				io.WriteString(nc, "250 8BITMIME\r\n")
			case "MAIL", "RCPT", "RSET":
				io.WriteString(nc, "250 2.1.0 ok\r\n")
			case "DATA":
				io.WriteString(nc, "354 go ahead\r\n")
				if !readUntil(br, ".\r\n") {
					return
				}
				if stage == "END" {
					stop()
					return
				}
				io.WriteString(nc, "250 2.0.0 queued\r\n")
			case "QUIT":
				io.WriteString(nc, "221 2.0.0 bye\r\n")
				return
			default:
				io.WriteString(nc, "500 5.5.2 what\r\n")
			}
		}
	}
}

// TestReplyCutOff (class: a reply line cut off by the connection's end or
// a timeout was taken for a whole reply): a relay that hangs up, or says
// nothing more, in the middle of a reply line, at any point of a session
// (the greeting, EHLO, MAIL, RCPT, DATA, the end of the data), with
// pipelining and without, in the clear and over implicit TLS, has the
// session lost, and the message deferred: never delivered on "250 2.0.0
// qu", never bounced on "550 5.7.1 rej" (RFC 5321 4.2.1: a reply line
// ends with CRLF); at the end of the data, with the wording that it may
// arrive twice; where the session was being opened, the error names the
// stage that broke (a greeting dripped past its timeout was taken for a
// greeting, and the EHLO then blamed). Where the line is cut, what it
// says, and whether the relay hangs up or stalls are random (seed
// logged).
func TestReplyCutOff(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 2))
	srvTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	replies := map[string][]string{
		"greeting": {"220 raw.test ESMTP service ready"},
		"EHLO":     {"250 raw.test at your service"},
		"MAIL":     {"250 2.1.0 sender ok", "550 5.7.1 sender refused"},
		"RCPT":     {"250 2.1.5 recipient ok", "550 5.1.1 no such user"},
		"DATA":     {"354 go ahead", "554 5.5.1 no valid recipients"},
		"END":      {"250 2.0.0 queued as 4711", "550 5.7.1 rejected by policy"},
	}
	// What the error says of where the session broke.
	where := map[string]string{"greeting": "greeting of ", "EHLO": "ehlo to ", "END": "may arrive twice"}
	var mu sync.Mutex // rnd
	for _, stage := range []string{"greeting", "EHLO", "MAIL", "RCPT", "DATA", "END"} {
		for _, pipelining := range []bool{false, true} {
			mu.Lock()
			line := replies[stage][rnd.IntN(len(replies[stage]))]
			cut := line[:1+rnd.IntN(len(line))]
			if len(cut) == len(line) && rnd.IntN(2) == 0 {
				cut += "\r" // all but the LF
			}
			// The end of the data is waited for 10 minutes: the relay
			// hangs up there.
			stall := stage != "END" && rnd.IntN(2) == 0
			implicit := rnd.IntN(2) == 0
			mu.Unlock()
			name := fmt.Sprintf("%s pipelining=%v cut=%q stall=%v implicit=%v", stage, pipelining, cut, stall, implicit)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var cfg *tls.Config
				mode := "none"
				if implicit {
					cfg, mode = srvTLS, "implicit"
				}
				port := startRelayScript(t, cfg, cutRelay(pipelining, stage, cut, stall))
				st, acc := newStore(t)
				// A stalled relay is given up on after a command
				// timeout short enough to wait for.
				w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "localhost", Port: port, TLS: mode},
					RootCAs: roots, CommandTimeout: 3 * time.Second, Now: func() time.Time { return t0 },
					Rand: func() float64 { return 0.5 }}, st, nil, nil)
				enqueue(t, st, acc, t0, "m1", "bob@remote.test")
				runOnce(t, w)
				q := queued(t, st)
				if len(q) != 1 {
					t.Fatalf("queue %+v, want the entry deferred", q)
				}
				if d := events(t, st, msglog.Deferred); len(d) != 1 {
					t.Errorf("deferred events %+v, want one", d)
				}
				e := q[0].LastError
				want := []string{fmt.Sprintf("a reply line cut off (%q)", cut)}
				if w := where[stage]; w != "" {
					want = append(want, w)
				}
				if stall {
					want = append(want, "timeout")
				}
				for _, s := range want {
					if !strings.Contains(e, s) {
						t.Errorf("last error %q, want it to say %q", e, s)
					}
				}
				if stage == "greeting" && strings.Contains(e, "ehlo") {
					t.Errorf("last error %q blames the EHLO for the greeting", e)
				}
				if n := len(storetest.Inbox(t, st, acc)); n != 0 {
					t.Errorf("the sender got %d notices, want none: nothing was refused", n)
				}
			})
		}
	}
}
