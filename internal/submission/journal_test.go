package submission_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xtramail/xtramail/internal/message"
)

// TestLongLinesJournaledBackOneSentCopy (issue 13 part 5 with long
// lines): a message with a 5,000-octet line, submitted with Python's
// smtplib, is relayed re-encoded (its body is not the Sent copy's); the
// relay's copy, journaled back to the capture listener by swaks as the
// upstream does, is known as the Sent copy's duplicate: Sent holds one
// copy over IMAP, and so does the protected colleague's INBOX, which got
// the converted copy at submission.
func TestLongLinesJournaledBackOneSentCopy(t *testing.T) {
	sk := startSink(t, "8BITMIME", "PIPELINING")
	srv := start(t, sk.relayTo)
	orig := longLineMessage(alice, outsider, "journal@x")
	dir := t.TempDir()
	submitFile(t, srv, dir, orig, outsider, bob)
	waitFor(t, "the relay to take the message", func() bool { return sk.count(outsider) == 1 })
	relayed := sk.transactions()[0].data
	if message.HasLongLine(relayed) {
		t.Fatal("the relayed copy has a long line: nothing was converted, the test proves nothing")
	}
	journal := filepath.Join(dir, "journal.eml")
	if err := os.WriteFile(journal, relayed, 0o644); err != nil {
		t.Fatal(err)
	}
	// The upstream journals what it relayed: for the outside recipient
	// (the sender's Sent copy) and for the colleague (their INBOX).
	out, err := exec.Command("swaks", "--server", srv.Capture, "--from", alice, "--to", outsider+","+bob,
		"--helo", "filter.example.net", "--data", "@"+journal).CombinedOutput()
	if err != nil {
		t.Fatalf("swaks to capture: %v\n%s", err, out)
	}
	if n := imapCount(t, srv, alice, alicePw, "Sent", "subject end"); n != 1 {
		t.Errorf("Sent holds %d copies over IMAP, want 1", n)
	}
	if n := imapCount(t, srv, bob, bobPw, "INBOX", "subject end"); n != 1 {
		t.Errorf("the colleague's INBOX holds %d copies over IMAP, want 1", n)
	}
}
