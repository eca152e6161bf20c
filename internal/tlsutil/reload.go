package tlsutil

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// reloadInterval bounds how often the files are stat'ed: handshakes are
// frequent, rotations rare, and a minute's delay is fine for an operator.
const reloadInterval = time.Minute

// FromFiles returns a server config serving the PEM certificate chain and
// key in certFile and keyFile, and picking up new files without a
// restart: at most once a minute, a handshake checks whether either file
// changed (modification time, size, or identity, so an atomic rename or a
// certbot symlink switch counts) and loads the pair again.
//
// It fails if the files cannot be loaded now. A later reload that fails
// (say the certificate was replaced but not yet the key) keeps serving the
// previous pair and tries again at the next check.
func FromFiles(certFile, keyFile string) (*tls.Config, error) {
	r, err := newReloader(certFile, keyFile, time.Now)
	if err != nil {
		return nil, err
	}
	return &tls.Config{GetCertificate: r.getCertificate, MinVersion: tls.VersionTLS12}, nil
}

// reloader holds the current pair and what the files looked like when it
// was loaded.
type reloader struct {
	certFile, keyFile string
	now               func() time.Time

	mu                sync.Mutex
	cert              *tls.Certificate
	certInfo, keyInfo os.FileInfo
	checked           time.Time
}

func newReloader(certFile, keyFile string, now func() time.Time) (*reloader, error) {
	r := &reloader{certFile: certFile, keyFile: keyFile, now: now}
	if err := r.load(); err != nil {
		return nil, err
	}
	r.checked = now()
	return r, nil
}

// load reads both files and, if they form a pair, makes it current. Files
// are stat'ed before reading, so a change during the read is seen as a
// change at the next check rather than missed.
func (r *reloader) load() error {
	certInfo, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	keyInfo, err := os.Stat(r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate key: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.certInfo, r.keyInfo = &cert, certInfo, keyInfo
	return nil
}

func (r *reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= reloadInterval {
		r.checked = now
		if r.changed() {
			_ = r.load() // On failure keep the old pair; see FromFiles.
		}
	}
	return r.cert, nil
}

func (r *reloader) changed() bool {
	return fileChanged(r.certFile, r.certInfo) || fileChanged(r.keyFile, r.keyInfo)
}

func fileChanged(path string, old os.FileInfo) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false // Mid-rotation or gone: keep what we have.
	}
	return !os.SameFile(fi, old) || !fi.ModTime().Equal(old.ModTime()) || fi.Size() != old.Size()
}
