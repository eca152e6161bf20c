// Package blobtest is the conformance suite every blob.Store passes.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/xtramail/xtramail/internal/blob"
)

// Run checks the blob.Store contract on a fresh, empty store.
func Run(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("Subject: x\r\n\r\nhello\r\n"), 1000)

	t.Run("PutOpen", func(t *testing.T) {
		if err := s.Put(ctx, "2026/01/01/a", data); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, "2026/01/01/a")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, err %v; want %d bytes", len(got), err, len(data))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if err := s.Put(ctx, "empty", nil); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, "empty")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if len(got) != 0 {
			t.Fatalf("got %d bytes, want 0", len(got))
		}
	})
	t.Run("Immutable", func(t *testing.T) {
		if err := s.Put(ctx, "imm", []byte("one")); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "imm", []byte("two")); err == nil {
			t.Fatal("second Put of the same key succeeded")
		}
	})
	t.Run("Missing", func(t *testing.T) {
		if _, err := s.Open(ctx, "nope"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open missing: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "nope"); err != nil {
			t.Fatalf("Delete missing: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if err := s.Put(ctx, "del/x", data); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "del/x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "del/x"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open after Delete: %v", err)
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		for _, k := range []string{"", "../x", "/abs", `a\b`} {
			if err := s.Put(ctx, k, data); err == nil {
				t.Errorf("Put(%q) succeeded", k)
			}
		}
	})
}
