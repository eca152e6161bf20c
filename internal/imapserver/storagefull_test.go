package imapserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/disktest"
	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/smtpserver"
)

// A full disk answers APPEND with a temporary NO [UNAVAILABLE], never
// NO [SERVERBUG], and STORE and CREATE never with SERVERBUG either; once
// space is free again APPEND works (issue 11 part 4). The store lives on
// a real 8 MiB tmpfs: mounted directly when the test runs as root,
// otherwise in a user and mount namespace of its own (unshare -rm).
func TestStorageFullIsTemporary(t *testing.T) {
	dir, ok := disktest.Mount(t, "8m")
	if !ok {
		return
	}
	e := newEnvIn(t, dir)
	// The health check's flag, which the service shares with SMTP.
	storage := new(smtpserver.Storage)
	e.stop()
	e.start(imapserver.Config{Storage: storage})
	for i := range 5 {
		e.deliver("INBOX", msg(fmt.Sprint("before ", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")

	free := disktest.Fill(t, dir)

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
	if !storage.Full() {
		t.Error("an APPEND refused for a full disk did not tell the health check")
	}

	free()
	c.send(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s", len(m), m))
	if _, st := c.until("a2"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("APPEND once space is free: %q", st)
	}
	if storage.Full() {
		t.Error("the health check still says the disk is full after an APPEND was stored")
	}
	c.ok("NOOP")
}
