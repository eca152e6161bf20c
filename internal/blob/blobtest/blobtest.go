// Package blobtest is the conformance suite every blob.Store passes.
package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
)

// Run checks the blob.Store contract on a fresh, empty store.
func Run(t *testing.T, s interface {
	Put(ctx context.Context, data []byte) (string, error)
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

	t.Run("PutOpen", func(t *testing.T) {
		k, err := s.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, k); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want %d", len(got), len(data))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		k, err := s.Put(ctx, nil)
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
				keys[i], errs[i] = s.Put(ctx, []byte(fmt.Sprintf("object %d %s", i, bytes.Repeat([]byte{'x'}, i*300))))
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
		k, err := s.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		keep, err := s.Put(ctx, []byte("neighbour"))
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
