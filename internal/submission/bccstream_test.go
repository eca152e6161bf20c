package submission_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/store"
)

// rssAnon reads this process's resident anonymous memory (heap, stacks;
// not the page cache of mapped files) from /proc/self/status.
func rssAnon(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssAnon in /proc/self/status")
	return 0
}

// lines writes n bytes of 78-character text lines, never held whole.
type lines struct{ left, i int }

func (l *lines) Read(p []byte) (int, error) {
	if l.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n+80 <= len(p) && l.left >= 80 {
		line := fmt.Sprintf("%08d %s\r\n", l.i, strings.Repeat(string(rune('a'+l.i%26)), 69))
		copy(p[n:], line)
		n += 80
		l.left -= 80
		l.i++
	}
	if n == 0 {
		k := min(len(p), l.left)
		copy(p, bytes.Repeat([]byte("x"), k))
		n, l.left = k, l.left-k
	}
	return n, nil
}

// TestBccMessageStreamed: a 40 MiB message with a Bcc field is not read
// into memory: the Sent copy (with Bcc) and what is sent (without) both
// stream from spools. The server runs in the test's process, so its peak
// anonymous memory during the submission is measured there; it must stay
// under the message's size (reading it in took more than twice that).
//
// It runs alone, in a process of its own: after the package's other
// tests the heap the garbage collector lets grow is hundreds of MiB, and
// a CI run saw the process grow by 47 MiB while this test's own part
// was 7.
func TestBccMessageStreamed(t *testing.T) {
	if os.Getenv("XTRAMAIL_BCC_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBccMessageStreamed$", "-test.count=1")
		cmd.Env = append(os.Environ(), "XTRAMAIL_BCC_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("TestBccMessageStreamed in a process of its own: %v\n%s", err, out)
		}
		for l := range strings.Lines(string(out)) {
			if strings.Contains(l, "peak anonymous memory") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	const size = 40 << 20
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	header := msg(alice, outsider, "bigbcc@x", "Bcc: secret@far.test,\r\n hidden@far.test\r\n")
	header = strings.TrimSuffix(header, "Hi there.\r\n")

	// Sample the process's anonymous memory while the message goes in.
	base := rssAnon(t)
	var peak int64
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			v := rssAnon(t)
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	if err := c.Mail(alice, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{outsider, "secret@far.test", "hidden@far.test"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, header)
	if _, err := io.Copy(w, &lines{left: size}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v", err)
	}
	close(stop)
	wg.Wait()
	grew := peak - base
	// Printed, not logged: the parent process shows it.
	fmt.Printf("40 MiB message with Bcc: peak anonymous memory %.1f MiB above the %.1f MiB before (whole test process, client included)\n",
		float64(grew)/(1<<20), float64(base)/(1<<20))
	if grew >= size {
		t.Errorf("anonymous memory grew by %d MiB while a %d MiB message was submitted: it was read into memory", grew>>20, size>>20)
	}

	// The Sent copy keeps Bcc, the queued body has none; sizes differ by
	// exactly the Bcc field.
	ctx := context.Background()
	a, _ := srv.Store.Account(ctx, alice)
	mb, err := srv.Store.Mailbox(ctx, a.ID, store.Sent)
	if err != nil || mb.Messages != 1 {
		t.Fatalf("Sent: %+v %v", mb, err)
	}
	es := queued(t, srv, alice)
	if len(es) != 3 {
		t.Fatalf("queued %d, want 3", len(es))
	}
	bcc := int64(len("Bcc: secret@far.test,\r\n hidden@far.test\r\n"))
	want := int64(len(header)) + size
	if mb.Size != want || es[0].Size != want-bcc {
		t.Errorf("sizes: Sent %d (want %d), queued %d (want %d)", mb.Size, want, es[0].Size, want-bcc)
	}
	head := func(bodyID int64) string {
		rc, err := srv.Store.OpenBody(ctx, a.ID, bodyID)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b := make([]byte, 600)
		n, _ := io.ReadFull(rc, b)
		h, _, _ := strings.Cut(string(b[:n]), "\r\n\r\n")
		return h
	}
	if h := head(es[0].BodyID); strings.Contains(strings.ToLower(h), "\nbcc:") || strings.Contains(h, "secret@") {
		t.Errorf("queued header shows the Bcc:\n%s", h)
	}
	msgs, err := srv.Store.Messages(ctx, a.ID, mb.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Sent messages: %v %v", msgs, err)
	}
	if h := head(msgs[0].BodyID); !strings.Contains(h, "Bcc: secret@far.test,\r\n hidden@far.test") {
		t.Errorf("Sent copy lost its Bcc:\n%s", h)
	}
}
