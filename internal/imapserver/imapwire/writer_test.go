package imapwire

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func newTestWriter() (*Writer, *strings.Builder) {
	var sb strings.Builder
	return NewWriter(bufio.NewWriter(&sb)), &sb
}

func TestWriter(t *testing.T) {
	mkset := func(s string) NumSet {
		set, err := ParseNumSet(s)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	tests := []struct {
		name  string
		utf8  bool
		write func(w *Writer)
		want  string
	}{
		{"tagged ok", false, func(w *Writer) { w.Tagged("a1", OK, Code{}, "LOGIN completed") }, "a1 OK LOGIN completed\r\n"},
		{"tagged no text", false, func(w *Writer) { w.Tagged("a1", NO, Code{}, "") }, "a1 NO failed\r\n"},
		{"untagged", false, func(w *Writer) { w.Untagged(OK, UIDNextCode(5), "Predicted next UID") }, "* OK [UIDNEXT 5] Predicted next UID\r\n"},
		{"bye", false, func(w *Writer) { w.Untagged(BYE, Code{}, "Logging out") }, "* BYE Logging out\r\n"},
		{"preauth", false, func(w *Writer) { w.Untagged(PREAUTH, Code{Name: CodeAlert}, "hi") }, "* PREAUTH [ALERT] hi\r\n"},
		{"appenduid", false, func(w *Writer) { w.Tagged("A003", OK, AppendUIDCode(38505, mkset("3955")), "APPEND completed") }, "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"},
		{"copyuid", false, func(w *Writer) {
			w.Tagged("A004", OK, CopyUIDCode(38505, mkset("304,319:320"), mkset("3956:3958")), "Done")
		}, "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"},
		{"highestmodseq", false, func(w *Writer) { w.Untagged(OK, HighestModSeqCode(715194045007), "Highest") }, "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"},
		{"modified", false, func(w *Writer) { w.Tagged("d105", OK, ModifiedCode(mkset("7,9")), "Conditional STORE failed") }, "d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"},
		{"closed", false, func(w *Writer) { w.Untagged(OK, Code{Name: CodeClosed}, "Previous mailbox closed") }, "* OK [CLOSED] Previous mailbox closed\r\n"},
		{"simple codes", false, func(w *Writer) {
			for _, c := range []CodeName{CodeTryCreate, CodeNonExistent, CodeAlreadyExists, CodeAuthenticationFailed, CodeUnavailable, CodeCannot, CodeLimit, CodeOverQuota, CodeServerBug, CodeClientBug} {
				w.Tagged("t", NO, Code{Name: c}, "x")
			}
		}, "t NO [TRYCREATE] x\r\nt NO [NONEXISTENT] x\r\nt NO [ALREADYEXISTS] x\r\nt NO [AUTHENTICATIONFAILED] x\r\nt NO [UNAVAILABLE] x\r\nt NO [CANNOT] x\r\nt NO [LIMIT] x\r\nt NO [OVERQUOTA] x\r\nt NO [SERVERBUG] x\r\nt NO [CLIENTBUG] x\r\n"},
		{"permanentflags", false, func(w *Writer) { w.Untagged(OK, PermanentFlagsCode([]string{`\Deleted`, `\Seen`, `\*`}), "Limited") }, "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"},
		{"capability code", false, func(w *Writer) { w.Untagged(OK, CapabilityCode([]string{"IMAP4rev1", "IDLE"}), "ready") }, "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n"},
		{"badcharset", false, func(w *Writer) { w.Tagged("a", NO, BadCharsetCode([]string{"UTF-8", "US-ASCII"}), "x") }, "a NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n"},
		{"badcharset empty", false, func(w *Writer) { w.Tagged("a", NO, BadCharsetCode(nil), "x") }, "a NO [BADCHARSET] x\r\n"},
		{"uidvalidity unseen", false, func(w *Writer) { w.Untagged(OK, UIDValidityCode(3857529045), "u").Untagged(OK, UnseenCode(12), "s") }, "* OK [UIDVALIDITY 3857529045] u\r\n* OK [UNSEEN 12] s\r\n"},
		{"text injection", false, func(w *Writer) { w.Tagged("a", BAD, Code{}, "bad\r\n* OK forged\x00\xff") }, "a BAD bad  * OK forged  \r\n"},
		{"text utf8", true, func(w *Writer) { w.Tagged("a", OK, Code{}, "Grüße") }, "a OK Grüße\r\n"},
		// Before UTF-8 is on, text is ASCII (RFC 9051 section 9, text).
		{"text not utf8", false, func(w *Writer) { w.Tagged("a", NO, Code{}, `name "é日*"`) }, "a NO name \"??*\"\r\n"},
		{"continuation not utf8", false, func(w *Writer) { w.Continuation("ready für literal") }, "+ ready f?r literal\r\n"},
		{"continuation", false, func(w *Writer) { w.Continuation("ready for literal") }, "+ ready for literal\r\n"},
		{"empty SASL challenge", false, func(w *Writer) { w.Challenge(nil) }, "+ \r\n"},
		{"SASL challenge", false, func(w *Writer) { w.Challenge([]byte("abc")) }, "+ YWJj\r\n"},
		{"capability", false, func(w *Writer) { w.Capability([]string{"IMAP4rev1", "IMAP4rev2", "LITERAL+"}) }, "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+\r\n"},
		{"enabled", false, func(w *Writer) { w.Enabled([]string{"CONDSTORE"}) }, "* ENABLED CONDSTORE\r\n"},
		{"exists recent expunge", false, func(w *Writer) { w.Exists(172).Recent(1).Expunge(3) }, "* 172 EXISTS\r\n* 1 RECENT\r\n* 3 EXPUNGE\r\n"},
		{"flags", false, func(w *Writer) { w.FlagsResponse([]string{`\Answered`, `\Flagged`, "$Forwarded"}) }, "* FLAGS (\\Answered \\Flagged $Forwarded)\r\n"},
		{"vanished", false, func(w *Writer) { w.Vanished(true, mkset("41,43:116,118")).Vanished(false, mkset("405")) }, "* VANISHED (EARLIER) 41,43:116,118\r\n* VANISHED 405\r\n"},
		{"fetch line", false, func(w *Writer) {
			w.BeginFetch(12345).Raw("UID ").Num(67890).Raw(" FLAGS ").Flags([]string{`\Seen`}).Raw(" MODSEQ (").Num64(1 << 40).Raw(")").EndFetch()
		}, "* 12345 FETCH (UID 67890 FLAGS (\\Seen) MODSEQ (1099511627776))\r\n"},
		{"fetch empty flags", false, func(w *Writer) { w.BeginFetch(1).Raw("FLAGS ").Flags(nil).EndFetch() }, "* 1 FETCH (FLAGS ())\r\n"},
		{"strings", false, func(w *Writer) {
			w.String("plain").SP().String(`q"uo\te`).SP().String("").SP().String("a\r\nb").SP().String("Grüße").SP().NIL()
		}, "\"plain\" \"q\\\"uo\\\\te\" \"\" {4}\r\na\r\nb {7}\r\nGrüße NIL"},
		{"strings utf8", true, func(w *Writer) { w.String("Grüße").SP().String("\xff") }, "\"Grüße\" {1}\r\n\xff"},
		{"long string", false, func(w *Writer) { w.String(strings.Repeat("a", 1025)) }, "{1025}\r\n" + strings.Repeat("a", 1025)},
		{"atoms", false, func(w *Writer) { w.Atom("FOO").SP().Atom("a b").SP().Atom("").SP().AString("x]").SP().AString("nil") }, "FOO \"a b\" \"\" x] \"nil\""},
		{"mailboxes", false, func(w *Writer) {
			w.Mailbox("INBOX").SP().Mailbox("Entwürfe").SP().Mailbox("A&B").SP().Mailbox("with space").SP().Mailbox("")
		}, "INBOX Entw&APw-rfe A&-B \"with space\" \"\""},
		{"mailboxes utf8", true, func(w *Writer) { w.Mailbox("Entwürfe").SP().Mailbox("A&B") }, "\"Entwürfe\" A&B"},
		{"literal", false, func(w *Writer) { w.Literal([]byte("hi")).SP().Literal8([]byte("\x00")) }, "{2}\r\nhi ~{1}\r\n\x00"},
		{"datetime", false, func(w *Writer) {
			w.DateTime(time.Date(1994, 2, 7, 21, 52, 25, 0, time.FixedZone("", -8*3600))).SP().DateTime(time.Date(2024, 12, 17, 1, 2, 3, 0, time.UTC))
		}, "\" 7-Feb-1994 21:52:25 -0800\" \"17-Dec-2024 01:02:03 +0000\""},
		{"numset", false, func(w *Writer) { w.NumSet(mkset("1,2,3,5,7:*")).SP().NumSet(NumSet{Dollar: true}) }, "1:3,5,7:* $"},
		{"fetch item names", false, func(w *Writer) {
			cmd, err, _ := readOne(t, "a FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (From \"A B\")]<5.10> BINARY.PEEK[1]<0.3> BINARY.SIZE[2] RFC822.HEADER BODY)\r\n", Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range cmd.Args.(*Fetch).Items {
				w.FetchItemName(&cmd.Args.(*Fetch).Items[i]).SP()
			}
		}, "BODY[1.2.HEADER.FIELDS (From \"A B\")]<5> BINARY[1]<0> BINARY.SIZE[2] RFC822.HEADER BODY "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, sb := newTestWriter()
			w.SetUTF8(tc.utf8)
			tc.write(w)
			if sb.Len() != 0 {
				t.Fatalf("wrote %d bytes before Flush", sb.Len())
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := sb.String(); got != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestWriterLiteralFrom(t *testing.T) {
	w, sb := newTestWriter()
	if err := w.LiteralFrom(strings.NewReader("hello world"), 5); err != nil {
		t.Fatal(err)
	}
	if err := w.Literal8From(strings.NewReader("ab"), 2); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if got := sb.String(); got != "{5}\r\nhello~{2}\r\nab" {
		t.Fatalf("got %q", got)
	}
	w, _ = newTestWriter()
	err := w.LiteralFrom(strings.NewReader("abc"), 10)
	if !errors.Is(err, io.EOF) || w.Flush() == nil {
		t.Fatalf("short reader: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("boom") }

func TestWriterStickyError(t *testing.T) {
	w := NewWriter(bufio.NewWriterSize(failWriter{}, 16))
	w.Raw(strings.Repeat("x", 100)).CRLF()
	if w.Err() == nil || w.Flush() == nil {
		t.Fatal("error not kept")
	}
}

// TestWriterNoAllocs checks that a FETCH FLAGS line, the bulk of a resync,
// costs no allocation.
func TestWriterNoAllocs(t *testing.T) {
	w := NewWriter(bufio.NewWriter(io.Discard))
	flags := []string{`\Seen`}
	src, dst := NumSet{Ranges: []NumRange{{1, 2}}}, NumSet{Ranges: []NumRange{{3, 4}}}
	allocs := testing.AllocsPerRun(1000, func() {
		w.Star().Num(12345).Raw(" FETCH (UID ").Num(67890).Raw(" FLAGS ").Flags(flags).Raw(")").CRLF()
		w.Tagged("a1", OK, UIDNextCode(5), "done")
		w.Tagged("a2", OK, CopyUIDCode(1, src, dst), "done")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per line", allocs)
	}
}

// BenchmarkWriteFetchFlags writes 100,000 "* n FETCH (UID u FLAGS (\Seen))"
// lines, a UID FETCH 1:* (FLAGS) of a large mailbox, and flushes once.
func BenchmarkWriteFetchFlags(b *testing.B) {
	const lines = 100000
	w := NewWriter(bufio.NewWriterSize(io.Discard, 64<<10))
	flags := []string{`\Seen`}
	b.ReportAllocs()
	for b.Loop() {
		for i := uint32(1); i <= lines; i++ {
			w.Star().Num(i).Raw(" FETCH (UID ").Num(i + 50000).Raw(" FLAGS ").Flags(flags).Raw(")").CRLF()
		}
		w.Tagged("a1", OK, Code{}, "UID FETCH completed")
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/lines, "ns/line")
}
