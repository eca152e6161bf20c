package imapserver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMbsyncTwoWayThenNoChange: mbsync in its default configuration (with
// COMPRESS=DEFLATE, which it asks for itself) and with compression off
// syncs two folders both ways: a flag set on each side, a message deleted
// on each side. A third run finds nothing to do: neither side changes.
func TestMbsyncTwoWayThenNoChange(t *testing.T) {
	bin := lookPath(t, "mbsync", "isync")
	for _, mode := range []struct{ name, extra string }{
		{"default", ""},
		{"no compression", "DisableExtension COMPRESS=DEFLATE\n"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			for i := range 20 {
				e.deliver("INBOX", msg(fmt.Sprintf("m%d", i+1), fmt.Sprintf("body %d", i+1)), 0)
			}
			c := e.login()
			c.timeout = 2 * time.Minute
			c.ok("CREATE Work")
			for i := range 3 {
				e.deliver("Work", msg(fmt.Sprintf("w%d", i+1), "work"), 0)
			}
			home := t.TempDir()
			maildir := filepath.Join(home, "mail")
			os.MkdirAll(maildir, 0o700)
			cfgFile := e.writeMbsyncrc(home, maildir, mode.extra, "SubFolders Verbatim\n", "Patterns *\nCreate Both\nExpunge Both\n")
			out := runClient(t, home, 5*time.Minute, bin, "-D", "-c", cfgFile, "-a")
			if compressed := strings.Contains(out, "COMPRESS DEFLATE"); compressed != (mode.extra == "") {
				t.Errorf("mbsync used COMPRESS: %v", compressed)
			}
			if n := len(maildirFiles(filepath.Join(maildir, "INBOX"))); n != 20 {
				t.Fatalf("first run: %d messages in the local INBOX, want 20", n)
			}
			if n := len(maildirFiles(filepath.Join(maildir, "Work"))); n != 3 {
				t.Fatalf("first run: %d messages in the local Work, want 3", n)
			}

			// Server side: m1 flagged, m2 deleted.
			c.ok("SELECT INBOX")
			c.ok("UID STORE 1 +FLAGS (\\Flagged)")
			c.ok("UID STORE 2 +FLAGS (\\Deleted)")
			c.ok("UID EXPUNGE 2")
			c.ok("UNSELECT")
			// Local side: m3 seen, m4 deleted, w1 flagged answered.
			local := func(subject, folder string) string {
				for _, f := range maildirFiles(filepath.Join(maildir, folder)) {
					b, _ := os.ReadFile(f)
					if strings.Contains(string(b), "Subject: "+subject+"\n") {
						return f
					}
				}
				t.Fatalf("no local file for %s", subject)
				return ""
			}
			setFlags := func(f, flags string) {
				base := filepath.Base(f)
				if i := strings.Index(base, ":2,"); i >= 0 {
					base = base[:i]
				}
				if err := os.Rename(f, filepath.Join(filepath.Dir(filepath.Dir(f)), "cur", base+":2,"+flags)); err != nil {
					t.Fatal(err)
				}
			}
			setFlags(local("m3", "INBOX"), "S")
			os.Remove(local("m4", "INBOX"))
			setFlags(local("w1", "Work"), "FR")
			runClient(t, home, 5*time.Minute, bin, "-c", cfgFile, "-a")

			c.ok("SELECT INBOX")
			has(t, c.ok("UID FETCH 3 (FLAGS)"), `\Seen`)
			if lines := c.ok("UID SEARCH SUBJECT m4"); lines[0] != "* SEARCH" {
				t.Errorf("m4, deleted locally, is still on the server: %q", lines)
			}
			if lines := c.ok("SEARCH ALL"); len(strings.Fields(lines[0])) != 2+18 {
				t.Errorf("server INBOX after the second run: %q, want 18 messages", lines)
			}
			c.ok("SELECT Work")
			has(t, c.ok("UID FETCH 1 (FLAGS)"), `\Flagged`, `\Answered`)
			c.ok("UNSELECT")
			if f := local("m1", "INBOX"); !strings.HasSuffix(f, ":2,F") {
				t.Errorf("m1, flagged on the server, is %s locally", filepath.Base(f))
			}
			for _, f := range maildirFiles(filepath.Join(maildir, "INBOX")) {
				if b, _ := os.ReadFile(f); strings.Contains(string(b), "Subject: m2\n") {
					t.Errorf("m2, deleted on the server, is still local: %s", filepath.Base(f))
				}
			}
			if n := len(maildirFiles(filepath.Join(maildir, "INBOX"))); n != 18 {
				t.Errorf("local INBOX after the second run: %d messages, want 18", n)
			}

			// A third run changes nothing on either side.
			snapshot := func() string {
				var b strings.Builder
				for _, folder := range []string{"INBOX", "Work"} {
					files := maildirFiles(filepath.Join(maildir, folder))
					for i, f := range files {
						files[i] = strings.TrimPrefix(f, maildir)
					}
					slices.Sort(files)
					fmt.Fprintln(&b, files)
					lines := c.ok("STATUS " + folder + " (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
					fmt.Fprintln(&b, lines)
					c.ok("EXAMINE " + folder)
					fmt.Fprintln(&b, c.ok("UID FETCH 1:* (FLAGS)"))
					c.ok("UNSELECT")
				}
				return b.String()
			}
			before := snapshot()
			runClient(t, home, 5*time.Minute, bin, "-c", cfgFile, "-a")
			if after := snapshot(); after != before {
				t.Errorf("the third run changed something:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestMuttReadFlagDeleteSave: mutt with imap_deflate=yes reads a message,
// flags it, deletes one, saves one to a new folder and syncs; the server
// then holds what mutt showed: \Seen and \Flagged on the first, the
// deleted and the saved ones gone from INBOX, the saved one byte for byte
// in the new folder.
func TestMuttReadFlagDeleteSave(t *testing.T) {
	e := newEnv(t)
	var raws []string
	for i := range 10 {
		raws = append(raws, msg(fmt.Sprintf("mutt subject %d", i), fmt.Sprintf("the body of mutt message %d", i)))
		e.deliver("INBOX", raws[i], 0)
	}
	home := t.TempDir()
	s := e.startMutt(t, home, `set sort=mailbox-order
set delete=yes
set quit=yes
set move=no
set confirmcreate=no
set confirmappend=no
`)
	s.waitFor("mutt subject 9")
	find := func(subject string) {
		s.keys("/")
		s.waitFor("Search for:")
		s.keys(subject, "Enter")
	}
	// Read and flag message 3.
	find("subject 3")
	s.keys("Enter")
	s.waitFor("the body of mutt message 3")
	s.keys("q")
	s.waitFor("mutt subject 9")
	s.keys("F")
	// Delete message 5; save message 7 to a new folder.
	find("subject 5")
	s.keys("d")
	find("subject 7")
	s.keys("s")
	s.waitFor("Save to mailbox")
	s.keys("C-u", "=Saved", "Enter")
	// Saved, the message is marked deleted in the index.
	s.waitUntil("mutt did not save message 7", regexp.MustCompile(`(?m)^ +8 [ NO]?D .*mutt subject 7`).MatchString)
	// Sync: the deleted and the saved message are expunged.
	s.keys("$")
	s.waitUntil("mutt did not expunge on '$'", func(screen string) bool {
		return !strings.Contains(screen, "mutt subject 5") && !strings.Contains(screen, "mutt subject 7")
	})
	s.keys("q")
	s.waitFor("mutt exited")

	c := e.login()
	c.ok("SELECT INBOX")
	if lines := c.ok("SEARCH ALL"); len(strings.Fields(lines[0])) != 2+8 {
		t.Errorf("INBOX after mutt: %q, want 8 messages", lines)
	}
	has(t, c.ok(`SEARCH SUBJECT "subject 3" SEEN FLAGGED`), "* SEARCH 4")
	for _, gone := range []string{"subject 5", "subject 7"} {
		if lines := c.ok(`SEARCH SUBJECT "` + gone + `"`); lines[0] != "* SEARCH" {
			t.Errorf("%s still in INBOX: %q", gone, lines)
		}
	}
	c.ok("SELECT Saved")
	got := c.ok("FETCH 1:* BODY.PEEK[]")
	if len(got) != 1 || !strings.Contains(got[0], raws[7]) {
		t.Errorf("Saved holds %q, want message 7 byte for byte", got)
	}
	checkMuttDeflate(t, home)
}

// TestFetchmailKeepThenFlush: fetchmail over TLS with --keep retrieves
// every message and leaves them (marked \Seen); a second --keep run
// retrieves nothing new; a --flush run deletes the old ones and
// retrieves and deletes the new one, leaving INBOX empty.
func TestFetchmailKeepThenFlush(t *testing.T) {
	bin := lookPath(t, "fetchmail", "fetchmail")
	e := newEnv(t)
	var raws []string
	for i := range 5 {
		raws = append(raws, msg(fmt.Sprintf("fetch %d", i), fmt.Sprintf("fetchmail body %d", i)))
		e.deliver("INBOX", raws[i], 0)
	}
	home := t.TempDir()
	spool := filepath.Join(home, "spool")
	rc := fmt.Sprintf(`poll localhost protocol IMAP port %s
  user "%s" password "%s"
  ssl sslcertck sslcertfile "%s"
  mda "/bin/sh -c 'cat >> %s; echo ==END== >> %s'"
`, e.port(), testUser, testPassword, e.writeCert(), spool, spool)
	rcFile := filepath.Join(home, "fetchmailrc")
	os.WriteFile(rcFile, []byte(rc), 0o600)
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-f", rcFile, "--nodetach", "--nosyslog", "-v"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
		out, err := cmd.CombinedOutput()
		// Exit 1: no mail to retrieve (fetchmail(1) EXIT CODES).
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1) {
			t.Fatalf("fetchmail %v: %v\n%s", args, err, out)
		}
	}
	delivered := func() []string {
		b, _ := os.ReadFile(spool)
		parts := strings.Split(string(b), "==END==\n")
		return parts[:len(parts)-1]
	}
	run("--keep")
	got := delivered()
	if len(got) != 5 {
		t.Fatalf("--keep delivered %d messages, want 5", len(got))
	}
	for i, r := range raws {
		if !strings.Contains(got[i], strings.ReplaceAll(r, "\r\n", "\n")) {
			t.Errorf("message %d not delivered byte for byte: %q", i, got[i])
		}
	}
	c := e.login()
	c.ok("SELECT INBOX")
	has(t, c.ok("SEARCH SEEN"), "* SEARCH 1 2 3 4 5")
	c.ok("UNSELECT")
	run("--keep")
	if n := len(delivered()); n != 5 {
		t.Errorf("a second --keep run delivered %d more", n-5)
	}
	e.deliver("INBOX", msg("fetch new", "a new one"), 0)
	run("--flush")
	if got := delivered(); len(got) != 6 || !strings.Contains(got[5], "Subject: fetch new") {
		t.Errorf("--flush delivered %d in all, want the new one as the 6th", len(got))
	}
	c.ok("SELECT INBOX")
	if lines := c.ok("SEARCH ALL"); lines[0] != "* SEARCH" {
		t.Errorf("INBOX after --flush: %q, want empty", lines)
	}
}
