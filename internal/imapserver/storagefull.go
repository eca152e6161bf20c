package imapserver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storageFullLogEvery bounds how often a full disk is logged: once when
// it starts, then at most once in this interval with the count of
// commands refused meanwhile.
const storageFullLogEvery = 10 * time.Minute

// storageFullLog is the state behind Server.storageFull.
type storageFullLog struct {
	mu      sync.Mutex
	last    time.Time // last log line; zero before the first
	refused int64     // refusals since
	total   atomic.Int64
}

// storageFull records a write refused because the store's disk is full
// (store.ErrStorageFull): it counts it for the metric and logs at error
// level once, then once per storageFullLogEvery while it goes on, so
// that a full disk under many clients does not also fill the log.
func (s *Server) storageFull(err error) {
	s.recordStorage(err)
	s.full.total.Add(1)
	s.full.mu.Lock()
	s.full.refused++
	now := time.Now()
	if !s.full.last.IsZero() && now.Sub(s.full.last) < storageFullLogEvery {
		s.full.mu.Unlock()
		return
	}
	refused := s.full.refused
	s.full.last, s.full.refused = now, 0
	s.full.mu.Unlock()
	s.log.Error("storage full: IMAP writes refused with NO [UNAVAILABLE]", "refused", refused, "err", err)
}

// StorageFullRefusals returns how many IMAP commands were refused because
// the store's disk was full.
func (s *Server) StorageFullRefusals() int64 { return s.full.total.Load() }

// Collector returns the server's Prometheus series:
// xtramail_imap_storage_full_total counts the commands (APPEND, STORE,
// CREATE...) refused because the store's disk was full.
func (s *Server) Collector() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "xtramail_imap_storage_full_total",
		Help: "IMAP commands refused with NO [UNAVAILABLE] because the store's disk was full.",
	}, func() float64 { return float64(s.full.total.Load()) })
}

// recordStorage tells Config.Storage what a write found of the disk: err
// a full disk, or nil for a message stored.
func (s *Server) recordStorage(err error) {
	if s.cfg.Storage != nil {
		s.cfg.Storage.Record(err)
	}
}
