package sqlite

import (
	"context"
	"testing"
)

// OldKeysForTest puts s back to a database stored before threadsSchema
// (oldKeys), for the external tests of this package.
func OldKeysForTest(tb testing.TB, s *Store) { oldKeys(tb, s) }

// FillThreadsStepForTest runs one chunk of the background refill.
func (s *Store) FillThreadsStepForTest(ctx context.Context) (n int, more bool, err error) {
	return s.fillThreadsStep(ctx)
}
