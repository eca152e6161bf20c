// Package blob defines where message bodies live: a flat namespace of
// immutable objects named by keys the store chooses. Implementations are
// files on local disk (blob/fs) and, later, S3-compatible object storage.
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
// Put must not return until the object is on stable storage: the caller
// acknowledges the message to a client right after indexing it. Objects
// are never modified after Put; Delete of a missing key is not an error,
// so that an interrupted purge can simply run again.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}
