package smtpserver_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/smtpserver"
)

// TestBodyReaderCountsAndEndsAStall: a body that stops arriving ends in a
// deadline error, kept by ReadErr, with what came before it counted; a
// body that ends normally leaves ReadErr nil.
func TestBodyReaderCountsAndEndsAStall(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go client.Write([]byte("0123456789")) // then nothing: a stalled client
	in := smtpserver.NewBodyReader(server, server, 100*time.Millisecond)
	n, err := io.Copy(io.Discard, in)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(in.ReadErr(), os.ErrDeadlineExceeded) {
		t.Fatalf("stalled body: copy error %v, ReadErr %v; want the deadline", err, in.ReadErr())
	}
	if n != 10 || in.Size() != 10 {
		t.Fatalf("copied %d, Size %d; want 10", n, in.Size())
	}

	c2, s2 := net.Pipe()
	defer s2.Close()
	go func() {
		c2.Write([]byte("whole body"))
		c2.Close()
	}()
	in = smtpserver.NewBodyReader(s2, s2, time.Minute)
	if b, err := io.ReadAll(in); err != nil || string(b) != "whole body" || in.ReadErr() != nil || in.Size() != 10 {
		t.Fatalf("read %q, %v, ReadErr %v, Size %d", b, err, in.ReadErr(), in.Size())
	}
}
