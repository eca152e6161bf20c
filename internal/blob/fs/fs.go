// Package fs stores message bodies as one file each under a directory.
//
// Keys are slash-separated relative paths chosen by the store (it groups
// them by hour so a directory never grows without bound and a purge walks
// old directories in order).
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/xtramail/xtramail/internal/blob"
)

// Store is a blob.Store on the local file system.
type Store struct {
	dir string

	mu   sync.Mutex
	made map[string]bool // directories known to exist and be synced
}

// Open returns a Store rooted at dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob dir %s: %w", dir, err)
	}
	return &Store{dir: dir, made: make(map[string]bool)}, nil
}

func (s *Store) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "..") || strings.ContainsRune(key, '\\') {
		return "", fmt.Errorf("blob key %q: invalid", key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put writes data under key and fsyncs the file and its directory.
// Objects are immutable: an existing key is an error.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := s.ensureDir(dir); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create blob %s: %w", key, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("write blob %s: %w", key, err)
	}
	// The new directory entry is only durable once the directory is synced.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync blob dir for %s: %w", key, err)
	}
	return nil
}

// ensureDir creates dir and syncs its parents' entries the first time.
func (s *Store) ensureDir(dir string) error {
	s.mu.Lock()
	ok := s.made[dir]
	s.mu.Unlock()
	if ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("blob dir %s: %w", dir, err)
	}
	for d := dir; d != s.dir && strings.HasPrefix(d, s.dir); d = filepath.Dir(d) {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("sync blob dir %s: %w", d, err)
		}
	}
	s.mu.Lock()
	s.made[dir] = true
	s.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open returns the object's content.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open blob %s: %w", key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return f, nil
}

// Delete removes the object; a missing one is not an error. Emptied
// directories stay: a writer may be about to use them.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}
