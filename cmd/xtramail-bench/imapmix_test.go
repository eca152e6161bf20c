package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestTreeCPUCountsChildren guards the server CPU figure of the Dovecot
// comparison: a child that burned CPU and was waited for counts in its
// parent's tree, as does a live one.
func TestTreeCPUCountsChildren(t *testing.T) {
	before, err := treeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A child that spins for a few hundred ms of CPU, then is reaped.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	after, err := treeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 0.05 {
		t.Fatalf("a reaped child's CPU is not counted: %v -> %v", before, after)
	}
	if _, err := treeCPU(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}

// TestWithMessageIDReplacesTheHeader guards the mix's APPENDs: each must
// be a new message (one Message-ID, the new one; a folded old one gone),
// or xtramail's duplicate check answers with a stored message's UID.
func TestWithMessageIDReplacesTheHeader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"From: a\r\nMessage-ID: <old@x>\r\nSubject: s\r\n\r\nbody\r\nMessage-ID: <in-body>\r\n",
			"Message-ID: <new@y>\r\nFrom: a\r\nSubject: s\r\n\r\nbody\r\nMessage-ID: <in-body>\r\n"},
		{"message-id:\r\n <old@x>\r\nSubject: s\r\n\r\nb", "Message-ID: <new@y>\r\nSubject: s\r\n\r\nb"},
		{"Subject: s\r\n\r\nb", "Message-ID: <new@y>\r\nSubject: s\r\n\r\nb"},
		{"Subject: no body\r\n", "Message-ID: <new@y>\r\nSubject: no body\r\n"},
	} {
		if got := string(withMessageID([]byte(tc.in), "new@y")); got != tc.want {
			t.Errorf("withMessageID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
