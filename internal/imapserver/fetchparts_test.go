package imapserver_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// partMessage is a message of size bytes or more whose part 2 is a
// base64 attachment of random bytes (NULs included) that fills it, part 3
// quoted-printable text, and part 4 a message/rfc822 holding a
// multipart.
func partMessage(rng *rand.Rand, size int) []byte {
	data := make([]byte, size*3/4)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	b.WriteString("From: a@example.net\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	b.WriteString("--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		strings.Repeat("caf=C3=A9 =3D soft=\r\nbreak, trailing  \r\n", 5000) +
		"--B\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=C\r\n\r\n" +
		"--C\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--C\r\nContent-Type: text/html\r\n\r\n<p>inner</p>\r\n--C--\r\n" +
		"--B--\r\n")
	return b.Bytes()
}

// TestFetchPartsStream: BODY[2], BINARY[2] and the other sections of a
// part are written from the blob as they are read, as BODY[] is. Each
// session read the whole message into memory for them, so 20 phones
// opening one 20 MB attachment at once (or an attacker's connections that
// never read) held 20 messages: 6 sessions blocked writing a part of an
// 8 MB message took the heap 48 MiB up. The values are those of
// imapmsg.Value, byte for byte.
func TestFetchPartsStream(t *testing.T) {
	const conns, size = 6, 8 << 20
	const bound = 16 << 20
	e, reg := meteredEnv(t)
	raw := partMessage(rand.New(rand.NewPCG(5, 6)), size)
	e.deliver("INBOX", string(raw), 0)
	for _, item := range []string{"BODY.PEEK[2]", "BINARY.PEEK[2]", "BODY.PEEK[2]<5000000.3000000>", "BINARY.PEEK[2]<4000000.1000000>"} {
		t.Run("clients that never read "+item, func(t *testing.T) {
			rise, base := heapOfNonReaders(t, e, reg, conns, item)
			t.Logf("%d sessions blocked writing %s of a %d-byte message: heap %.1f MiB above %.1f MiB", conns, item, len(raw), float64(rise)/(1<<20), float64(base)/(1<<20))
			if rise > bound {
				t.Errorf("%d sessions blocked writing %s of a %d MiB message took the heap %.1f MiB up, want under %d MiB", conns, item, size>>20, float64(rise)/(1<<20), bound>>20)
			}
		})
	}

	t.Run("served as Value makes them", func(t *testing.T) {
		c := e.login()
		c.timeout = 5 * time.Minute
		c.ok("SELECT INBOX")
		info := message.Parse(raw)
		for _, item := range []string{"BODY.PEEK[2]", "BINARY.PEEK[2]", "BINARY.SIZE[2]", "BODY.PEEK[2]<100.1000>",
			"BINARY.PEEK[2]<6000000.400000>", "BINARY.PEEK[2]<7000000.10>", "BODY.PEEK[2.MIME]", "BODY.PEEK[3]", "BINARY.PEEK[3]",
			"BINARY.PEEK[3]<70000.70000>", "BINARY.SIZE[3]", "BODY.PEEK[4.HEADER]", "BODY.PEEK[4.TEXT]", "BODY.PEEK[4.2]",
			"BODY.PEEK[4.HEADER.FIELDS (subject)]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]<0.20>", "RFC822.HEADER", "BINARY.PEEK[]<0.50>"} {
			fetchMatchesValue(t, c, raw, info, item)
		}
	})
}

