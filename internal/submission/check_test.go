package submission_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
)

// TestSubmitChecksSizeAndSaysWhy: Submit itself refuses a message over
// the size limit, whichever front end brings it (the webmail's come by
// no SMTP listener), keeping nothing; Check refuses what Submit would
// for the recipients and size alone, before anything is held; Refusal
// words each for the sender, and a disabled address is not called a
// spoofed sender.
func TestSubmitChecksSizeAndSaysWhy(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	a, err := srv.Store.Account(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 4096
	sub := submission.NewSubmitter(srv.Store, submission.Limits{MaxMessageBytes: limit, MaxRecipients: 3}, nil, nil)
	for _, size := range []int{limit - 1, limit, limit + 1, 10 * limit} {
		body := sized(msg(alice, outsider, fmt.Sprintf("size-%d@x", size), ""), size)
		_, err := sub.Submit(ctx, submission.Message{Account: a, MailFrom: alice, Rcpts: []string{outsider}, Body: body})
		switch {
		case size <= limit && err != nil:
			t.Errorf("%d bytes, limit %d: %v", size, limit, err)
		case size > limit && !errors.Is(err, submission.ErrTooBig):
			t.Errorf("%d bytes, limit %d: err %v, want ErrTooBig", size, limit, err)
		}
	}
	sent := srv.Bodies(t, alice, store.Sent)
	if len(sent) != 2 || len(sent[fmt.Sprintf("size-%d@x", limit)]) != limit {
		t.Errorf("Sent copies %d, want the 2 within the limit, the largest %d bytes", len(sent), limit)
	}
	if q := queued(t, srv, alice); len(q) != 2 {
		t.Errorf("%d queue entries, want 2", len(q))
	}

	disabled := a
	disabled.Enabled = false
	many := []string{"a@far.test", "b@far.test", "c@far.test", "d@far.test"}
	for _, c := range []struct {
		name  string
		acct  store.Account
		rcpts []string
		size  int64
		want  error
		says  string
	}{
		{"fits", a, []string{outsider}, limit, nil, ""},
		{"too big", a, []string{outsider}, limit + 1, submission.ErrTooBig, "too big to send"},
		{"too many", a, many, 100, submission.ErrTooManyRecipients, "too many recipients (at most 3)"},
		{"none", a, nil, 100, submission.ErrBadRecipient, "no recipient"},
		{"invalid", a, []string{"not an address"}, 100, submission.ErrBadRecipient, "not valid"},
		{"disabled", disabled, []string{outsider}, 100, submission.ErrDisabled, "your address was disabled"},
	} {
		err := sub.Check(ctx, c.acct, c.rcpts, c.size)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: Check = %v, want %v", c.name, err, c.want)
			continue
		}
		says, ok := sub.Refusal(err)
		if ok != (c.want != nil) || !strings.Contains(says, c.says) {
			t.Errorf("%s: Refusal = %q, %v; want it to say %q", c.name, says, ok, c.says)
		}
	}
	if _, ok := sub.Refusal(fmt.Errorf("disk: %w", store.ErrStorageFull)); ok {
		t.Error("a storage failure was taken for the sender's doing")
	}
}

// sized is head followed by lines of x, size bytes in all.
func sized(head string, size int) []byte {
	line := strings.Repeat("x", 76) + "\r\n"
	fill := size - len(head)
	k, r := fill/len(line), fill%len(line)
	tail := strings.Repeat("x", max(r-2, 0)) + "\r\n"
	if r == 1 { // one line a byte shorter, and an empty one
		k--
		tail = line[1:] + "\r\n"
	}
	return []byte(head + strings.Repeat(line, k) + tail)
}
