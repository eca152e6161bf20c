package webmail

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

// testStore opens a real SQLite store in a temporary directory with two
// accounts, bob and eve.
func testStore(t testing.TB) (st store.Store, bob, eve store.Account) {
	t.Helper()
	s := sqlitetest.New(t)
	ctx := context.Background()
	var err error
	if _, err := s.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	if bob, err = s.CreateAccount(ctx, "bob@example.test", ""); err != nil {
		t.Fatal(err)
	}
	if eve, err = s.CreateAccount(ctx, "eve@example.test", ""); err != nil {
		t.Fatal(err)
	}
	return s, bob, eve
}

// put delivers raw (LF line ends allowed) to a mailbox of an account and
// returns the stored message.
func put(t testing.TB, st store.Store, acct store.Account, mailbox string, raw string, received time.Time, flags store.Flags) store.Message {
	t.Helper()
	d := store.NewDelivery(crlf(raw), received)
	d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: mailbox, Flags: flags}}
	dl, err := st.Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Message(context.Background(), acct.ID, dl[0].MessageID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func getenv(k string) string { return os.Getenv(k) }