// TestFetchSectionsMatchValue: over a TLS session, each section of each
// part of the imapmsg fixtures (nested messages and multiparts, broken
// encodings, bare LFs, NULs) is what imapmsg.Value makes of the message,
// with its literal8 and BINARY.SIZE, or the same NO [UNKNOWN-CTE].
func TestFetchSectionsMatchValue(t *testing.T) {
	files, _ := filepath.Glob("imapmsg/testdata/*.eml")
	if len(files) < 10 {
		t.Fatalf("%d fixtures in imapmsg/testdata", len(files))
	}
	e := newEnv(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e.deliver("INBOX", string(b), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	paths := []string{"", "1", "2", "3", "1.1", "1.2", "2.1", "2.2", "3.1", "1.1.1", "2.2.1", "3.2.1", "99"}
	for i, f := range files {
		seq := i + 1
		lines := c.ok(fmt.Sprintf("FETCH %d BODY.PEEK[]", seq))
		_, raw, ok := strings.Cut(lines[0], "}\r\n")
		if !ok || !strings.HasSuffix(raw, ")") {
			t.Fatalf("%s: BODY[] %.100q", f, lines)
		}
		rawb := []byte(strings.TrimSuffix(raw, ")"))
		info := message.Parse(rawb)
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, p := range paths {
				sep := "."
				if p == "" {
					sep = ""
				}
				for _, spec := range []string{"", "MIME", "HEADER", "TEXT", "HEADER.FIELDS (Subject content-type)", "HEADER.FIELDS.NOT (Subject)"} {
					if p == "" && spec == "MIME" {
						continue
					}
					s := p + sep + spec
					if spec == "" {
						s = p
					}
					fetchMatchesValueAt(t, c, seq, rawb, info, "BODY.PEEK["+s+"]")
					fetchMatchesValueAt(t, c, seq, rawb, info, "BODY.PEEK["+s+"]<7.30>")
				}
				fetchMatchesValueAt(t, c, seq, rawb, info, "BINARY.PEEK["+p+"]")
				fetchMatchesValueAt(t, c, seq, rawb, info, "BINARY.PEEK["+p+"]<3.10>")
				fetchMatchesValueAt(t, c, seq, rawb, info, "BINARY.SIZE["+p+"]")
			}
		})
	}
}

func fetchMatchesValue(t *testing.T, c *conn, raw []byte, info *message.Info, item string) {
	t.Helper()
	fetchMatchesValueAt(t, c, 1, raw, info, item)
}

// partialArg is the <offset.count> of an item, which the response names
// <offset>.
var partialArg = regexp.MustCompile(`<(\d+)\.\d+>$`)

// fetchMatchesValueAt fetches item of message seq and compares the
// response with imapmsg.Value's value of it over raw.
func fetchMatchesValueAt(t *testing.T, c *conn, seq int, raw []byte, info *message.Info, item string) {
	t.Helper()
	r := imapwire.NewReader(bufio.NewReader(strings.NewReader("a FETCH 1 "+item+"\r\n")), imapwire.Options{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("parse %s: %v", item, err)
	}
	it := &cmd.Args.(*imapwire.Fetch).Items[0]
	lines, st := c.cmd(fmt.Sprintf("FETCH %d %s", seq, item))
	if err := imapmsg.Check(info, it); err != nil {
		if !errors.Is(err, imapmsg.ErrUnknownCTE) || !strings.HasPrefix(st, "NO [UNKNOWN-CTE]") {
			t.Fatalf("FETCH %s: %s, want the error %v", item, st, err)
		}
		return
	}
	if !strings.HasPrefix(st, "OK") || len(lines) != 1 {
		t.Fatalf("FETCH %s: %s %.200q", item, st, lines)
	}
	v := imapmsg.Value(raw, info, it)
	name := partialArg.ReplaceAllString(strings.Replace(item, ".PEEK", "", 1), "<$1>")
	var want string
	switch {
	case it.Kind == imapwire.FetchBinarySize:
		want = fmt.Sprintf("%s %d)", name, len(v))
	case it.Kind == imapwire.FetchBinary && imapmsg.NeedsLiteral8(v):
		want = fmt.Sprintf("%s ~{%d}\r\n%s)", name, len(v), v)
	default:
		want = fmt.Sprintf("%s {%d}\r\n%s)", name, len(v), v)
	}
	if got := lines[0]; !strings.HasSuffix(got, want) || !strings.HasPrefix(got, fmt.Sprintf("* %d FETCH (", seq)) {
		t.Fatalf("FETCH %d %s:\n got %.300q\nwant %.300q", seq, item, got, want)
	}
}
