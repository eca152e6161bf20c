package service

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/disktest"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// TestDataDirPrivate: a service started under the usual umask 022 on a
// new data directory, with a message captured (a body in the blob
// store, the spool used), leaves nothing in the directory that other
// users can read, and its secrets (the database and its -wal and -shm,
// the password seal key, the TLS key) not even the group. Before, the
// database and its WAL were 0644: any local user could copy it and read
// TOTP secrets, DKIM keys and password hashes (probe 38c).
//
// The umask is the process's: this test is not parallel, and no other
// test of the package runs meanwhile.
func TestDataDirPrivate(t *testing.T) {
	for _, umask := range []int{0o022, 0} {
		cfg := quietConfig(t)
		cfg.Data = filepath.Join(t.TempDir(), "data")
		cfg.Capture.Listen = "127.0.0.1:0"
		cfg.Capture.Allow = []string{"127.0.0.1/32"}
		var svc *Service
		disktest.WithUmask(umask, func() {
			svc = startService(t, cfg)
			ctx := context.Background()
			if _, err := svc.Store.CreateDomain(ctx, "example.test", 0); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Store.CreateAccount(ctx, "bob@example.test", ""); err != nil {
				t.Fatal(err)
			}
			if err := captureCopy(svc, "someone@outside.test", "bob@example.test", bigMessage("someone@outside.test", "perm", 100<<10)); err != nil {
				t.Fatal(err)
			}
		})
		files := checkPrivate(t, cfg.Data)
		for _, want := range []string{"xtramail.db", "xtramail.db-wal", "xtramail.db-shm", sealKeyFile,
			tlsutil.SelfSignedKeyFile, tlsutil.SelfSignedCertFile, "spool", "blobs"} {
			if !files[want] {
				t.Errorf("umask %04o: no %s in the data directory, nothing checked of it", umask, want)
			}
		}
		if !files["blob"] {
			t.Errorf("umask %04o: no message body in the data directory, nothing checked of it", umask)
		}
	}
}

// TestDataDirMadePrivate: a data directory made 0775 before the service
// first ran (by hand, or an older version's) is 0750 once the service has
// opened it, and the log says so; the CLI's OpenStore does the same.
func TestDataDirMadePrivate(t *testing.T) {
	for _, open := range []struct {
		name string
		f    func(t *testing.T, dir string, log *slog.Logger)
	}{
		{"service", func(t *testing.T, dir string, log *slog.Logger) {
			cfg := quietConfig(t)
			cfg.Data = dir
			svc, err := New(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := svc.Shutdown(ctx); err != nil {
				t.Logf("shutdown: %v", err)
			}
		}},
		{"cli", func(t *testing.T, dir string, log *slog.Logger) {
			cfg := quietConfig(t)
			cfg.Data = dir
			st, err := OpenStore(&cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
		}},
	} {
		t.Run(open.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o775); err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			open.f(t, dir, slog.New(slog.NewTextHandler(logs, nil)))
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o750 {
				t.Errorf("data directory %04o, want 0750", got)
			}
			if !strings.Contains(logs.String(), "path="+dir+" was=0775 now=0750") {
				t.Errorf("the log does not say the data directory's mode changed:\n%s", logs)
			}
			checkPrivate(t, dir)
		})
	}
}

// checkPrivate fails the test for each file or directory under dir (dir
// too) that others may read, write or search, and for each secret that
// the group may. It returns the names seen, "blob" for any file under
// blobs.
func checkPrivate(t *testing.T, dir string) map[string]bool {
	t.Helper()
	secret := map[string]bool{"xtramail.db": true, "xtramail.db-wal": true, "xtramail.db-shm": true, "xtramail.db-journal": true,
		sealKeyFile: true, tlsutil.SelfSignedKeyFile: true}
	seen := make(map[string]bool)
	blobs := filepath.Join(dir, "blobs")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		seen[d.Name()] = true
		if !d.IsDir() && strings.HasPrefix(p, blobs+string(filepath.Separator)) {
			seen["blob"] = true
		}
		mode := fi.Mode().Perm()
		if mode&0o007 != 0 {
			t.Errorf("%s is %04o: open to other users", p, mode)
		}
		if secret[d.Name()] && mode&0o077 != 0 {
			t.Errorf("%s is %04o: a secret open to the group", p, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}
