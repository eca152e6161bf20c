package smtpserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// A transcript writes one SMTP session to its connection's log at debug
// level: a record per command line ("client") and per reply line
// ("server"), with the connection's cid. It is go-smtp's Debug writer,
// the one place where a session's plaintext can be seen after STARTTLS
// (below TLS there are only records); Serve gives each connection a
// go-smtp server of its own so that each has its own transcript.
//
// What a client sends in confidence never reaches the log: the lines of
// an AUTH exchange (the initial response and every continuation line,
// RFC 4954 4; AUTH LOGIN sends the password as one) are "[redacted]",
// and a message body (DATA, RFC 5321 4.1.1.4; BDAT chunks, RFC 3030 2)
// is logged as its byte count.
//
// The transcript follows the bytes as go-smtp reads them, below its line
// buffer: a client may send bytes before the reply that decides what they
// are (a body before 354, a password before 334, a command smuggled after
// STARTTLS). Those wait, unlogged, for that reply, and are then read as
// go-smtp reads them: body after 354, SASL lines after 334, discarded
// after a 220 to STARTTLS (go-smtp starts a new reader under TLS), and
// command lines after a refusal.
type transcript struct {
	log *slog.Logger

	mu      sync.Mutex
	mode    int
	line    []byte // the client's line so far (at most maxLogLine bytes kept)
	lineLen int    // its length on the wire
	reply   []byte // the server's line so far
	pending []byte // client bytes waiting for the server's reply (modeWait)
	dropped int64  // pending bytes beyond maxPending, counted only
	after   string // what the awaited reply decides: "DATA", "AUTH" or "STARTTLS"
	auth    bool   // in an AUTH exchange: client lines are redacted
	body    int64  // bytes of the body or chunk so far
	chunk   int64  // bytes of the BDAT chunk still to come
	dot     int    // end-of-data state, as go-smtp's data reader keeps it
	broken  bool   // a write came from neither direction: log nothing more
}

const (
	modeCommand = iota // client bytes are command lines
	modeWait           // client bytes wait for the server's next final reply
	modeData           // a DATA body, up to CRLF.CRLF
	modeChunk          // a BDAT chunk of known size
)

const (
	// maxLogLine is what is logged of one line; the rest is counted.
	maxLogLine = 1024
	// maxPending bounds the client bytes held while a reply is awaited.
	// go-smtp reads through a 4 KiB buffer and answers before it reads
	// more, so a client can get no further ahead than that.
	maxPending = 64 << 10
)

func newTranscript(log *slog.Logger) *transcript { return &transcript{log: log} }

// Write takes what go-smtp read from the client or wrote to it: it gives
// its Debug writer both, through io.TeeReader and io.MultiWriter, and the
// caller tells which (upstream keeps the writer a single stream:
// emersion/go-smtp#144).
func (t *transcript) Write(p []byte) (int, error) {
	server, ok := debugDirection()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken {
		return len(p), nil
	}
	if !ok {
		// Without the direction, nothing can be told apart: a password
		// could be taken for a reply. Stop rather than guess.
		t.broken = true
		t.log.Warn("smtp transcript stopped: go-smtp's debug writer is called from an unknown place")
		return len(p), nil
	}
	if server {
		t.fromServer(p)
	} else {
		t.fromClient(p)
	}
	return len(p), nil
}

// debugDirection reports whether the Write in progress carries bytes
// go-smtp sends (ok) or bytes it received, from the function that called
// Write: io.MultiWriter for the first, io.TeeReader for the second.
func debugDirection() (server, ok bool) {
	var pcs [8]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "io.(*multiWriter).Write":
			return true, true
		case f.Function == "io.(*teeReader).Read":
			return false, true
		case !strings.Contains(f.Function, "internal/smtpserver."):
			return false, false
		}
		if !more {
			return false, false
		}
	}
}

func (t *transcript) fromClient(p []byte) {
	for len(p) > 0 {
		switch t.mode {
		case modeWait:
			n := min(len(p), maxPending-len(t.pending))
			t.pending = append(t.pending, p[:n]...)
			t.dropped += int64(len(p) - n)
			return
		case modeChunk:
			n := int(min(int64(len(p)), t.chunk))
			t.body += int64(n)
			t.chunk -= int64(n)
			p = p[n:]
			if t.chunk == 0 {
				t.client(fmt.Sprintf("[chunk: %d bytes]", t.body))
				t.body, t.mode = 0, modeCommand
			}
		case modeData:
			n, end := t.scanData(p)
			t.body += int64(n)
			p = p[n:]
			if end {
				t.client(fmt.Sprintf("[message: %d bytes]", t.body-3))
				t.client(".")
				t.body, t.mode = 0, modeCommand
			}
		default:
			i := bytes.IndexByte(p, '\n')
			seg := p
			if i >= 0 {
				seg = p[:i+1]
			}
			p = p[len(seg):]
			t.lineLen += len(seg)
			if room := maxLogLine + 2 - len(t.line); room > 0 {
				t.line = append(t.line, seg[:min(room, len(seg))]...)
			}
			if i >= 0 {
				t.clientLine()
			}
		}
	}
}

