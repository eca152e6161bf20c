package console

import (
	"testing"
	"time"
)

// TestUntilWords: how long till a retired DKIM key's record may go, as
// the domain page says it; whole days and hours, rounded.
func TestUntilWords(t *testing.T) {
	now := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   time.Duration
		want string
	}{
		{7 * 24 * time.Hour, "in 7 days"},
		{7*24*time.Hour - time.Minute, "in 7 days"},
		{36 * time.Hour, "in 2 days"},
		{36*time.Hour - time.Minute, "in 36 hours"},
		{2 * time.Hour, "in 2 hours"},
		{2*time.Hour - time.Minute, "within 2 hours"},
		{time.Minute, "within 2 hours"},
	} {
		if got := untilWords(now, now.Add(c.in)); got != c.want {
			t.Errorf("%s ahead: %q, want %q", c.in, got, c.want)
		}
	}
}
