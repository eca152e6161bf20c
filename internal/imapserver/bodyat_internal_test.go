package imapserver

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

// TestBodyAtWithoutReaderAt: a blob store whose bodies read only from
// their start (no io.ReaderAt, as an object store's stream may be) is
// read at any offset all the same, going on from the last read forward
// and opening the body again to go back, so that a FETCH of parts works
// on it, and a read past the end says io.EOF as io.ReaderAt must.
func TestBodyAtWithoutReaderAt(t *testing.T) {
	raw := make([]byte, 200_000)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	opens := 0
	b := &bodyAt{ctx: t.Context(), size: int64(len(raw)), open: func(context.Context) (io.ReadCloser, error) {
		opens++
		return io.NopCloser(struct{ io.Reader }{bytes.NewReader(raw)}), nil
	}}
	defer b.Close()
	for i, r := range []struct{ off, n int64 }{{0, 10}, {10, 1000}, {50_000, 4096}, {60_000, 1}, {5, 5}, {199_990, 10}, {150_000, 64 << 10}, {0, 0}} {
		p := make([]byte, r.n)
		k, err := b.ReadAt(p, r.off)
		want := raw[min(r.off, int64(len(raw))):min(r.off+r.n, int64(len(raw)))]
		if !bytes.Equal(p[:k], want) {
			t.Fatalf("read %d: %d bytes at %d: got %d bytes, not the body's", i, r.n, r.off, k)
		}
		if wantEOF := int64(len(want)) < r.n; wantEOF != (err == io.EOF) || !wantEOF && err != nil {
			t.Fatalf("read %d: %d bytes at %d: error %v", i, r.n, r.off, err)
		}
	}
	// Forward reads share one open; each read behind the last one
	// ({5, 5}, {150000, ...} and {0, 0}) opens again.
	if opens != 4 {
		t.Errorf("%d opens, want 4", opens)
	}
}
