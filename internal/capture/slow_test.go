package capture

import (
	"io"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/smtpserver"
)

// TestDataTrickleCut: a client that sends its body a byte at a time,
// each well within the read timeout, is cut off once it falls behind
// smtpserver.MinBodyRate, and nothing is stored. Each BDAT chunk used to
// push the deadline on: the connection was held as long as the client
// liked. (DATA was bounded by accident: go-smtp's reader fills 32 KiB
// before it returns, so it was cut below about 110 bytes a second.)
func TestDataTrickleCut(t *testing.T) {
	const timeout = time.Second
	e := newEnv(t, Config{Config: smtpserver.Config{ReadTimeout: timeout}})
	cv := envelopeRetried(t, e.addr)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Two bytes a second, each in a chunk of its own: each comes
		// well within the timeout.
		tick := time.NewTicker(timeout / 2)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := cv.c.Write([]byte("BDAT 1\r\nx")); err != nil {
					return
				}
			}
		}
	}()
	cv.c.SetReadDeadline(time.Now().Add(time.Minute))
	io.ReadAll(cv.r)
	// Allowed: the timeout, plus a second per MinBodyRate bytes (a few
	// milliseconds here), plus a loaded machine's slack.
	if held := time.Since(start); held > 10*timeout {
		t.Fatalf("trickling client held the connection %v", held)
	}
	if n := len(e.inbox(t, e.bob)); n != 0 {
		t.Fatalf("partial message stored (%d)", n)
	}
}
