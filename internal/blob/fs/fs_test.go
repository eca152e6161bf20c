package fs

import (
	"testing"

	"github.com/xtramail/xtramail/internal/blob/blobtest"
)

func TestStore(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, s)
}
