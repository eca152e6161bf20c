package storetest

import (
	"context"
	"io"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// Inbox returns the raw messages of acc's INBOX in UID order, for tests
// of the packages above the store that read what a delivery left there.
func Inbox(t testing.TB, st store.Store, acc store.Account) [][]byte {
	t.Helper()
	ctx := context.Background()
	mb, err := st.Mailbox(ctx, acc.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, acc.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		rc, err := st.OpenBody(ctx, acc.ID, m.BodyID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
