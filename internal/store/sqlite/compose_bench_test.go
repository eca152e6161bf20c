package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkContacts measures address completion (store.Compose.Contacts)
// for an account with 5,000 contacts, as the compose page asks on each
// key typed: an address prefix, a name word every contact has, and nothing.
func BenchmarkContacts(b *testing.B) {
	s := benchStore(b)
	a := bob(b, s)
	ctx := context.Background()
	// 50 sent messages of 100 recipients each.
	for m := range 50 {
		var to []string
		for r := range 100 {
			n := m*100 + r
			to = append(to, fmt.Sprintf("Person %d <p%05d@host%d.example>", n, n, n%37))
		}
		raw := "From: bob@example.test\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: s\r\n\r\nx\r\n"
		d := store.NewDelivery([]byte(raw), time.Now())
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
		if _, err := s.Deliver(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []string{"p0421", "person", "zz"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Contacts(ctx, a.ID, q, 8); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
