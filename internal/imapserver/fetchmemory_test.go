package imapserver_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
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
	fn()
	close(stop)
	wg.Wait()
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
