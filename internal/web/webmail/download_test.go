package webmail_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestDownloadStreamsNotMemory: a 30 MiB base64 attachment downloaded by
// four browsers at once arrives byte for byte, and the server's heap
// grows by a fraction of one copy of it: the part is decoded as it is
// sent. (It was read and decoded whole for each download: the heap grew
// by more than the file per download.)
func TestDownloadStreamsNotMemory(t *testing.T) {
	srv := startServer(t, time.Second)
	acct := srv.Account(t, bob)
	const size = 30 * mib
	var raw bytes.Buffer
	raw.WriteString("From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: the scans\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=scans.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	var file bytes.Buffer
	sum, err := fileOf(&file, size, 7)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString(file.Bytes())
	file = bytes.Buffer{}
	for len(enc) > 76 {
		raw.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	raw.WriteString(enc + "\r\n--b--\r\n")
	d := store.NewDelivery(raw.Bytes(), time.Now())
	d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: store.Inbox}}
	dl, err := srv.Store.Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	raw, d, enc = bytes.Buffer{}, nil, ""
	runtime.GC()
	cl := signIn(t, srv, bob, bobPw)
	path := srv.Web + "/msg/" + strconv.FormatInt(dl[0].MessageID, 10) + "/part/1"

	const browsers = 4
	w := watchHeap(t)
	var wg sync.WaitGroup
	sums := make([][32]byte, browsers)
	resps := make([]*http.Response, browsers)
	errs := make([]error, browsers)
	for i := range browsers {
		wg.Go(func() {
			resp, err := cl.c.Get(path)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			h := sha256.New()
			_, errs[i] = io.Copy(h, resp.Body)
			sums[i], resps[i] = [32]byte(h.Sum(nil)), resp
		})
	}
	wg.Wait()
	grew, allocated := w.end()
	t.Logf("%d downloads of a %d MiB attachment at once: heap grew by %.1f MiB at most; %.1f MiB allocated meanwhile",
		browsers, size/mib, float64(grew)/mib, float64(allocated)/mib)
	for i := range browsers {
		if errs[i] != nil {
			t.Fatalf("download %d: %v", i, errs[i])
		}
		h := resps[i].Header
		if resps[i].StatusCode != http.StatusOK || sums[i] != sum {
			t.Fatalf("download %d: %s, SHA-256 %x, want %x", i, resps[i].Status, sums[i], sum)
		}
		if h.Get("Content-Type") != "application/octet-stream" || h.Get("Content-Disposition") != `attachment; filename="scans.bin"` ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("download %d headers: %v", i, h)
		}
	}
	if grew > size/4 {
		t.Errorf("the heap grew by %.1f MiB while %d browsers downloaded a %d MiB attachment: it is held in memory",
			float64(grew)/mib, browsers, size/mib)
	}
}
