package webmail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/xtramail/xtramail/internal/blob"
	blobfs "github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// countingBlobs is the real file blob store, counting the bytes put into
// it (what reaches the disk and its fsync).
type countingBlobs struct {
	*blobfs.Store
	written atomic.Int64
}

func (c *countingBlobs) Put(ctx context.Context, r io.Reader, size int64) (string, error) {
	c.written.Add(size)
	return c.Store.Put(ctx, r, size)
}

func (c *countingBlobs) PutDeferred(ctx context.Context, r io.Reader, size int64) (string, func() error, error) {
	c.written.Add(size)
	return c.Store.PutDeferred(ctx, r, size)
}

var _ blob.Deferred = (*countingBlobs)(nil)

// BenchmarkAutosaveBytes measures what one autosave of a draft with a
// 10 MiB file writes (issue 14: autosave writes a full copy of the
// draft's files each time): bytes put into the blob store
// (blob-bytes/save, made durable with fsync) and bytes of the new version
// written to the spool (spool-bytes/save, an unlinked temporary file),
// each against the file's size.
func BenchmarkAutosaveBytes(b *testing.B) {
	dir := b.TempDir()
	fsb, err := blobfs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	blobs := &countingBlobs{Store: fsb}
	st, err := sqlite.Open(filepath.Join(dir, "xtramail.db"), blobs, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test", 0); err != nil {
		b.Fatal(err)
	}
	bob, err := st.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	w := web.New(web.Config{}, web.NewSessions(st, web.SessionsConfig{}), log)
	a := New(Options{Web: w, Store: st, Logger: log, Compose: ComposeOptions{MaxMessageBytes: 64 << 20, SpoolDir: dir}}).(*app)

	const size = 10 << 20
	file := io.LimitReader(rand.NewChaCha8([32]byte{14}), size)
	first, err := a.saveDraft(ctx, bob, draftForm{To: "carol@example.org", Subject: "report", Text: "version 0",
		Uploads: []compose.Attachment{{Filename: "report.bin", ContentType: "application/octet-stream", Body: file, Size: size}}})
	if err != nil {
		b.Fatal(err)
	}
	id := first.ID
	blobs.written.Store(0)
	var spooled int64
	b.ResetTimer()
	for i := range b.N {
		s, err := a.saveDraft(ctx, bob, draftForm{DraftID: id, To: "carol@example.org", Subject: "report", Text: fmt.Sprintf("version %d", i+1)})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Draft.Attachments) != 1 || s.Draft.Attachments[0].Len() < size {
			b.Fatalf("save %d lost the file: %+v", i+1, s.Draft.Attachments)
		}
		id, spooled = s.ID, spooled+s.Size
	}
	b.StopTimer()
	b.ReportMetric(float64(blobs.written.Load())/float64(b.N), "blob-bytes/save")
	b.ReportMetric(float64(spooled)/float64(b.N), "spool-bytes/save")
	b.ReportMetric(float64(size), "file-bytes")
	if ds, err := st.Mailbox(ctx, bob.ID, store.Drafts); err != nil || ds.Messages != 1 {
		b.Fatalf("Drafts holds %d messages (%v), want the one draft", ds.Messages, err)
	}
}
