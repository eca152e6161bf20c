package webmail_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// startLargeServer is a server whose attachment limit takes a 40 MiB
// file: submission's message limit of 64 MiB, less base64's third.
func startLargeServer(t *testing.T) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			c.Webmail.UndoSend = config.Duration{Duration: 10 * time.Second}
			c.Submission.MaxMessageBytes = 64 << 20
		},
	})
}

// fileOf writes n pseudo-random bytes (incompressible, from seed) to w in
// 64 KiB pieces, never holding more, and returns their SHA-256.
func fileOf(w io.Writer, n int64, seed uint64) ([32]byte, error) {
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := min(int64(len(buf)), n)
		rng.Read(buf[:k])
		h.Write(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return [32]byte{}, err
		}
		n -= k
	}
	return [32]byte(h.Sum(nil)), nil
}

// postStream posts the compose form to path as htmx does, with a file of
// size bytes streamed from a pipe (the client never holds it whole):
// the answer, and the file's SHA-256.
func (cl *client) postStream(path string, fields map[string]string, name string, size int64, seed uint64) (*http.Response, string, [32]byte) {
	cl.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sum := make(chan [32]byte, 1)
	go func() {
		var s [32]byte
		err := func() error {
			for k, v := range fields {
				if err := mw.WriteField(k, v); err != nil {
					return err
				}
			}
			fw, err := mw.CreateFormFile("files", name)
			if err != nil {
				return err
			}
			if s, err = fileOf(fw, size, seed); err != nil {
				return err
			}
			return mw.Close()
		}()
		sum <- s
		pw.CloseWithError(err)
	}()
	resp, body := cl.do("POST", path, mw.FormDataContentType(), pr, map[string]string{"X-CSRF-Token": cl.csrf, "HX-Request": "true"})
	pr.Close()
	return resp, body, <-sum
}

// heapWatch samples the heap while work runs, with the collector made
// eager (GOGC=10) so that garbage not yet collected does not hide or
// fake growth: what grows is what is held.
type heapWatch struct {
	base, peak uint64
	allocBase  uint64
	stop       chan struct{}
	done       sync.WaitGroup
	mu         sync.Mutex
}

func watchHeap(t *testing.T) *heapWatch {
	t.Helper()
	old := debug.SetGCPercent(10)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatch{base: ms.HeapAlloc, peak: ms.HeapAlloc, allocBase: ms.TotalAlloc, stop: make(chan struct{})}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			w.mu.Lock()
			w.peak = max(w.peak, ms.HeapAlloc)
			w.mu.Unlock()
		}
	}()
	return w
}

// end stops sampling and returns the peak growth of the heap over its
// start and the bytes allocated meanwhile.
func (w *heapWatch) end() (grew, allocated uint64) {
	close(w.stop)
	w.done.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.peak = max(w.peak, ms.HeapAlloc)
	return w.peak - min(w.base, w.peak), ms.TotalAlloc - w.allocBase
}

const mib = 1 << 20

// imapDraftFiles reads addr's Drafts over IMAP: how many messages it
// holds, the first one's text part, and the SHA-256 of its first
// attachment (BODY[2], base64-decoded).
func imapDraftFiles(t *testing.T, srv *testserver.Server, addr, pw string) (n uint32, text string, sum [32]byte) {
	t.Helper()
	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(addr, pw).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(store.Drafts, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return 0, "", sum
	}
	text1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	file := &imap.FetchItemBodySection{Part: []int{2}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{text1, file}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("fetched %d messages", len(msgs))
	}
	raw := msgs[0].FindBodySection(file)
	dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("attachment is not base64: %v", err)
	}
	return sel.NumMessages, string(msgs[0].FindBodySection(text1)), sha256.Sum256(dec)
}

