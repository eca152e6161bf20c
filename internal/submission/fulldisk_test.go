package submission_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/disktest"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestFullDiskDuringData: with the data directory on a disk that fills
// up, a message on the submission port and a copy on the capture port,
// small (held in memory while it arrives) and large (spooled to the full
// disk), each get a clear "452 4.3.1" (RFC 3463: mail system full), not
// 451 with an internal text nor a dropped connection; the sessions go on;
// what was acknowledged before is intact; and once space is freed both
// ports take mail again, without a restart.
func TestFullDiskDuringData(t *testing.T) {
	dir, ok := disktest.Mount(t, "24m")
	if !ok {
		return
	}
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{alice: alicePw, bob: bobPw}, Data: dir})
	sub := dial(t, srv)
	if err := sub.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	capt, err := smtp.Dial(srv.Capture)
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Close()
	small := func(mid string) string { return msg(alice, bob, mid, "") }
	large := func(mid string) string {
		return msg(alice, bob, mid, "") + strings.Repeat(strings.Repeat("y", 76)+"\r\n", 600<<10/78)
	}
	try := func(what string, c *smtp.Client, from, body string) string {
		t.Helper()
		got := send(c, from, []string{bob}, body)
		t.Logf("%s: %s", what, got)
		return got
	}
	// The health check says so whichever listener met the full disk
	// last, and stops at the first message kept by either.
	health := func(want int) {
		t.Helper()
		resp, err := http.Get("http://" + srv.Metrics + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("healthz: %d %q, want %d", resp.StatusCode, body, want)
		}
	}
	var acked []string
	for i, b := range []func(string) string{small, large} {
		mid := fmt.Sprintf("before-%d@x", i)
		if got := try("submission before the disk is full", sub, alice, b(mid)); got != "ok" {
			t.Fatalf("before the disk is full: %s", got)
		}
		acked = append(acked, mid)
		mid = fmt.Sprintf("before-capture-%d@x", i)
		if got := try("capture before the disk is full", capt, "someone@far.test", b(mid)); got != "ok" {
			t.Fatalf("capture before the disk is full: %s", got)
		}
	}

	free := disktest.Fill(t, dir)
	for i, b := range []func(string) string{small, large, small} {
		for _, port := range []struct {
			name string
			c    *smtp.Client
			from string
		}{{"submission", sub, alice}, {"capture", capt, "someone@far.test"}} {
			got := try(fmt.Sprintf("%s on a full disk (%d)", port.name, i), port.c, port.from, b(fmt.Sprintf("full-%s-%d@x", port.name, i)))
			if got != "452 4.3.1" {
				t.Errorf("%s, message %d, on a full disk: %s, want 452 4.3.1", port.name, i, got)
			}
			if err := port.c.Reset(); err != nil {
				t.Fatalf("%s: the session did not go on after the refusal: %v", port.name, err)
			}
			health(http.StatusServiceUnavailable)
		}
	}

	// The same in chunks (BDAT, RFC 3030): the refusal comes at a chunk
	// or at the last, and the session goes on.
	for _, port := range []string{"submission", "capture"} {
		var c *rawConv
		from := alice
		if port == "submission" {
			c = signedIn(t, srv, true)
		} else {
			c = upstream(t, srv)
			from = "someone@far.test"
		}
		body := large("full-bdat-" + port + "@x")
		c.cmd("MAIL FROM:<"+from+">", "250 ")
		c.cmd("RCPT TO:<"+bob+">", "250 ")
		half := len(body) / 2
		c.send(fmt.Sprintf("BDAT %d\r\n%s", half, body[:half]))
		first := c.expect("")
		c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body)-half, body[half:]))
		last := c.expect("")
		t.Logf("%s BDAT on a full disk: %q, then %q", port, first, last)
		if !strings.HasPrefix(first, "452 4.3.1 ") && !strings.HasPrefix(last, "452 4.3.1 ") {
			t.Errorf("%s BDAT on a full disk: %q, then %q; want 452 4.3.1", port, first, last)
		}
		c.cmd("RSET", "250 ")
		c.cmd("NOOP", "250 ")
		c.conn.Close()
	}

	free()
	for i, b := range []func(string) string{small, large} {
		mid := fmt.Sprintf("after-%d@x", i)
		if got := try("submission after space was freed", sub, alice, b(mid)); got != "ok" {
			t.Errorf("submission after space was freed: %s", got)
		} else {
			acked = append(acked, mid)
		}
		health(http.StatusOK)
		if got := try("capture after space was freed", capt, "someone@far.test", b(fmt.Sprintf("after-capture-%d@x", i))); got != "ok" {
			t.Errorf("capture after space was freed: %s", got)
		}
	}
	sentBox := srv.Bodies(t, alice, store.Sent)
	inbox := srv.Bodies(t, bob, store.Inbox)
	for _, mid := range acked {
		if _, ok := sentBox[mid]; !ok {
			t.Errorf("acknowledged %s is not in Sent", mid)
		}
		if _, ok := inbox[mid]; !ok {
			t.Errorf("acknowledged %s is not in the colleague's INBOX", mid)
		}
	}
	for mid := range sentBox {
		if strings.HasPrefix(mid, "full-") {
			t.Errorf("%s was refused and is in Sent", mid)
		}
	}
	// The refusals of the full disk are in the message log once there
	// is space for it: the administrator looks for them then.
	srv.FlushLog(t)
	evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{Address: bob, Status: msglog.Refused, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, e := range evs {
		port := "capture"
		if strings.HasPrefix(e.Detail, "submission") {
			port = "submission"
		}
		ports[port]++
	}
	t.Logf("refusals in the message log: %v", ports)
	if ports["submission"] < 4 || ports["capture"] < 4 {
		t.Errorf("refusals in the message log after space was freed: %v, want the 4 of each port (3 DATA, 1 BDAT)", ports)
	}
}