// clientLine logs a whole command line and moves to the mode it starts.
func (t *transcript) clientLine() {
	line := string(bytes.TrimRight(t.line, "\r\n"))
	cut := t.lineLen > len(t.line)
	t.line, t.lineLen = t.line[:0], 0
	if t.auth {
		// A SASL response (RFC 4954 4), or "*" to cancel.
		t.client("[redacted]")
		t.wait("AUTH")
		return
	}
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "AUTH":
		// go-smtp takes what follows the mechanism as the initial
		// response.
		f := strings.Fields(arg)
		if len(f) > 1 {
			line = verb + " " + f[0] + " [redacted]"
		}
		t.client(line)
		t.auth = true
		t.wait("AUTH")
		return
	case "DATA":
		t.client(line)
		t.wait("DATA")
		return
	case "STARTTLS":
		t.client(line)
		t.wait("STARTTLS")
		return
	case "BDAT":
		// The chunk follows the command at once whenever go-smtp can
		// read its size, the way it parses it.
		t.client(line)
		if n, ok := bdatSize(arg); ok && n > 0 {
			t.mode, t.chunk, t.body = modeChunk, n, 0
		}
		return
	}
	if cut {
		line += fmt.Sprintf(" [... %d bytes]", t.lineLen)
	}
	t.client(line)
}

func bdatSize(arg string) (int64, bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || len(f) == 2 && !strings.EqualFold(f[1], "LAST") {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return int64(n), err == nil
}

func (t *transcript) wait(what string) {
	t.mode, t.after = modeWait, what
}

// fromServer logs reply lines; a final reply ends a wait.
func (t *transcript) fromServer(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(t.reply) < maxLogLine {
				t.reply = append(t.reply, p[:min(len(p), maxLogLine-len(t.reply))]...)
			}
			return
		}
		if len(t.reply) < maxLogLine {
			t.reply = append(t.reply, p[:min(i+1, maxLogLine-len(t.reply))]...)
		}
		p = p[i+1:]
		line := string(bytes.TrimRight(t.reply, "\r\n"))
		t.reply = t.reply[:0]
		t.log.Debug("server", "line", line)
		if len(line) < 3 || len(line) > 3 && line[3] == '-' {
			continue // not a reply's last line
		}
		t.replied(line[:3])
	}
}

// replied moves on after a final reply with this code, then reads what
// the client sent meanwhile as go-smtp now will.
func (t *transcript) replied(code string) {
	if t.auth && code != "334" {
		t.auth = false
	}
	if t.mode != modeWait {
		return
	}
	held, dropped := t.pending, t.dropped
	t.pending, t.dropped = nil, 0
	t.mode = modeCommand
	switch {
	case t.after == "DATA" && code == "354":
		t.mode, t.body, t.dot = modeData, 0, 0
	case t.after == "STARTTLS" && code == "220":
		// go-smtp reads on through TLS with a new buffer: what came
		// before the handshake is never read as a command.
		if n := int64(len(held)) + dropped; n > 0 {
			t.client(fmt.Sprintf("[%d bytes before TLS, ignored]", n))
		}
		return
	}
	if dropped > 0 {
		// More than go-smtp can have read ahead: say so, show none.
		t.client(fmt.Sprintf("[%d bytes before the reply]", int64(len(held))+dropped))
		return
	}
	t.fromClient(held)
}

func (t *transcript) client(line string) { t.log.Debug("client", "line", line) }

// scanData finds the end of a DATA body (a line holding only ".", RFC
// 5321 4.1.1.4) in p, with the state machine of go-smtp's data reader (a
// CR not followed by LF, or a dot-line ended by a bare LF, ends nothing).
// It returns how many bytes of p belong to the body, its end included.
func (t *transcript) scanData(p []byte) (int, bool) {
	const (
		beginLine = iota
		dot
		dotCR
		cr
		data
	)
	for i, c := range p {
		switch t.dot {
		case beginLine:
			switch c {
			case '.':
				t.dot = dot
			case '\r':
				t.dot = cr
			default:
				t.dot = data
			}
		case dot:
			if c == '\r' {
				t.dot = dotCR
			} else {
				t.dot = data
			}
		case dotCR:
			if c == '\n' {
				t.dot = beginLine
				return i + 1, true
			}
			t.dot = data
		case cr:
			if c == '\n' {
				t.dot = beginLine
			} else {
				t.dot = data
			}
		case data:
			if c == '\r' {
				t.dot = cr
			}
		}
	}
	return len(p), false
}
