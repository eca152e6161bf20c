package sqlite

import (
	"context"
	"errors"
	"fmt"
)

// startFillDown starts a background fill of data the store keeps per
// body but did not keep for bodies stored before some version: it walks
// the bodies down from the mark stored in meta under key, newest first
// (recent mail is read most). step fills the bodies at or below a mark,
// lowers the stored mark, and returns the next one (0 when none is
// left). A fill that fails stops and goes on from its mark at the next
// start.
func (s *Store) startFillDown(key, what string, step func(ctx context.Context, below int64) (int64, error)) error {
	var below int64
	if err := s.w.QueryRow("SELECT value FROM meta WHERE key = ?", key).Scan(&below); err != nil {
		return fmt.Errorf("read %s state: %w", what, err)
	}
	if below > 0 {
		s.bg.Add(1)
		go s.fillDown(below, what, step)
	}
	return nil
}

func (s *Store) fillDown(below int64, what string, step func(ctx context.Context, below int64) (int64, error)) {
	defer s.bg.Done()
	ctx := context.Background()
	for below > 0 {
		select {
		case <-s.closing:
			return
		default:
		}
		next, err := step(ctx, below)
		if err != nil {
			if !errors.Is(err, errClosed) {
				s.log.Warn("store "+what+" of stored messages; retried at next start", "err", err)
			}
			return
		}
		below = next
	}
}
