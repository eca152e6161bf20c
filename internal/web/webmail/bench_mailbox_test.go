package webmail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	blobfs "github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// benchCorpus names what benchInbox and benchMailbox put in the
// mailbox: change it when they change, so that a kept database built by
// the old code is not measured.
const benchCorpus = "c1"

// benchMailbox returns a store whose bob has n messages in INBOX
// (benchInbox) and the 1 MiB message, and that message. Building 100,000
// messages takes minutes on a shared machine, so the database and its
// blobs are built once into a directory under os.TempDir() named by the
// schema (sqlite.SchemaVersion), n and benchCorpus, and later runs open
// it where it is. A build goes to a directory of its own and is renamed
// into place only when whole, so that an interrupted build is never
// reused; kept databases of other schemas are removed.
func benchMailbox(b *testing.B, n int) (store.Store, store.Account, store.Message) {
	b.Helper()
	root := filepath.Join(os.TempDir(), "xtramail-webmail-bench")
	key := fmt.Sprintf("%s-n%d-%s", sqlite.SchemaVersion(), n, benchCorpus)
	dir := filepath.Join(root, key)
	if err := os.MkdirAll(root, 0o750); err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "complete")); errors.Is(err, fs.ErrNotExist) {
		removeOtherBenchMailboxes(b, root, key)
		start := time.Now()
		buildBenchMailbox(b, root, dir, n)
		b.Logf("built the %d-message mailbox in %s, kept in %s", n, time.Since(start).Round(time.Second), dir)
	} else if err != nil {
		b.Fatal(err)
	} else {
		b.Logf("reusing the %d-message mailbox kept in %s", n, dir)
	}
	st := openBenchStore(b, dir)
	ctx := context.Background()
	bob, err := st.Account(ctx, "bob@example.test")
	if err != nil {
		b.Fatal(err)
	}
	big, err := st.MessagesByMessageID(ctx, bob.ID, []string{"big@example.org"})
	if err != nil || len(big) != 1 {
		b.Fatalf("the 1 MiB message of the kept mailbox: %v %v", big, err)
	}
	return st, bob, big[0]
}

func openBenchStore(b *testing.B, dir string) *sqlite.Store {
	blobs, err := blobfs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "xtramail.db"), blobs, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Close()
		blobs.Close()
	})
	return st
}

// buildBenchMailbox builds the mailbox in a directory of its own and
// renames it to dir when whole.
func buildBenchMailbox(b *testing.B, root, dir string, n int) {
	var r [6]byte
	rand.Read(r[:])
	tmp := filepath.Join(root, ".building-"+hex.EncodeToString(r[:]))
	defer os.RemoveAll(tmp)
	blobs, err := blobfs.Open(filepath.Join(tmp, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(tmp, "xtramail.db"), blobs, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test", 0); err != nil {
		b.Fatal(err)
	}
	bob, err := st.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		b.Fatal(err)
	}
	h, err := auth.HashParams(testPassword, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.SetPassword(ctx, bob.Address, h); err != nil {
		b.Fatal(err)
	}
	benchInbox(b, st, bob, n)
	// A 1 MiB message: an HTML part, a text part and a 900 KiB
	// attachment.
	big := "From: Alice <alice@example.org>\nSubject: big one\nMessage-ID: <big@example.org>\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" +
		"Content-Type: text/html\n\n" + strings.Repeat("<p>A paragraph of <b>text</b> with a <a href=\"https://example.org/\">link</a>.</p>\n", 1200) +
		"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=data.bin\nContent-Transfer-Encoding: base64\n\n" +
		strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n", 12500) + "--b--\n"
	put(b, st, bob, store.Inbox, big, time.Now(), 0)
	if b.Failed() {
		b.FailNow()
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := blobs.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o640); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run finished the same build first: use that one.
		if _, serr := os.Stat(filepath.Join(dir, "complete")); serr != nil {
			b.Fatalf("keep the built mailbox: %v", err)
		}
	}
}

// removeOtherBenchMailboxes removes kept mailboxes of other schemas or
// sizes, and builds left by runs that died a day ago or more: each holds
// hundreds of megabytes.
func removeOtherBenchMailboxes(b *testing.B, root, keep string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if strings.HasPrefix(e.Name(), ".building-") {
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < 24*time.Hour {
				continue // perhaps another run building now
			}
		}
		os.RemoveAll(filepath.Join(root, e.Name()))
	}
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's load average over the last minute.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	if err != nil {
		return -1
	}
	return f
}