// TestUploadStreamsToStoreNotMemory: a 40 MiB file posted to the compose
// form goes to the blob store through spool files. The process's heap
// grows by a fraction of the file while it is uploaded and saved (it
// grew by more than the file when uploads were read whole), and the
// draft read back over IMAP carries the file byte for byte.
func TestUploadStreamsToStoreNotMemory(t *testing.T) {
	srv := startLargeServer(t)
	cl := signIn(t, srv, bob, bobPw)
	const size = 40 * mib
	w := watchHeap(t)
	resp, body, sum := cl.postStream("/compose/save", map[string]string{"to": "carol@example.org", "subject": "big"}, "big.bin", size, 1)
	grew, allocated := w.end()
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "big.bin") {
		t.Fatalf("upload: %s\n%s", resp.Status, body)
	}
	t.Logf("40 MiB upload: heap grew by %.1f MiB at most; %.1f MiB allocated meanwhile", float64(grew)/mib, float64(allocated)/mib)
	if grew > size/4 {
		t.Errorf("the heap grew by %.1f MiB during a %d MiB upload: the file is held in memory", float64(grew)/mib, size/mib)
	}
	n, _, got := imapDraftFiles(t, srv, bob, bobPw)
	if n != 1 || got != sum {
		t.Fatalf("Drafts over IMAP: %d messages, attachment SHA-256 %x, want 1 and %x", n, got, sum)
	}
}

// TestAutosaveKeepsAttachmentWithoutRebuilding: a draft with a 10 MiB
// file autosaved 20 times (the text only, as the page sends it) is one
// draft in Drafts over IMAP, with the last text and the file byte for
// byte; the saves copy the file from the previous version without
// holding or decoding it, so the heap stays far below the file's size
// and each save allocates less than half the file (buffers of the spool
// and the blob store; a rebuild in memory allocates several copies of
// it per save).
func TestAutosaveKeepsAttachmentWithoutRebuilding(t *testing.T) {
	srv := startLargeServer(t)
	cl := signIn(t, srv, bob, bobPw)
	const size = 10 * mib
	fields := map[string]string{"to": "carol@example.org", "subject": "report", "text": "version 0"}
	resp, body, sum := cl.postStream("/compose/save", fields, "report.bin", size, 2)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "report.bin") {
		t.Fatalf("upload: %s\n%s", resp.Status, body)
	}
	id := draftID(t, body)
	w := watchHeap(t)
	const saves = 20
	for i := 1; i <= saves; i++ {
		fields := map[string]string{"draft": strconv.FormatInt(id, 10), "to": "carol@example.org", "subject": "report",
			"text": fmt.Sprintf("version %d", i)}
		resp, body := cl.post("/compose/save", fields, nil, true, true)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "report.bin") {
			t.Fatalf("autosave %d: %s\n%s", i, resp.Status, body)
		}
		id = draftID(t, body)
	}
	grew, allocated := w.end()
	t.Logf("%d autosaves of a draft with a 10 MiB file: heap grew by %.1f MiB at most; %.1f MiB allocated in all", saves, float64(grew)/mib, float64(allocated)/mib)
	if grew > size/2 {
		t.Errorf("the heap grew by %.1f MiB: the file is held in memory", float64(grew)/mib)
	}
	if allocated > saves*size/2 {
		t.Errorf("%.1f MiB allocated over %d saves: the file is rebuilt in memory on each", float64(allocated)/mib, saves)
	}
	n, text, got := imapDraftFiles(t, srv, bob, bobPw)
	if n != 1 {
		t.Fatalf("%d drafts in Drafts over IMAP, want 1", n)
	}
	if !strings.Contains(text, fmt.Sprintf("version %d", saves)) {
		t.Errorf("the draft's text is %q, want the last autosave's", text)
	}
	if got != sum {
		t.Fatalf("attachment SHA-256 %x over IMAP, want %x", got, sum)
	}
}

// imapPartSum fetches part of the first message of addr's mailbox over
// IMAP (BODY.PEEK[part]), base64-decodes it and returns its SHA-256, and
// the mailbox's message count.
func imapPartSum(t *testing.T, srv *testserver.Server, addr, pw, mailbox string, part []int) (uint32, [32]byte) {
	t.Helper()
	c := imapLogin(t, srv, addr, pw)
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return 0, [32]byte{}
	}
	sec := &imap.FetchItemBodySection{Part: part, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH BODY[%v] of %s: %v %v", part, mailbox, len(msgs), err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, base64.NewDecoder(base64.StdEncoding, bytes.NewReader(msgs[0].FindBodySection(sec)))); err != nil {
		t.Fatalf("BODY[%v] is not base64: %v", part, err)
	}
	return sel.NumMessages, [32]byte(h.Sum(nil))
}

