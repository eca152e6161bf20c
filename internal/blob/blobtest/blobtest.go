// Package blobtest is the conformance suite every blob.Store passes.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// Run checks the blob.Store contract on a fresh, empty store.
func Run(t *testing.T, s interface {
	Put(ctx context.Context, r io.Reader, size int64) (string, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}) {
	ctx := context.Background()
	read := func(t *testing.T, key string) []byte {
		t.Helper()
		rc, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	data := bytes.Repeat([]byte("Subject: x\r\n\r\nhello\r\n"), 1000)
	put := func(data []byte) (string, error) { return s.Put(ctx, bytes.NewReader(data), int64(len(data))) }

	t.Run("PutOpen", func(t *testing.T) {
		k, err := put(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, k); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want %d", len(got), len(data))
		}
	})
	t.Run("StreamedReader", func(t *testing.T) {
		// A reader that is not a byte slice (a spool file, a network
		// stream) and that hands out a few bytes at a time; the object is
		// larger than any copy buffer.
		big := make([]byte, 5<<20+123)
		for i := range big {
			big[i] = byte(i*7 + i>>13)
		}
		k, err := s.Put(ctx, iotest.HalfReader(bytes.NewReader(big)), int64(len(big)))
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, k); !bytes.Equal(got, big) {
			t.Fatalf("read back %d bytes, want %d identical", len(got), len(big))
		}
	})
	t.Run("ReadsOnlySize", func(t *testing.T) {
		r := strings.NewReader("0123456789tail")
		k, err := s.Put(ctx, r, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, k); string(got) != "0123456789" {
			t.Fatalf("stored %q, want the first 10 bytes", got)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "tail" {
			t.Fatalf("Put read past size: %q left", rest)
		}
	})
	t.Run("ShortReader", func(t *testing.T) {
		if _, err := s.Put(ctx, strings.NewReader("short"), 100); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Put of 5 bytes announced as 100: err %v, want io.ErrUnexpectedEOF", err)
		}
		// The store still works afterwards.
		if _, err := put([]byte("after")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		k, err := put(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, k); len(got) != 0 {
			t.Fatalf("got %d bytes, want 0", len(got))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		keys := make([]string, 32)
		errs := make([]error, 32)
		for i := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				keys[i], errs[i] = put([]byte(fmt.Sprintf("object %d %s", i, bytes.Repeat([]byte{'x'}, i*300))))
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, k := range keys {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if seen[k] {
				t.Fatalf("key %q returned twice", k)
			}
			seen[k] = true
			if got, want := read(t, k), fmt.Sprintf("object %d %s", i, bytes.Repeat([]byte{'x'}, i*300)); string(got) != want {
				t.Fatalf("object %d read back wrong (%d bytes)", i, len(got))
			}
		}
	})
	t.Run("Delete", func(t *testing.T) {
		k, err := put(data)
		if err != nil {
			t.Fatal(err)
		}
		keep, err := put([]byte("neighbour"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		if got := read(t, keep); string(got) != "neighbour" {
			t.Fatalf("neighbour of a deleted object reads %q", got)
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		for _, k := range []string{"", "../x:0:1", "/abs:0:1", "nope"} {
			if rc, err := s.Open(ctx, k); err == nil {
				rc.Close()
				t.Errorf("Open(%q) succeeded", k)
			}
		}
	})
}
