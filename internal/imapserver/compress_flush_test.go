package imapserver_test

import (
	"bufio"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// zlibDeflater is a real zlib compressor (Python's zlib module, the
// library mbsync and mutt link) run as a helper process: raw DEFLATE
// (RFC 4978 section 4), one stream for the whole connection, each chunk
// ended with the flush the caller asks for.
type zlibDeflater struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

const zlibHelper = `
import base64, json, sys, zlib
c = zlib.compressobj(6, zlib.DEFLATED, -15)
modes = {"none": zlib.Z_NO_FLUSH, "sync": zlib.Z_SYNC_FLUSH, "partial": zlib.Z_PARTIAL_FLUSH}
for line in sys.stdin:
    req = json.loads(line)
    if req.get("reset"):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(base64.b64decode(req["data"]))
    if req["flush"] != "none":
        out += c.flush(modes[req["flush"]])
    sys.stdout.write(json.dumps({"out": base64.b64encode(out).decode()}) + "\n")
    sys.stdout.flush()
`

func newZlibDeflater(t testing.TB) *zlibDeflater {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not installed: run scripts/test, which installs it")
	}
	cmd := exec.Command(py, "-c", zlibHelper)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return &zlibDeflater{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// reset starts a new stream, for a new connection: one helper process
// serves a whole test, since starting Python takes seconds on a loaded
// machine.
func (z *zlibDeflater) reset(t testing.TB) {
	t.Helper()
	z.request(t, map[string]any{"reset": true, "data": "", "flush": "none"})
}

// compress returns data compressed, ended by flush ("none", "sync" for
// Z_SYNC_FLUSH, "partial" for Z_PARTIAL_FLUSH).
func (z *zlibDeflater) compress(t testing.TB, data []byte, flush string) []byte {
	t.Helper()
	return z.request(t, map[string]any{"data": base64.StdEncoding.EncodeToString(data), "flush": flush})
}

func (z *zlibDeflater) request(t testing.TB, r map[string]any) []byte {
	t.Helper()
	req, _ := json.Marshal(r)
	if _, err := z.in.Write(append(req, '\n')); err != nil {
		t.Fatal(err)
	}
	line, err := z.out.ReadBytes('\n')
	if err != nil {
		t.Fatalf("zlib helper: %v", err)
	}
	var resp struct{ Out string }
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(resp.Out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A client compressing with zlib's Z_PARTIAL_FLUSH or Z_SYNC_FLUSH, its
// commands cut at random points, gets every answer as soon as the last
// byte of a command is flushed, without sending anything more: the
// server never holds back input it has already decompressed (issue 11
// part 3: mbsync and mutt hung with COMPRESS=DEFLATE until one more
// command arrived).
func TestCompressAnswersWithoutFurtherInput(t *testing.T) {
	e := newEnv(t)
	var raws []string
	for i := range 8 {
		body := strings.Repeat(fmt.Sprintf("line %d of a message with some text\r\n", i), 1+i*i*40)
		raws = append(raws, msg(fmt.Sprint("flush ", i), body))
		e.deliver("INBOX", raws[i], 0)
	}
	z := newZlibDeflater(t)
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			c := e.login()
			c.ok("COMPRESS DEFLATE")
			z.reset(t)
			var rest io.Reader = c.c
			if n := c.r.Buffered(); n > 0 {
				b, _ := c.r.Peek(n)
				rest = io.MultiReader(strings.NewReader(string(b)), c.c)
			}
			r := bufio.NewReader(flate.NewReader(rest))
			resp := &conn{t: t, c: c.c, r: r}
			flushes := []string{"sync", "partial"}
			// send writes a command's bytes cut at random points; the
			// last piece is always flushed, the others sometimes not.
			send := func(cmd string, final bool) {
				t.Helper()
				b := []byte(cmd)
				for len(b) > 0 {
					n := 1 + rng.IntN(len(b))
					if rng.IntN(3) == 0 {
						n = len(b)
					}
					piece := b[:n]
					b = b[n:]
					mode := flushes[rng.IntN(2)]
					if len(b) > 0 && rng.IntN(3) == 0 {
						mode = "none"
					}
					if len(b) == 0 && !final {
						mode = "none"
						if rng.IntN(2) == 0 {
							mode = flushes[rng.IntN(2)]
						}
					}
					out := z.compress(t, piece, mode)
					c.c.SetWriteDeadline(time.Now().Add(time.Minute))
					if _, err := c.c.Write(out); err != nil {
						t.Fatal(err)
					}
				}
			}
			// final flushes whatever the compressor still holds.
			final := func() {
				out := z.compress(t, nil, flushes[rng.IntN(2)])
				if _, err := c.c.Write(out); err != nil {
					t.Fatal(err)
				}
			}
			expectOK := func(tag string) []string {
				t.Helper()
				lines, st := resp.until(tag)
				if !strings.HasPrefix(st, "OK") {
					t.Fatalf("%s: %s", tag, st)
				}
				return lines
			}
			send("s1 SELECT INBOX\r\n", true)
			expectOK("s1")
			for round := range 6 {
				// A pipeline of UID FETCH commands, as mbsync sends,
				// then the answers.
				k := 1 + rng.IntN(len(raws))
				var tags []string
				for i := range k {
					tag := fmt.Sprintf("f%d.%d", round, i)
					tags = append(tags, tag)
					send(fmt.Sprintf("%s UID FETCH %d (BODY.PEEK[])\r\n", tag, 1+rng.IntN(len(raws))), i == k-1)
				}
				for _, tag := range tags {
					n := 0
					for _, l := range expectOK(tag) {
						if strings.Contains(l, " FETCH (") && strings.Contains(l, "Subject: flush ") {
							n++
						}
					}
					if n != 1 {
						t.Fatalf("%s: %d messages fetched, want 1", tag, n)
					}
				}
				// APPEND with a synchronising literal: the "+" comes
				// without further input, then the message.
				m := raws[rng.IntN(len(raws))]
				tag := fmt.Sprintf("a%d", round)
				send(fmt.Sprintf("%s APPEND INBOX {%d}\r\n", tag, len(m)), true)
				if l := resp.line(); !strings.HasPrefix(l, "+") {
					t.Fatalf("APPEND: want continuation, got %q", l)
				}
				send(m+"\r\n", true)
				expectOK(tag)
				// And a non-synchronising one (RFC 7888).
				tag = fmt.Sprintf("b%d", round)
				send(fmt.Sprintf("%s APPEND INBOX {%d+}\r\n%s\r\n", tag, len(m), m), true)
				expectOK(tag)
				send(fmt.Sprintf("n%d NOOP\r\n", round), true)
				expectOK(fmt.Sprintf("n%d", round))
			}
			send("z LOGOUT\r\n", false)
			final()
			expectOK("z")
		})
	}
}
