package imapserver_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A full disk answers APPEND with a temporary NO [UNAVAILABLE], never
// NO [SERVERBUG], and STORE and CREATE never with SERVERBUG either; once
// space is free again APPEND works (issue 11 part 4). The store lives on
// a real 8 MiB tmpfs: mounted directly when the test runs as root,
// otherwise in a user and mount namespace of its own (unshare -rm).
func TestStorageFullIsTemporary(t *testing.T) {
	if os.Geteuid() != 0 {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Fatal("needs root or util-linux's unshare to mount a small tmpfs")
		}
		out, err := exec.Command(unshare, "--user", "--map-root-user", "--mount", os.Args[0],
			"-test.run=^TestStorageFullIsTemporary$", "-test.count=1").CombinedOutput()
		if err != nil {
			t.Fatalf("in a user namespace: %v\n%s", err, out)
		}
		return
	}
	dir, err := os.MkdirTemp("", "imap-full")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	e := newEnvIn(t, dir)
	for i := range 5 {
		e.deliver("INBOX", msg(fmt.Sprint("before ", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")

	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	m := msg("while full", strings.Repeat("y", 300<<10))
	c.send(fmt.Sprintf("a1 APPEND INBOX {%d+}\r\n%s", len(m), m))
	_, st := c.until("a1")
	if !strings.HasPrefix(st, "NO [UNAVAILABLE]") {
		t.Fatalf("APPEND on a full disk: %q, want NO [UNAVAILABLE]", st)
	}
	for _, cmd := range []string{`STORE 1:* +FLAGS (\Seen $Keyword)`, "CREATE Newbox" + strings.Repeat("x", 200)} {
		_, st := c.cmd(cmd)
		if !strings.HasPrefix(st, "OK") && !strings.HasPrefix(st, "NO [UNAVAILABLE]") {
			t.Errorf("%s on a full disk: %q, want OK or NO [UNAVAILABLE]", cmd, st)
		}
	}
	if e.srv.StorageFullRefusals() == 0 {
		t.Error("the storage-full metric did not count the refusals")
	}

	os.Remove(filler)
	c.send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s", len(m), m))
	if _, st := c.until("a2"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("APPEND once space is free: %q", st)
	}
	c.ok("NOOP")
}
