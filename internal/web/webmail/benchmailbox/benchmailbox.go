// Package benchmailbox builds, keeps and hands out the large mailbox that
// the webmail's speed benchmarks measure (issue 14: 100,000 messages in
// INBOX): BenchmarkWebmail opens it in process, BenchmarkFirstPaint
// starts a whole server on a copy of it. Building 100,000 messages takes
// an hour on a loaded machine, so it is built once into a directory under
// os.TempDir() and kept; both benchmarks, in the package's internal and
// external tests, share it through this package. It is imported by tests
// only.
package benchmailbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

const (
	// Address is the account whose INBOX is filled; Password signs it in.
	Address  = "bob@example.test"
	Password = "correct horse battery"
	// Domain is the protected domain of Address.
	Domain = "example.test"
	// BigMessageID is the Message-ID of the 1 MiB message (an HTML part,
	// a text part and a 900 KiB attachment) delivered last.
	BigMessageID = "big@example.org"
)

// corpus names what Fill and the build put in the mailbox: change it when
// they change, so that a kept database built by the old code is not
// measured.
const corpus = "c1"

// Words are the words the subjects and bodies are made of.
var Words = strings.Fields(`continuity outage report invoice quarterly meeting lunch budget
	contract renewal server migration holiday schedule customer feedback release notes security audit
	payroll expenses travel conference agenda minutes project deadline design review hiring offer`)

// Dir returns the data directory (xtramail.db and blobs/, laid out as
// the service's, config.Config.DBPath and BlobDir) of the kept mailbox of
// n messages, building it first when none is kept. The directory is
// named by the schema (sqlite.SchemaVersion), n and the corpus. A build
// goes to a directory of its own and is renamed into place only when
// whole, so that an interrupted build is never reused; kept mailboxes of
// other schemas are removed when a new one is built.
func Dir(tb testing.TB, n int) string {
	tb.Helper()
	root := filepath.Join(os.TempDir(), "xtramail-webmail-bench")
	key := fmt.Sprintf("%s-n%d-%s", sqlite.SchemaVersion(), n, corpus)
	dir := filepath.Join(root, key)
	if err := os.MkdirAll(root, 0o750); err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "complete")); errors.Is(err, fs.ErrNotExist) {
		removeOthers(tb, root, key)
		start := time.Now()
		build(tb, root, dir, n)
		tb.Logf("built the %d-message mailbox in %s, kept in %s", n, time.Since(start).Round(time.Second), dir)
	} else if err != nil {
		tb.Fatal(err)
	} else {
		tb.Logf("reusing the %d-message mailbox kept in %s", n, dir)
	}
	return dir
}

// Open opens the store of a data directory (Dir's, or a copy), closed
// when the test ends.
func Open(tb testing.TB, dir string) *sqlite.Store {
	tb.Helper()
	st := sqlitetest.Open(tb, dir, sqlite.Options{})
	tb.Cleanup(func() { st.Close() }) // its blobs too
	return st
}

