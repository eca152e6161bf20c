package smtpserver

import (
	"errors"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/xtramail/xtramail/internal/store"
)

// Storage says whether the disk behind the listeners is full, from the
// outcome of their last attempt to keep a message. The service gives its
// listeners one (Config.Storage), so that the health check tells of a
// full disk whichever listener met it, and stops telling of it at the
// first message kept again, whichever listener kept it.
type Storage struct{ full atomic.Bool }

// Record notes the outcome of an attempt to keep a message: a full disk
// (StorageFull) sets the state, success (nil) clears it, and any other
// error says nothing of the disk.
func (s *Storage) Record(err error) {
	switch {
	case err == nil:
		s.full.Store(false)
	case StorageFull(err):
		s.full.Store(true)
	}
}

// Full reports whether the last attempt that says anything of the disk
// found it full.
func (s *Storage) Full() bool { return s.full.Load() }

// StorageFull reports whether err is the disk (or the quota of the
// data directory) being full: from the store, or from a spool file.
func StorageFull(err error) bool {
	return errors.Is(err, store.ErrStorageFull) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}
