// Package blob defines where message bodies live: immutable objects named
// by keys that the blob store chooses. Implementations are append segments
// on local disk (blob/fs) and, later, S3-compatible object storage.
package blob

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned for a key that does not exist.
var ErrNotFound = errors.New("blob not found")

// Store holds message bodies.
//
// Put reads exactly size bytes from r (fewer is an error, io.ErrUnexpectedEOF,
// and nothing more is read) and must not return until the object is on
// stable storage: the caller
// acknowledges the message to a client right after indexing its key.
// Objects are never modified. Delete of a missing object is not an error,
// so that an interrupted purge can simply run again.
type Store interface {
	Put(ctx context.Context, r io.Reader, size int64) (key string, err error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}

// Deferred is implemented by stores that can write an object now and make
// it durable later, so that a caller can overlap the sync with other work
// (the SQLite store runs its index statements meanwhile). The object is
// durable once sync returns nil; sync must be called exactly once.
type Deferred interface {
	PutDeferred(ctx context.Context, r io.Reader, size int64) (key string, sync func() error, err error)
}

// ErrFull is wrapped by errors of a store that has no room left (a full
// disk, ENOSPC). The store backends turn it into store.ErrStorageFull.
var ErrFull = errors.New("blob storage full")
