package smtpserver

import (
	"net"
	"strings"
	"testing"
)

// TestLineGuardLateBodyEnd: the end of a body that began before the
// current one (a BDAT transfer the client reset, whose Data returns in
// go-smtp's goroutine of its own, maybe after the next transaction's
// Data began) leaves the current body marked: else its chunk bytes would
// be counted as command bytes and a chunk over MaxCommandBytes would end
// the session.
func TestLineGuardLateBodyEnd(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	g := &LineGuard{Conn: server, counting: true}
	_, endOld := g.Body(strings.NewReader("abandoned"))
	_, endNew := g.Body(strings.NewReader("current"))
	endOld()
	g.mu.Lock()
	inData := g.inData
	g.mu.Unlock()
	if !inData {
		t.Fatal("the abandoned body's end unmarked the current body")
	}
	endNew()
	if g.inData {
		t.Fatal("the current body's end left it marked")
	}
}
