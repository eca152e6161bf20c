package capture

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// longLine returns n bytes of printable text without a line break.
func longLine(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

// TestLongLinesStored guards issue 12 part 1: go-smtp's 2000-byte line
// limit applied inside DATA (the server hung up without a reply) and BDAT
// (500 5.4.0), so every copy with a line of 1999 bytes or more was lost.
// Lines inside a message have no limit but the message size.
func TestLongLinesStored(t *testing.T) {
	e := newEnv(t, Config{})
	for _, n := range []int{998, 1999, 2000, 100_000, 10 << 20} {
		msg := "Subject: long " + fmt.Sprint(n) + "\r\n\r\n" + longLine(n) + "\r\nend\r\n"
		t.Run(fmt.Sprintf("DATA/%d", n), func(t *testing.T) {
			before := len(e.inbox(t, e.bob))
			cv := dialRaw(t, e.addr)
			cv.cmd("EHLO up.test", "250 ")
			cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
			cv.cmd("RCPT TO:<bob@example.test>", "250 ")
			cv.cmd("DATA", "354 ")
			cv.send(msg)
			cv.cmd(".", "250 2.0.0 stored")
			cv.cmd("QUIT", "221 ")
			got := e.inbox(t, e.bob)
			if len(got) != before+1 || got[before] != msg {
				t.Fatalf("stored %d messages; last differs from the %d bytes sent", len(got)-before, len(msg))
			}
		})
		t.Run(fmt.Sprintf("BDAT/%d", n), func(t *testing.T) {
			before := len(e.inbox(t, e.bob))
			cv := dialRaw(t, e.addr)
			cv.cmd("EHLO up.test", "250 ")
			cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
			cv.cmd("RCPT TO:<bob@example.test>", "250 ")
			// Chunks of 1 MiB split the long line across chunks.
			rest := msg
			for len(rest) > 1<<20 {
				cv.send(fmt.Sprintf("BDAT %d\r\n", 1<<20) + rest[:1<<20])
				cv.expect("250 ")
				rest = rest[1<<20:]
			}
			cv.send(fmt.Sprintf("BDAT %d LAST\r\n", len(rest)) + rest)
			cv.expect("250 2.0.0 stored")
			cv.cmd("QUIT", "221 ")
			got := e.inbox(t, e.bob)
			if len(got) != before+1 || got[before] != msg {
				t.Fatalf("stored %d messages; last differs from the %d bytes sent", len(got)-before, len(msg))
			}
		})
	}
	t.Run("STARTTLS/100000", func(t *testing.T) {
		srvTLS, roots, err := tlsutil.NewTestPair()
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, Config{Config: smtpserver.Config{TLS: srvTLS}})
		c, err := smtp.DialStartTLS(e.addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := "Subject: tls\r\n\r\n" + longLine(100_000) + "\r\n"
		if err := c.SendMail("a@outside.test", []string{"bob@example.test"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		if got := e.inbox(t, e.bob); len(got) != 1 || got[0] != msg {
			t.Fatalf("stored %d messages, or not byte for byte", len(got))
		}
	})
}

// TestCommandLineLimit checks that command lines keep a limit while
// message lines have none: an endless command line, before a message or
// between two BDAT chunks, gets 500 5.4.0 and the connection is closed.
func TestCommandLineLimit(t *testing.T) {
	e := newEnv(t, Config{})
	endless := "NOOP " + longLine(smtpserver.MaxCommandBytes+1000)
	t.Run("before a message", func(t *testing.T) {
		cv := dialRaw(t, e.addr)
		cv.cmd("EHLO up.test", "250 ")
		cv.send(endless)
		cv.expect("500 5.4.0 ")
	})
	t.Run("between BDAT chunks", func(t *testing.T) {
		cv := dialRaw(t, e.addr)
		cv.cmd("EHLO up.test", "250 ")
		cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
		cv.cmd("RCPT TO:<bob@example.test>", "250 ")
		cv.send("BDAT 12\r\nSubject: x\r\n")
		cv.expect("250 ")
		cv.send(endless)
		cv.expect("500 5.4.0 ")
	})
	t.Run("long but bounded command line", func(t *testing.T) {
		// Longer than go-smtp's old 2000: an address list in a parameter
		// or a long EHLO name is no reason to hang up. The name is
		// refused (no domain is that long, and go-smtp would echo it),
		// and the session goes on.
		cv := dialRaw(t, e.addr)
		cv.cmd("EHLO "+longLine(3000), "501 5.5.2 ")
		cv.cmd("EHLO up.test", "250 ")
		cv.cmd("NOOP "+longLine(3000), "250 ")
	})
}

// TestRepliesSayWhatHappened guards issue 12 part 6 (capture's replies):
// "250 2.0.0 OK: queued" promised a relay that capture never does.
func TestRepliesSayWhatHappened(t *testing.T) {
	e := newEnv(t, Config{})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<bob@example.test>", "250 ")
	cv.cmd("DATA", "354 ")
	cv.cmd("Subject: in\r\n\r\nx\r\n.", "250 2.0.0 stored")
	// A journaled copy of outbound mail from alice to an outside address.
	cv.cmd("MAIL FROM:<alice@example.test>", "250 ")
	cv.cmd("RCPT TO:<someone@outside.test>", "250 ")
	cv.cmd("DATA", "354 ")
	cv.send("Subject: out\r\n\r\nx\r\n.\r\n")
	if got := cv.reply(); got != "250 2.0.0 stored; copy kept for the protected sender" {
		t.Fatalf("journaled copy: reply %q", got)
	}
}

// refusals returns the refused records of the message log.
func (e *testEnv) refusals(t *testing.T) []store.LogEvent {
	t.Helper()
	// Refusals are written in the background.
	if err := e.srv.FlushLog(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := e.st.SearchLog(context.Background(), store.LogQuery{Status: msglog.Refused})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestRefusedMessagesAnsweredAndLogged checks that every refused message
// gets a reply and a "refused" record: over the size limit by DATA and by
// BDAT, and over the in-flight budget (452 4.3.1, try later).
func TestRefusedMessagesAnsweredAndLogged(t *testing.T) {
	big := "Subject: big\r\n\r\n" + strings.Repeat(longLine(998)+"\r\n", 800) // 800 KB
	steps := []struct {
		name, reply, detail string
		cfg                 Config
		data                bool   // DATA (else BDAT)
		raw                 string // written while the server may already answer
		chunks              bool   // BDAT in two chunks: the first is answered 250
	}{
		{"size by DATA", "552 5.3.4 ", "552 5.3.4 message over the size limit", Config{Config: smtpserver.Config{MaxMessageBytes: 1 << 20}},
			true, big + big + ".\r\n", false},
		{"size by BDAT", "552 5.3.4 ", "552 5.3.4 message over the size limit", Config{Config: smtpserver.Config{MaxMessageBytes: 1 << 20}},
			false, fmt.Sprintf("BDAT %d\r\n%sBDAT %d LAST\r\n%s", len(big), big, len(big), big), true},
		{"size by one BDAT chunk", "552 5.3.4 ", "552 5.3.4 message over the size limit", Config{Config: smtpserver.Config{MaxMessageBytes: 1 << 20}},
			false, fmt.Sprintf("BDAT %d LAST\r\n%s%s", 2*len(big), big, big), false},
		{"budget by DATA", "452 4.3.1 ", "452 4.3.1 in-flight", Config{Config: smtpserver.Config{MaxInflightBytes: 600 << 10}},
			true, big + ".\r\n", false},
		{"budget by BDAT", "452 4.3.1 ", "452 4.3.1 in-flight", Config{Config: smtpserver.Config{MaxInflightBytes: 600 << 10}},
			false, fmt.Sprintf("BDAT %d LAST\r\n%s", len(big), big), false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.cfg)
			cv := dialRaw(t, e.addr)
			cv.cmd("EHLO up.test", "250 ")
			cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
			cv.cmd("RCPT TO:<bob@example.test>", "250 ")
			if st.data {
				cv.cmd("DATA", "354 ")
			}
			go io.WriteString(cv.c, st.raw)
			if st.chunks {
				cv.expect("250 ") // the first chunk
			}
			cv.expect(st.reply)
			// The session goes on, and a small message is stored.
			cv.cmd("RSET", "250 ")
			cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
			cv.cmd("RCPT TO:<bob@example.test>", "250 ")
			cv.cmd("DATA", "354 ")
			cv.cmd("Subject: small\r\n\r\nok\r\n.", "250 2.0.0 stored")
			evs := e.refusals(t)
			if len(evs) != 1 || !strings.HasPrefix(evs[0].Detail, st.detail) || evs[0].Rcpt != "bob@example.test" || evs[0].DomainID == 0 {
				t.Fatalf("refused records %+v; want one, %q for bob", evs, st.detail)
			}
			if got := e.inbox(t, e.bob); len(got) != 1 || !strings.Contains(got[0], "Subject: small") {
				t.Fatalf("inbox holds %d messages, want the small one", len(got))
			}
			if used := e.srv.budget.Used(); used != 0 {
				t.Fatalf("budget still holds %d bytes after every message ended", used)
			}
		})
	}
	t.Run("declared size over the budget", func(t *testing.T) {
		e := newEnv(t, Config{Config: smtpserver.Config{MaxInflightBytes: 600 << 10}})
		cv := dialRaw(t, e.addr)
		cv.cmd("EHLO up.test", "250 ")
		cv.cmd("MAIL FROM:<a@outside.test> SIZE=700000", "452 4.3.1 ")
		cv.cmd("MAIL FROM:<a@outside.test> SIZE=7000", "250 ")
	})
}

// TestBudgetConcurrent sends many messages at once through a budget that
// holds only a few: each gets stored or 452 4.3.1, none is lost or
// stored twice, and the budget returns to zero.
func TestBudgetConcurrent(t *testing.T) {
	e := newEnv(t, Config{Config: smtpserver.Config{MaxInflightBytes: 1 << 20}})
	const n = 12
	var wg sync.WaitGroup
	replies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(e.addr)
			if err != nil {
				replies[i] = err.Error()
				return
			}
			defer c.Close()
			size := 1000 + rand.IntN(400<<10)
			body := fmt.Sprintf("Subject: m%d\r\n\r\n%s\r\n", i, longLine(size))
			err = c.SendMail("a@outside.test", []string{"bob@example.test"}, strings.NewReader(body))
			var se *smtp.SMTPError
			switch {
			case err == nil:
				replies[i] = "250"
			case errors.As(err, &se):
				replies[i] = fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
			default:
				replies[i] = err.Error()
			}
		}()
	}
	wg.Wait()
	stored := 0
	for _, r := range replies {
		switch {
		case r == "250":
			stored++
		case r == "452 4.3.1":
		default:
			t.Fatalf("reply %q, want 250 or 452 4.3.1", r)
		}
	}
	got := e.inbox(t, e.bob)
	if len(got) != stored {
		t.Fatalf("%d stored answers, %d messages in the inbox", stored, len(got))
	}
	if used := e.srv.budget.Used(); used != 0 {
		t.Fatalf("budget holds %d bytes after all messages ended", used)
	}
	// Whatever the burst got (on a loaded machine all of it may have been
	// in flight at once and refused), the budget is whole again.
	c, err := smtp.Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("a@outside.test", []string{"bob@example.test"}, strings.NewReader("Subject: after\r\n\r\n"+longLine(900<<10)+"\r\n")); err != nil {
		t.Fatalf("a 900 KB message after the burst: %v", err)
	}
}

// TestCRLFWriterChunked checks the streaming line-ending normaliser on
// random bodies cut at random points, against a one-pass reference: a
// CR at the end of one chunk and an LF at the start of the next are one
// line ending, not two.
func TestCRLFWriterChunked(t *testing.T) {
	reference := func(b []byte) []byte {
		var out []byte
		for i := 0; i < len(b); i++ {
			switch c := b[i]; {
			case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
				out = append(out, '\r', '\n')
				i++
			case c == '\r' || c == '\n':
				out = append(out, '\r', '\n')
			default:
				out = append(out, c)
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\r\n.")
	for range 2000 {
		in := make([]byte, rng.IntN(60))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		var out bytes.Buffer
		w := smtpserver.NewCRLFWriter(&out)
		for rest := in; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			if n, err := w.Write(rest[:k]); n != k || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			rest = rest[k:]
		}
		w.Close()
		if want := reference(in); !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("normalised %q to %q, want %q", in, out.Bytes(), want)
		}
	}
}

// TestLogLinesCarryCid guards issue 12 part 7: every log line of a
// connection names its cid; open and close are at info with counts,
// refusals at info with the reason, the transcript at debug.
func TestLogLinesCarryCid(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnvLog(t, Config{}, log)
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
	cv.cmd("RCPT TO:<nobody@example.test>", "550 ")
	cv.cmd("RCPT TO:<bob@example.test>", "250 ")
	cv.cmd("DATA", "354 ")
	cv.cmd("Subject: x\r\n\r\ny\r\n.", "250 ")
	cv.cmd("QUIT", "221 ")
	cv.c.Close()
	var lines []map[string]any
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		text := buf.String()
		mu.Unlock()
		if strings.Contains(text, "connection closed") || time.Now().After(deadline) {
			lines = nil
			for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				lines = append(lines, m)
			}
			break
		}
	}
	find := func(msg string) map[string]any {
		for _, l := range lines {
			if l["msg"] == msg {
				return l
			}
		}
		t.Fatalf("no %q line in %v", msg, lines)
		return nil
	}
	cid := find("connection opened")["cid"]
	if cid == nil || cid == "" {
		t.Fatalf("open line without cid: %v", lines)
	}
	for _, l := range lines {
		if l["cid"] != cid {
			t.Errorf("log line without the connection's cid %v: %v", cid, l)
		}
	}
	if l := find("connection opened"); l["level"] != "INFO" || l["conns"] == nil {
		t.Errorf("open line %v", l)
	}
	if l := find("connection closed"); l["level"] != "INFO" || l["stored"] != 1.0 || l["refused"] != 1.0 {
		t.Errorf("close line %v, want stored 1 refused 1", l)
	}
	if l := find("recipient refused"); l["level"] != "INFO" || l["reason"] != "address not protected" {
		t.Errorf("refusal line %v", l)
	}
	transcript := false
	for _, l := range lines {
		if l["msg"] == "client" && l["line"] == "RCPT TO:<bob@example.test>" && l["level"] == "DEBUG" {
			transcript = true
		}
	}
	if !transcript {
		t.Errorf("no transcript line for RCPT TO at debug: %v", lines)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestBDATRandomChunksConcurrent sends messages with long lines in BDAT
// chunks of random sizes (1 byte to 300 KB) over several connections at
// once, each chunk written without waiting (as a pipelining client may):
// the command-line bound must never mistake a chunk for a command line,
// whatever the timing, and every message is stored byte for byte.
func TestBDATRandomChunksConcurrent(t *testing.T) {
	e := newEnv(t, Config{})
	const conns = 6
	msgs := make([]string, conns)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		msgs[i] = fmt.Sprintf("Subject: chunks %d\r\n\r\n%s\r\n%s\r\n", i, longLine(200_000+rng.IntN(400_000)), longLine(rng.IntN(5000)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			c.SetDeadline(time.Now().Add(3 * time.Minute))
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
				errs <- fmt.Errorf("connection %d: greeting %q %v", i, line, err)
				return
			}
			io.WriteString(c, "EHLO up.test\r\nMAIL FROM:<a@outside.test>\r\nRCPT TO:<bob@example.test>\r\n")
			var chunks []string
			for rest := msgs[i]; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(300_000))
				if rng.IntN(4) == 0 {
					n = min(len(rest), 1+rng.IntN(10))
				}
				chunks = append(chunks, rest[:n])
				rest = rest[n:]
			}
			go func() {
				for k, ch := range chunks {
					last := ""
					if k == len(chunks)-1 {
						last = " LAST"
					}
					fmt.Fprintf(c, "BDAT %d%s\r\n%s", len(ch), last, ch)
				}
			}()
			// EHLO, MAIL, RCPT, then one answer per chunk.
			var last string
			for range 3 + len(chunks) {
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						errs <- fmt.Errorf("connection %d: %v after %q", i, err, last)
						return
					}
					if len(line) < 4 || line[3] != '-' {
						last = strings.TrimRight(line, "\r\n")
						break
					}
				}
				if !strings.HasPrefix(last, "250 ") {
					errs <- fmt.Errorf("connection %d: reply %q", i, last)
					return
				}
			}
			if last != "250 2.0.0 stored" {
				errs <- fmt.Errorf("connection %d: last reply %q", i, last)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := e.inbox(t, e.bob)
	if len(got) != conns {
		t.Fatalf("%d messages stored, want %d", len(got), conns)
	}
	want := map[string]bool{}
	for _, m := range msgs {
		want[m] = true
	}
	for _, m := range got {
		if !want[m] {
			t.Fatalf("a stored message (%d bytes) is not one that was sent", len(m))
		}
	}
}
