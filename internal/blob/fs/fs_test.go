package fs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/blob"
	"github.com/xtramail/xtramail/internal/blob/blobtest"
)

func TestStore(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	blobtest.Run(t, s)
}

// openAt opens a store in dir whose clock reads *now, closed when the
// test ends: the test moves the hour by changing it.
func openAt(t *testing.T, dir string, at time.Time) (*Store, *time.Time) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := &at
	s.now = func() time.Time { return *now }
	return s, now
}

// TestSegments checks hourly rotation, alignment, and that a segment is
// removed with its last object.
func TestSegments(t *testing.T) {
	dir := t.TempDir()
	s, now := openAt(t, dir, time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC))
	ctx := context.Background()
	k1, _ := s.Put(ctx, strings.NewReader("one"), 3)
	k2, _ := s.Put(ctx, strings.NewReader("two"), 3)
	if !strings.HasPrefix(k1, "2026/11/25/10-") || !strings.HasSuffix(k2, ":4096:3") {
		t.Fatalf("keys %q %q", k1, k2)
	}
	*now = now.Add(time.Hour)
	k3, err := s.Put(ctx, strings.NewReader("three"), 5)
	if err != nil || !strings.HasPrefix(k3, "2026/11/25/11-") {
		t.Fatalf("after an hour: %q %v", k3, err)
	}
	seg1 := filepath.Join(dir, strings.Split(k1, ":")[0])
	for _, k := range []string{k1, k2} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(seg1); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("emptied segment still there: %v", err)
	}
	if _, err := s.Open(ctx, k1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open in a removed segment: %v", err)
	}
	if err := s.Delete(ctx, k1); err != nil {
		t.Fatalf("Delete in a removed segment: %v", err)
	}
	// The current segment stays even when emptied: it is being written.
	if err := s.Delete(ctx, k3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, strings.NewReader("four"), 4); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPut(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 10240)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(context.Background(), bytes.NewReader(data), int64(len(data))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// TestParseKey: a key names a segment under the store's directory, an
// aligned offset and a length; anything else is refused, not opened.
func TestParseKey(t *testing.T) {
	s := &Store{dir: "/data/blobs"}
	for key, want := range map[string]string{
		"2026/12/07/01-ab.seg:4096:10": "/data/blobs/2026/12/07/01-ab.seg",
		"seg:0:0":                      "/data/blobs/seg",
		"seg:0":                        "",
		"seg:0:5:6":                    "",
		":0:5":                         "",
		"../etc/passwd:0:5":            "",
		"a/../../x:0:5":                "",
		"/etc/passwd:0:5":              "",
		`a\b:0:5`:                      "",
		"seg:1:5":                      "",
		"seg:-4096:5":                  "",
		"seg:0:-1":                     "",
		"seg:x:5":                      "",
		"seg:0:5x":                     "",
		"":                             "",
	} {
		p, _, _, err := s.parseKey(key)
		if (err == nil) != (want != "") || p != want {
			t.Errorf("parseKey(%q) = %q, %v; want %q", key, p, err, want)
		}
	}
}
