package smtpserver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// TestErrorMapsEveryKind: each store and auth error kind, wrapped as the
// front ends wrap them, gets its SMTP answer; unknown errors are
// temporary, so that nothing is refused for good by a local fault.
func TestErrorMapsEveryKind(t *testing.T) {
	own := &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "too big"}
	for _, c := range []struct {
		err  error
		want string
	}{
		{store.ErrStorageFull, "452 4.3.1"},
		{store.ErrNotFound, "550 5.1.1"},
		{store.ErrDisabled, "550 5.2.1"},
		{store.ErrInvalid, "501 5.5.2"},
		{auth.ErrInvalidCredentials, "535 5.7.8"},
		{auth.ErrUnknownUser, "535 5.7.8"},
		{&auth.ThrottledError{RetryAfter: time.Minute}, "454 4.7.0"},
		{context.DeadlineExceeded, "451 4.3.0"},
		{errors.New("disk on fire"), "451 4.3.0"},
		{own, "552 5.3.4"},
	} {
		wrapped := fmt.Errorf("store copy for x@y.test: %w", c.err)
		got := Error(wrapped)
		if got == nil || ReplyText(got) != c.want {
			t.Errorf("Error(%v) = %v, want %s", wrapped, got, c.want)
		}
		if Temporary(got) != (c.want[0] == '4') {
			t.Errorf("Temporary(%v) = %v", got, Temporary(got))
		}
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
