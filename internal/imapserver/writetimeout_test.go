package imapserver_test

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// TestWriteTimeoutPerWrite: WriteTimeout bounds each write, not a whole
// response. A client that takes a long FETCH steadily, if slower than
// the timeout allows for all of it, gets all of it; one that never reads
// is cut within the timeout of the write that blocks. With one deadline
// per command, the steady client was cut after WriteTimeout (5 minutes
// in the service: a phone fetching a 2 GB mailbox at 5 MB/s).
func TestWriteTimeoutPerWrite(t *testing.T) {
	e := newEnv(t)
	e.stop()
	reg := prometheus.NewRegistry()
	e.start(imapserver.Config{WriteTimeout: 3 * time.Second, Metrics: imapserver.NewMetrics(reg)})
	rng := rand.New(rand.NewPCG(1, 2))
	const n, size = 3, 2 << 20
	for range n {
		e.deliver("INBOX", string(bigMessage(rng, size)), 0)
	}
	t.Run("never reads", func(t *testing.T) {
		c := e.login()
		c.ok("SELECT INBOX")
		c.send("f1 FETCH 1:* BODY.PEEK[]")
		deadline := time.Now().Add(time.Minute)
		for metricValue(t, reg, "xtramail_imap_sessions", "") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("a client that reads nothing still connected after a minute (WriteTimeout 3 s)")
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.c.SetReadDeadline(time.Now().Add(time.Minute))
		b, _ := io.ReadAll(c.c)
		if strings.Contains(string(b), "\r\nf1 OK") {
			t.Error("the whole response was sent to a client that read nothing")
		}
	})

	t.Run("reads slowly and steadily", func(t *testing.T) {
		// A write blocked on a full socket is woken only once a third of
		// the send buffer has drained (Linux's sk_stream_write_space),
		// and on loopback the buffer grows to 4 MiB (tcp_wmem): at this
		// client's 0.5 MB/s one write may wait nearly 3 s, more under a
		// loaded CI. 8 s leaves a margin, and the response still takes
		// half as long again as the timeout: one deadline for the whole
		// command would cut it.
		e.stop()
		e.start(imapserver.Config{WriteTimeout: 8 * time.Second})
		c := e.login()
		c.ok("SELECT INBOX")
		c.send("f2 FETCH 1:* BODY.PEEK[]")
		// About 0.5 MB/s: the 6 MB response takes some 12 s (16 KiB
		// every 30 ms).
		start := time.Now()
		var got strings.Builder
		buf := make([]byte, 16<<10)
		c.c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		for !strings.HasSuffix(got.String(), "\r\nf2 OK FETCH completed\r\n") {
			k, err := c.r.Read(buf)
			if err != nil {
				t.Fatalf("after %d bytes in %v: %v", got.Len(), time.Since(start).Round(time.Millisecond), err)
			}
			got.Write(buf[:k])
			time.Sleep(time.Duration(k) * 30 * time.Millisecond / (16 << 10))
		}
		if got.Len() < n*size {
			t.Fatalf("%d bytes, want %d messages of %d", got.Len(), n, size)
		}
		t.Logf("%d bytes in %v", got.Len(), time.Since(start).Round(time.Millisecond))
		c.ok("NOOP")
	})
}

// metricValue reads the gauge or counter name from reg, the series whose
// first label has the value label ("" for a series without labels); -1
// when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if ls := m.GetLabel(); label == "" && len(ls) == 0 || len(ls) > 0 && ls[0].GetValue() == label {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}
