package sqlite

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// TestReadPoolKeepsConnections guards the read pool against closing
// connections that concurrent readers opened: each closed one took its
// prepared statements along, and they were prepared again on the next
// connection (PROFILE-IMAP.md, issue 11 part 6).
func TestReadPoolKeepsConnections(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	a := bob(t, s)
	var bodies []int64
	var mbID int64
	for i := range 20 {
		d := store.NewDelivery([]byte(fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i)), time.Now())
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
		dl, err := s.Deliver(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Message(ctx, a.ID, dl[0].MessageID)
		if err != nil {
			t.Fatal(err)
		}
		bodies, mbID = append(bodies, m.BodyID), dl[0].MailboxID
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := s.MessagesByUID(ctx, a.ID, mbID, nil); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Body(ctx, a.ID, bodies[(g+i)%len(bodies)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.r.Stats()
	if st.MaxIdleClosed != 0 || st.MaxLifetimeClosed != 0 || st.MaxIdleTimeClosed != 0 {
		t.Errorf("read pool closed connections: %+v", st)
	}
}

// TestInfoCache checks the decoded-Info cache: bounded, most recently
// used kept, and never serving an entry for another blob under the same
// body id.
func TestInfoCache(t *testing.T) {
	c := newInfoCache(2, 1<<20)
	a, b, d := &message.Info{Subject: "a"}, &message.Info{Subject: "b"}, &message.Info{Subject: "d"}
	c.put(1, "k1", a, 100)
	c.put(2, "k2", b, 100)
	if c.get(1, "k1") != a {
		t.Fatal("entry 1 missing")
	}
	c.put(3, "k3", d, 100) // evicts 2, the least recently used
	if c.get(2, "k2") != nil {
		t.Error("entry 2 kept past the bound")
	}
	if c.get(1, "k1") != a || c.get(3, "k3") != d {
		t.Error("recent entries evicted")
	}
	if c.get(1, "other") != nil {
		t.Error("entry served for another blob key")
	}
	if c.get(1, "k1") != nil {
		t.Error("mismatched entry not dropped")
	}
	c.drop(3)
	if c.get(3, "k3") != nil {
		t.Error("dropped entry served")
	}

	// Bounded in bytes: a hostile message's Info (megabytes) is not
	// kept, and big ones push out old ones before the count does.
	c = newInfoCache(100, 1<<20)
	c.put(1, "k1", a, 1<<20/16+1)
	if c.get(1, "k1") != nil {
		t.Error("Info over a sixteenth of the bound cached")
	}
	for i := range int64(20) {
		c.put(i, "k", a, 1<<20/16)
	}
	if c.bytes > 1<<20 || c.order.Len() != 16 || c.get(19, "k") != a || c.get(3, "k") != nil {
		t.Errorf("%d bytes in %d entries, bound 1 MiB", c.bytes, c.order.Len())
	}
	c.put(19, "k", b, 10) // replaced: its cost with it
	if c.bytes != 15*(1<<20/16)+10 || c.get(19, "k") != b {
		t.Errorf("after replacing an entry: %d bytes", c.bytes)
	}
}