// TestForwardAndSendStreamNotMemory: a message with a 40 MiB file is sent
// from the webmail (the outbox hands the draft to submission), then its
// recipient forwards it inline and as an attachment. Neither the send
// nor a forward's first save holds the message in memory: the send
// spools the draft (it read it whole before), a forward reads only the
// original's text by range and copies its file, or the whole message,
// as a stream (it read the original whole, and decoded its files,
// before). Each file arrives byte for byte, read back over IMAP.
func TestForwardAndSendStreamNotMemory(t *testing.T) {
	// Room for the whole message (the file base64-encoded) attached to
	// a forward. The send's hold ends when the test moves the clock.
	const hold = time.Second
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := testserver.Start(t, testserver.Options{
		Clock: clk,
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			c.Webmail.UndoSend = config.Duration{Duration: hold}
			c.Submission.MaxMessageBytes = 100 << 20
		},
	})
	b := signIn(t, srv, bob, bobPw)
	const size = 40 * mib
	resp, body, sum := b.postStream("/compose/save", map[string]string{"to": eve, "subject": "big report", "text": "The report."}, "report.bin", size, 3)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "report.bin") {
		t.Fatalf("upload: %s\n%s", resp.Status, body)
	}
	id := strconv.FormatInt(draftID(t, body), 10)

	w := watchHeap(t)
	end := clk.Now().Add(hold)
	resp, _ = b.post("/compose/send", map[string]string{"draft": id, "to": eve, "subject": "big report", "text": "The report."}, nil, true, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %s", resp.Status)
	}
	waitFor(t, "the outbox to wait for the hold's end", func() bool { return slices.ContainsFunc(clk.Waiting(), end.Equal) })
	clk.Set(end.Add(-time.Millisecond))
	if n := len(srv.Messages(t, eve, store.Inbox)); n != 0 {
		t.Fatalf("eve got %d messages 1 ms before the hold ended", n)
	}
	clk.Set(end)
	waitFor(t, "the message in eve's INBOX", func() bool { return len(srv.Messages(t, eve, store.Inbox)) == 1 })
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })
	grew, allocated := w.end()
	t.Logf("send of a 40 MiB file: heap grew by %.1f MiB at most; %.1f MiB allocated meanwhile", float64(grew)/mib, float64(allocated)/mib)
	if grew > size/4 {
		t.Errorf("the heap grew by %.1f MiB while a %d MiB file was sent: the draft is held in memory", float64(grew)/mib, size/mib)
	}
	if n, got := imapPartSum(t, srv, eve, evePw, store.Inbox, []int{2}); n != 1 || got != sum {
		t.Fatalf("eve's INBOX over IMAP: %d messages, file SHA-256 %x, want 1 and %x", n, got, sum)
	}

	e := signIn(t, srv, eve, evePw)
	orig := strconv.FormatInt(srv.Messages(t, eve, store.Inbox)[0].ID, 10)
	for _, tc := range []struct {
		source string
		part   []int // where the file is in the forward
	}{
		{"forward:" + orig, []int{2}},       // the original's file, attached again
		{"forwardatt:" + orig, []int{2, 2}}, // inside the attached message
	} {
		w := watchHeap(t)
		resp, body := e.post("/compose/save", map[string]string{"source": tc.source, "to": "carol@example.org", "text": "FYI"}, nil, true, true)
		grew, allocated := w.end()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s\n%s", tc.source, resp.Status, body)
		}
		t.Logf("%s of a message with a 40 MiB file, first save: heap grew by %.1f MiB at most; %.1f MiB allocated meanwhile",
			tc.source, float64(grew)/mib, float64(allocated)/mib)
		if grew > size/4 {
			t.Errorf("%s: the heap grew by %.1f MiB on the first save: the original is held in memory", tc.source, float64(grew)/mib)
		}
		if n, got := imapPartSum(t, srv, eve, evePw, store.Drafts, tc.part); n != 1 || got != sum {
			t.Errorf("%s: eve's Drafts over IMAP: %d messages, BODY[%v] SHA-256 %x, want 1 and %x", tc.source, n, tc.part, got, sum)
		}
		// Remove the draft before the next.
		acct := srv.Account(t, eve)
		drafts, err := srv.Store.Mailbox(context.Background(), acct.ID, store.Drafts)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Store.Expunge(context.Background(), acct.ID, drafts.ID, []int64{draftID(t, body)}); err != nil {
			t.Fatal(err)
		}
	}
}
