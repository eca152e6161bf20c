package imapserver_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// heapRise runs fn and returns how far HeapInuse rose above where it was
// after a forced GC before fn, sampled every 2 ms while fn ran: garbage
// counts, as it does in the service's resident size until a GC runs.
func heapRise(fn func()) (rise, base uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base = ms.HeapInuse
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
	})
	func() {
		// Stopped however fn ends (t.Fatal in it too).
		defer func() {
			close(stop)
			wg.Wait()
		}()
		fn()
	}()
	return peak - base, base
}

// discardUntil reads responses until the line tagged tag, throwing
// literals away unread into memory, and returns that line and the bytes
// read.
func (c *conn) discardUntil(tag string) (string, int64) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	var n int64
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v after %d bytes", err, n)
		}
		n += int64(len(l))
		if strings.HasPrefix(l, tag+" ") {
			return strings.TrimRight(l, "\r\n"), n
		}
		t := strings.TrimRight(l, "\r\n")
		if i := strings.LastIndexByte(t, '{'); i >= 0 && strings.HasSuffix(t, "}") {
			var k int64
			if _, err := fmt.Sscanf(t[i:], "{%d}", &k); err == nil {
				if _, err := io.CopyN(io.Discard, c.r, k); err != nil {
					c.t.Fatal(err)
				}
				n += k
			}
		}
	}
}

// TestFetchItemsMemoryBound: a FETCH that names a large section many
// times holds one item's value at a time. Every value was made before
// the response line began (so that an error left no half line): 100
// BINARY[2] of a 4 MB base64 attachment took 375 MiB, and the command
// line's 64 KiB room for about 4,000 of them would take 12 GiB. Now each
// item is checked first and made as it is written.
func TestFetchItemsMemoryBound(t *testing.T) {
	const items = 40
	const bound = 24 << 20
	plain := "\x00\x01attachment bytes\xff\xfe, the same 57 again and again!!!"
	line := base64.StdEncoding.EncodeToString([]byte(plain)) + "\r\n"
	body := strings.Repeat(line, (3<<20)/len(line))
	raw := "From: a@example.net\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + "--B--\r\n"
	decoded := len(body) / len(line) * len(plain)
	e := newEnv(t)
	uid := e.deliver("INBOX", raw, 0)
	raw, body = "", ""
	c := e.login()
	c.ok("SELECT INBOX")
	for _, item := range []string{"BINARY.PEEK[2]", "BINARY.SIZE[2]", "BODY.PEEK[2]"} {
		t.Run(item, func(t *testing.T) {
			var status string
			var n int64
			rise, base := heapRise(func() {
				c.n++
				tag := fmt.Sprintf("a%d", c.n)
				c.send(fmt.Sprintf("%s UID FETCH %d (%s)", tag, uid, strings.TrimSpace(strings.Repeat(item+" ", items))))
				status, n = c.discardUntil(tag)
			})
			if !strings.Contains(status, " OK ") {
				t.Fatal(status)
			}
			if item == "BINARY.PEEK[2]" && n < int64(items*decoded) {
				t.Fatalf("%d bytes of response, want %d BINARY[2] of %d bytes", n, items, decoded)
			}
			t.Logf("%d × %s: heap %.1f MiB above %.1f MiB", items, item, float64(rise)/(1<<20), float64(base)/(1<<20))
			if rise > bound {
				t.Errorf("%d × %s took the heap %.1f MiB above its %.1f MiB before, want under %d MiB", items, item, float64(rise)/(1<<20), float64(base)/(1<<20), bound>>20)
			}
		})
	}
}

// TestFetchWholeMessageStreams: BODY[] and RFC822, what sync clients
// fetch every message with, are written from the blob as it is read. Each
// session read the whole message into memory first, so clients that
// send FETCH 1:* BODY[] and never read held a message each: 40 of them
// on 5 MB messages took the service's RSS 116 MiB up, and with 50 MB
// messages (the APPENDLIMIT) it grows by 50 MB a connection.
func TestFetchWholeMessageStreams(t *testing.T) {
	const conns, size = 6, 8 << 20
	const bound = 16 << 20
	e, reg := meteredEnv(t)
	raw := bigMessage(rand.New(rand.NewPCG(3, 4)), size)
	e.deliver("INBOX", string(raw), 0)
	t.Run("clients that never read", func(t *testing.T) {
		checkNonReaders(t, e, reg, conns, "BODY.PEEK[]", len(raw), bound)
	})

	t.Run("served whole and in part", func(t *testing.T) {
		c := e.login()
		c.timeout = 5 * time.Minute
		c.ok("SELECT INBOX")
		for _, tc := range []struct{ item, name, want string }{
			{"BODY.PEEK[]", "BODY[]", string(raw)},
			{"RFC822", "RFC822", string(raw)},
			{"BODY.PEEK[]<1000.70000>", "BODY[]<1000>", string(raw[1000:71000])},
			{"BODY.PEEK[]<8388600.100>", "BODY[]<8388600>", string(raw[8388600:])},
			{fmt.Sprintf("BODY.PEEK[]<%d.10>", size+5), fmt.Sprintf("BODY[]<%d>", size+5), ""},
		} {
			lines := c.ok("FETCH 1 " + tc.item)
			if want := fmt.Sprintf("%s {%d}\r\n%s", tc.name, len(tc.want), tc.want); len(lines) != 1 || !strings.Contains(lines[0], want) {
				t.Errorf("FETCH 1 %s: %.120q, want %.80q", tc.item, lines, want)
			}
		}
	})
}

// meteredEnv is newEnv with the server's metrics in reg.
func meteredEnv(t *testing.T) (*env, *prometheus.Registry) {
	e := newEnv(t)
	e.stop()
	reg := prometheus.NewRegistry()
	e.start(imapserver.Config{Metrics: imapserver.NewMetrics(reg)})
	return e, reg
}

// checkNonReaders signs conns sessions in, has each send FETCH 1 item
// (of a message of size bytes) and never read, and fails if the heap
// rose more than bound until every session was blocked in its write:
// nothing more went out for half a second.
func checkNonReaders(t *testing.T, e *env, reg *prometheus.Registry, conns int, item string, size int, bound uint64) {
	t.Helper()
	var cs []*conn
	for range conns {
		c := e.login()
		c.ok("SELECT INBOX")
		cs = append(cs, c)
	}
	defer func() {
		for _, c := range cs {
			c.c.Close()
		}
	}()
	rise, base := heapRise(func() {
		for i, c := range cs {
			c.send(fmt.Sprintf("f%d FETCH 1 %s", i, item))
		}
		deadline := time.Now().Add(time.Minute)
		for last := -1.0; ; {
			now := metricValue(t, reg, "xtramail_imap_bytes_total", "out")
			if now == last {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the server kept writing for a minute to clients that read nothing")
			}
			last = now
			time.Sleep(500 * time.Millisecond)
		}
	})
	t.Logf("%d sessions blocked writing %s of a %d-byte message: heap %.1f MiB above %.1f MiB", conns, item, size, float64(rise)/(1<<20), float64(base)/(1<<20))
	if rise > bound {
		t.Errorf("%d sessions blocked writing %s of a %d-byte message took the heap %.1f MiB up, want under %d MiB", conns, item, size, float64(rise)/(1<<20), bound>>20)
	}
}
