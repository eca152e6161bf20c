package submission_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestHourlyLimitCountedInStore: the messages-per-hour limit is counted
// in the store (issue 13 part 3), so 8 connections of one user racing past
// it over real SMTP get exactly the limit accepted, the others a 450 4.7.1
// saying when to retry, and a restart of the service does not reset it.
func TestHourlyLimitCountedInStore(t *testing.T) {
	const limit = 5
	data := t.TempDir()
	opts := testserver.Options{
		Users:     map[string]string{alice: alicePw, bob: bobPw},
		Configure: func(c *config.Config) { c.Submission.MaxPerHour = limit },
		Data:      data,
	}
	srv := testserver.Start(t, opts)
	authed := func(srv *testserver.Server, user, pw string) *smtp.Client {
		c := dial(t, srv)
		if err := c.Auth(sasl.NewPlainClient("", user, pw)); err != nil {
			t.Fatalf("AUTH %s: %v", user, err)
		}
		return c
	}
	// sendErr runs one transaction, returning the refusal if any.
	sendErr := func(c *smtp.Client, from, mid string) error {
		if err := c.Mail(from, nil); err != nil {
			return err
		}
		if err := c.Rcpt(outsider, nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		fmt.Fprint(w, msg(from, outsider, mid, ""))
		return w.Close()
	}
	checkRefusal := func(err error) {
		t.Helper()
		se, ok := err.(*smtp.SMTPError)
		if !ok || code(err) != "450 4.7.1" || !strings.Contains(se.Message, "try again after") || !strings.Contains(se.Message, fmt.Sprint(limit)) {
			t.Errorf("over the limit: %v, want 450 4.7.1 saying the limit and when to retry", err)
		}
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := range 8 {
		c := authed(srv, alice, alicePw)
		wg.Go(func() {
			for j := range 2 {
				err := sendErr(c, alice, fmt.Sprintf("race-%d-%d@x", i, j))
				mu.Lock()
				if err == nil {
					accepted++
				} else {
					refused++
					checkRefusal(err)
					c.Reset()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if accepted != limit || refused != 16-limit {
		t.Fatalf("16 messages over 8 racing connections: %d accepted, %d refused; want %d and %d", accepted, refused, limit, 16-limit)
	}
	if n := len(srv.Bodies(t, alice, store.Sent)); n != limit {
		t.Errorf("Sent holds %d messages, want %d", n, limit)
	}
	if n := len(queued(t, srv, alice)); n != limit {
		t.Errorf("%d queue entries, want %d", n, limit)
	}

	// A restart on the same data keeps the count.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv = testserver.Start(t, opts)
	c := authed(srv, alice, alicePw)
	err := sendErr(c, alice, "after-restart@x")
	checkRefusal(err)
	if _, ok := srv.Bodies(t, alice, store.Sent)["after-restart@x"]; ok {
		t.Errorf("a message over the limit was stored after the restart")
	}
	// Another user has their own allowance.
	if err := sendErr(authed(srv, bob, bobPw), bob, "bob-after@x"); err != nil {
		t.Errorf("bob's message after the restart: %v", err)
	}
}