// CopyTo copies the kept mailbox dir into the data directory dst (made
// if missing): the database and its blob segments, file by file. A
// server started on dst changes its copy only, so the kept mailbox stays
// as built. Dir's mailbox is closed cleanly after its build (no WAL
// left), but a -wal or -shm file beside the database is copied too.
func CopyTo(tb testing.TB, dir, dst string) {
	tb.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		if rel == "complete" {
			return nil
		}
		return copyFile(path, to)
	})
	if err != nil {
		tb.Fatalf("copy the kept mailbox %s to %s: %v", dir, dst, err)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// build builds the mailbox in a directory of its own and renames it to
// dir when whole.
func build(tb testing.TB, root, dir string, n int) {
	var r [6]byte
	rand.Read(r[:])
	tmp := filepath.Join(root, ".building-"+hex.EncodeToString(r[:]))
	defer os.RemoveAll(tmp)
	st := sqlitetest.Open(tb, tmp, sqlite.Options{})
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, Domain, 0); err != nil {
		tb.Fatal(err)
	}
	bob, err := st.CreateAccount(ctx, Address, "")
	if err != nil {
		tb.Fatal(err)
	}
	// Test parameters: sign-in verifies with the hash's own, so a
	// benchmark's sign-in costs little.
	h, err := auth.HashParams(Password, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.SetPassword(ctx, bob.Address, h); err != nil {
		tb.Fatal(err)
	}
	Fill(tb, st, bob, n)
	big := "From: Alice <alice@example.org>\nSubject: big one\nMessage-ID: <" + BigMessageID + ">\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" +
		"Content-Type: text/html\n\n" + strings.Repeat("<p>A paragraph of <b>text</b> with a <a href=\"https://example.org/\">link</a>.</p>\n", 1200) +
		"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=data.bin\nContent-Transfer-Encoding: base64\n\n" +
		strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n", 12500) + "--b--\n"
	d := store.NewDelivery([]byte(strings.ReplaceAll(big, "\n", "\r\n")), time.Now())
	d.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
	if _, err := st.Deliver(ctx, d); err != nil {
		tb.Fatal(err)
	}
	if tb.Failed() {
		tb.FailNow()
	}
	if err := st.Close(); err != nil { // its blobs too
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o640); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run finished the same build first: use that one.
		if _, serr := os.Stat(filepath.Join(dir, "complete")); serr != nil {
			tb.Fatalf("keep the built mailbox: %v", err)
		}
	}
}

// removeOthers removes kept mailboxes of other schemas or corpora, and
// builds left by runs that died a day ago or more: each holds hundreds
// of megabytes. Other sizes of this schema stay, so that runs at two
// sizes (comparing how a case grows with the mailbox) do not rebuild
// each other's.
func removeOthers(tb testing.TB, root, keep string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		tb.Fatal(err)
	}
	schema := sqlite.SchemaVersion() + "-n"
	for _, e := range entries {
		name := e.Name()
		if name == keep || strings.HasPrefix(name, schema) && strings.HasSuffix(name, "-"+corpus) {
			continue
		}
		if strings.HasPrefix(name, ".building-") {
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < 24*time.Hour {
				continue // perhaps another run building now
			}
		}
		os.RemoveAll(filepath.Join(root, name))
	}
}

// Fill fills acct's INBOX with n messages through the store's own
// methods: n/10 distinct messages delivered (each with its own words in
// the index; every 10th a reply in a ten-message conversation), then
// copied nine times, as a large mailbox holds many similar messages.
func Fill(tb testing.TB, st store.Store, acct store.Account, n int) {
	ctx := context.Background()
	distinct := n / 10
	base := time.Now().Add(-time.Duration(distinct) * time.Second)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < distinct; i += 8 {
				w1, w2, w3 := Words[i%len(Words)], Words[(i/7)%len(Words)], Words[(i/51)%len(Words)]
				refs := ""
				if i%10 != 0 {
					refs = fmt.Sprintf("In-Reply-To: <m%d@example.net>\r\nReferences: <m%d@example.net>\r\n", i-1, i-i%10)
				}
				raw := fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: %s\r\nSubject: %s %s number %d\r\n"+
					"Message-ID: <m%d@example.net>\r\n%s\r\nBody of message %d about the %s and the %s.\r\n",
					i%97, i%97, acct.Address, w1, w2, i, i, refs, i, w3, w1)
				d := store.NewDelivery([]byte(raw), base.Add(time.Duration(i)*time.Second))
				d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: store.Inbox}}
				if _, err := st.Deliver(ctx, d); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	in, err := st.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		tb.Fatal(err)
	}
	uids, err := st.UIDs(ctx, acct.ID, in.ID)
	if err != nil {
		tb.Fatal(err)
	}
	tmp, err := st.CreateMailbox(ctx, acct.ID, "Copies", "")
	if err != nil {
		tb.Fatal(err)
	}
	for range 9 {
		if _, err := st.Copy(ctx, acct.ID, in.ID, uids, tmp.ID); err != nil {
			tb.Fatal(err)
		}
	}
	all, err := st.UIDs(ctx, acct.ID, tmp.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := st.Move(ctx, acct.ID, tmp.ID, all, in.ID); err != nil {
		tb.Fatal(err)
	}
}
