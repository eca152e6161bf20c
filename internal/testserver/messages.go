package testserver

import (
	"context"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// Account returns an address's account, failing the test if there is
// none.
func (s *Server) Account(t testing.TB, address string) store.Account {
	t.Helper()
	a, err := s.Store.Account(context.Background(), address)
	if err != nil {
		t.Fatalf("testserver: account %s: %v", address, err)
	}
	return a
}

// Messages returns the live messages of an address's mailbox, read
// through the store as that address.
func (s *Server) Messages(t testing.TB, address, mailbox string) []store.Message {
	t.Helper()
	_, msgs := s.messages(t, address, mailbox)
	return msgs
}

// messages is Messages with the account it read them as.
func (s *Server) messages(t testing.TB, address, mailbox string) (store.Account, []store.Message) {
	t.Helper()
	ctx := context.Background()
	a := s.Account(t, address)
	mb, err := s.Store.Mailbox(ctx, a.ID, mailbox)
	if err != nil {
		t.Fatalf("testserver: mailbox %s of %s: %v", mailbox, address, err)
	}
	msgs, err := s.Store.Messages(ctx, a.ID, mb.ID)
	if err != nil {
		t.Fatalf("testserver: messages of %s %s: %v", address, mailbox, err)
	}
	return a, msgs
}
