// Package disktest gives tests a real disk they can fill: a small tmpfs
// of their own, so that a full disk is met the way a server meets it
// (ENOSPC from write, fsync or SQLite), not played by a fake.
package disktest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size (as mount's size= option: "8m") on a new
// directory, unmounted and removed when t ends, and returns it.
//
// Mounting needs root. Run by another user, Mount runs t's test again in a
// user and mount namespace of its own (unshare -rm), where it is root,
// fails t if that run fails, and returns ok false: the caller returns.
func Mount(t *testing.T, size string) (dir string, ok bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Fatal("needs root or util-linux's unshare to mount a small tmpfs")
		}
		out, err := exec.Command(unshare, "--user", "--map-root-user", "--mount", os.Args[0],
			"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v").CombinedOutput()
		t.Logf("in a user namespace:\n%s", out)
		if err != nil {
			t.Fatalf("in a user namespace: %v", err)
		}
		return "", false
	}
	dir, err := os.MkdirTemp("", "disktest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	// Lazily: a server the test started may still hold files open.
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir, true
}

// Fill writes a file in dir until the disk is full, and returns the
// function that frees the space again.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	return func() {
		t.Helper()
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
}

// WithUmask runs f under umask, then puts the old one back. The umask is
// the process's: the test calling it must not be parallel, and no other
// test of its package may create files meanwhile.
func WithUmask(umask int, f func()) {
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	f()
}
