package imapserver_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
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
	raw := partMessage(rand.New(rand.NewPCG(5, 6)), 8<<20)
	checkStreamed(t, raw, []string{"BODY.PEEK[2]", "BINARY.PEEK[2]", "BODY.PEEK[2]<5000000.3000000>", "BINARY.PEEK[2]<4000000.1000000>"},
		[]string{"BODY.PEEK[2]", "BINARY.PEEK[2]", "BINARY.SIZE[2]", "BODY.PEEK[2]<100.1000>",
			"BINARY.PEEK[2]<6000000.400000>", "BINARY.PEEK[2]<7000000.10>", "BODY.PEEK[2.MIME]", "BODY.PEEK[3]", "BINARY.PEEK[3]",
			"BINARY.PEEK[3]<70000.70000>", "BINARY.SIZE[3]", "BODY.PEEK[4.HEADER]", "BODY.PEEK[4.TEXT]", "BODY.PEEK[4.2]",
			"BODY.PEEK[4.HEADER.FIELDS (subject)]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]<0.20>", "RFC822.HEADER", "BINARY.PEEK[]<0.50>"})
}

// checkStreamed delivers raw, then checks that 6 sessions that send
// FETCH 1 of each of blocked and never read raise the heap by less than
// 16 MiB, and that each of items is what imapmsg.Value makes.
func checkStreamed(t *testing.T, raw []byte, blocked, items []string) {
	t.Helper()
	e, reg := meteredEnv(t)
	e.deliver("INBOX", string(raw), 0)
	for _, item := range blocked {
		t.Run("clients that never read "+item, func(t *testing.T) {
			checkNonReaders(t, e, reg, 6, item, len(raw), 16<<20)
		})
	}
	t.Run("served as Value makes them", func(t *testing.T) {
		c := e.login()
		c.timeout = 5 * time.Minute
		c.ok("SELECT INBOX")
		info := message.Parse(raw)
		for _, item := range items {
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

// pythonParts fetches message 1 whole with imaplib, parses it with
// Python's email package, an independent MIME parser, and for each leaf
// part fetches BODY[part], BINARY[part] and BINARY.SIZE[part], printing
// for each part number whether they are what the email package finds:
// the part's body as written, and decoded (quoted-printable compared
// without white space at the ends of lines, which Python keeps).
const pythonParts = `
import email, re
m.login(user, password)
m.select('INBOX')
raw = m.fetch('1', '(BODY.PEEK[])')[1][0][1]
msg = email.message_from_bytes(raw)
def leaves(p, path):
    if p.get_content_maintype() == 'multipart':
        for i, c in enumerate(p.get_payload(), 1):
            yield from leaves(c, path + [i])
    elif p.get_content_type() == 'message/rfc822':
        inner = p.get_payload(0)
        if inner.get_content_maintype() == 'multipart':
            yield from leaves(inner, path)
        else:
            yield path + [1], inner
    else:
        yield path or [1], p
def one(item):
    typ, d = m.fetch('1', '(%s)' % item)
    return d[0][1] if isinstance(d[0], tuple) else d[0]
for path, p in leaves(msg, []):
    n = '.'.join(map(str, path))
    body = p.get_payload().encode('ascii', 'surrogateescape')
    decoded = p.get_payload(decode=True)
    binary = one('BINARY.PEEK[%s]' % n)
    size = int(re.search(rb'BINARY.SIZE\[[0-9.]+\] ([0-9]+)', one('BINARY.SIZE[%s]' % n)).group(1))
    if p.get('Content-Transfer-Encoding', '').lower() == 'quoted-printable':
        # Python's binascii.a2b_qp keeps white space at the end of a
        # line (and of the body), which RFC 2045 section 6.7 rule 3 says
        # to delete, and quopri writes line breaks as LF.
        decoded, binary = [re.sub(rb'[ \t]*\r?\n', b'\n', x).rstrip(b' \t') for x in (decoded, binary)]
    out[n] = [one('BODY.PEEK[%s]' % n) == body, binary == decoded, size == len(one('BINARY.PEEK[%s]' % n)), len(decoded)]
m.logout()
print(json.dumps(out))
`

// TestFetchPartsMatchPythonEmail: over a TLS session, Python's imaplib
// fetches each part of a message (a base64 attachment with NULs, which
// comes as a literal8, quoted-printable text, the parts of an embedded
// message) as BODY[n], BINARY[n] and BINARY.SIZE[n], and each is what
// Python's email package, a MIME parser of its own, makes of the
// message: a check of the offsets the parts are streamed from that does
// not rest on internal/message.
func TestFetchPartsMatchPythonEmail(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", string(partMessage(rand.New(rand.NewPCG(7, 8)), 300<<10)), 0)
	out := e.runImaplib("parts.py", pythonParts, 3*time.Minute)
	var got map[string][4]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("imaplib output: %v\n%s", err, out)
	}
	for _, part := range []string{"1", "2", "3", "4.1", "4.2"} {
		r, ok := got[part]
		if !ok {
			t.Errorf("part %s: not among Python's parts %v", part, got)
			continue
		}
		if r != [4]any{true, true, true, r[3]} {
			t.Errorf("part %s: BODY as written %v, BINARY as decoded %v, BINARY.SIZE its length %v (%v bytes decoded)", part, r[0], r[1], r[2], r[3])
		}
	}
	if n := got["2"][3]; n != float64(300<<10*3/4) {
		t.Errorf("part 2 decoded to %v bytes by Python, want %d", n, 300<<10*3/4)
	}
}

// TestFetchHeaderFieldsStream: BODY[HEADER.FIELDS (...)] and
// [HEADER.FIELDS.NOT (...)] pick their fields from the blob as they are
// written. Each session read the whole header into memory and built the
// value beside it, so twenty connections asking for the fields of a
// message whose header is 20 MB held 1.3 GB. The values are those of
// imapmsg.Value, byte for byte.
func TestFetchHeaderFieldsStream(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: a@example.net\r\nSubject: a big header\r\n")
	for i := 0; b.Len() < 8<<20; i++ {
		fmt.Fprintf(&b, "X-Filler-%07d: %s\r\n", i, strings.Repeat("y", 80))
		if i%1000 == 0 {
			b.WriteString("Received: from somewhere\r\n\tby elsewhere\r\n")
		}
	}
	b.WriteString("\r\nbody\r\n")
	checkStreamed(t, b.Bytes(),
		[]string{"BODY.PEEK[HEADER.FIELDS (Subject)]", "BODY.PEEK[HEADER.FIELDS.NOT (Subject)]", "BODY.PEEK[HEADER.FIELDS.NOT (Received)]<1000000.5000000>"},
		[]string{"BODY.PEEK[HEADER.FIELDS (Subject)]", "BODY.PEEK[HEADER.FIELDS (received x-filler-0000007)]",
			"BODY.PEEK[HEADER.FIELDS.NOT (Subject)]", "BODY.PEEK[HEADER.FIELDS.NOT (x-filler-0000002)]<4000000.100>", "BODY.PEEK[HEADER.FIELDS (Subject)]<30.100000>"})
}

// TestSearchMemoryBounded: the messages that searches read (TEXT, BODY,
// HEADER) take their share of Config.SearchMemory, and a search
// waits while others hold the rest. Each session read the whole message
// and made its text beside it, so twenty sessions searching the TEXT of
// a 20 MB message held 1.2 GB. Every search still answers, rightly.
func TestSearchMemoryBounded(t *testing.T) {
	const conns, limit = 6, 24 << 20
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{SearchMemory: imapmsg.NewSearchMemory(limit)})
	var b bytes.Buffer
	b.WriteString("From: a@example.net\r\nSubject: a big header\r\n")
	for i := 0; b.Len() < 6<<20; i++ {
		fmt.Fprintf(&b, "X-Filler-%07d: %s\r\n", i, strings.Repeat("y", 80))
	}
	b.WriteString("X-Last: needle-in-the-header\r\n\r\nthe body\r\n" + strings.Repeat("body text that goes on\r\n", 50000))
	e.deliver("INBOX", b.String(), 0)
	b.Reset()
	e.deliver("INBOX", "Subject: small\r\n\r\nneedle-in-the-header too\r\n", 0)
	var cs []*conn
	for range conns {
		c := e.login()
		c.timeout = 5 * time.Minute
		c.ok("SELECT INBOX")
		cs = append(cs, c)
	}
	searches := []string{"SEARCH TEXT needle-in-the-header", "SEARCH HEADER X-Last needle", "SEARCH BODY nowhere-at-all"}
	want := []string{"* SEARCH 1 2", "* SEARCH 1", "* SEARCH"}
	rise, base := heapRise(func() {
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Go(func() {
				for k := range searches {
					j := (i + k) % len(searches)
					if lines, st := c.cmd(searches[j]); !strings.HasPrefix(st, "OK") || len(lines) == 0 || lines[0] != want[j] {
						t.Errorf("%s: %q %s, want %q", searches[j], lines, st, want[j])
					}
				}
			})
		}
		wg.Wait()
	})
	t.Logf("%d sessions each searching a %d-byte message 3 times: heap %.1f MiB above %.1f MiB", conns, 6<<20+50000*24, float64(rise)/(1<<20), float64(base)/(1<<20))
	if bound := uint64(2*limit + 16<<20); rise > bound {
		t.Errorf("heap rose %.1f MiB, want under %d MiB (SearchMemory %d MiB)", float64(rise)/(1<<20), bound>>20, limit>>20)
	}
}
