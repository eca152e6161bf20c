package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"runtime/metrics"
	"strings"
	"testing"
)

// heapAllocs returns the bytes allocated by the process so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// fuzzOptions are small limits, so that what a command may allocate is
// small and checked.
func fuzzOptions(multi bool) Options {
	return Options{MaxLine: 1024, MaxStringLiteral: 4096, MaxLiteral: 64 << 10, MaxCommand: 128 << 10, MultiAppend: multi}
}

// FuzzReadCommand feeds arbitrary bytes to a Reader. It checks that nothing
// panics, that allocation stays proportional to the input, that a command
// that parses re-encodes (Command.String) to text that parses to the same
// command, and that after a non-fatal error the reader goes on.
func FuzzReadCommand(f *testing.F) {
	for _, tc := range readCommandCases() {
		f.Add([]byte(tc.in))
	}
	for _, s := range []string{
		"a1 FROB {5+}\r\nab\r\nc\r\nb NOOP\r\n",
		"a LOGIN {3}\r\nfoo {3+}\r\nbar\r\n",
		"a APPEND INBOX (\\Seen) \" 1-Jan-2020 10:00:00 +0100\" ~{3+}\r\na\x00b\r\n",
		"a UID SEARCH RETURN (SAVE MIN) OR NOT (1:3 $) UID *:4 HEADER {1+}\r\nX \"\"\r\n",
		"a SELECT INBOX (QRESYNC (1 2 3:4 (1,2 3,4)))\r\na ENABLE X\r\n",
		"\x00\xff\r\n\r\na LIST (SUBSCRIBED RECURSIVEMATCH REMOTE) {1+}\r\n& (% * \"&AOQ-\") RETURN (STATUS (SIZE))\r\n",
		"a AUTHENTICATE PLAIN =\r\nDONE\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		multi := len(data) > 0 && data[0]&1 == 1
		utf8Mode := len(data) > 0 && data[0]&2 == 2
		before := heapAllocs()
		r := NewReader(bufio.NewReaderSize(bytes.NewReader(data), 4096), fuzzOptions(multi))
		r.SetUTF8(utf8Mode)
		var cmds []*Command
		for range 100 {
			cmd, err := r.ReadCommand()
			if err != nil {
				var perr *ParseError
				if errors.As(err, &perr) && !perr.Fatal {
					if perr.Msg == "" {
						t.Fatal("ParseError without message")
					}
					continue
				}
				break
			}
			if cmd.Tag == "" || cmd.Name == "" {
				t.Fatalf("command without tag or name: %#v", cmd)
			}
			cmds = append(cmds, cmd)
		}
		// Commands, literals and line buffers are bounded by the input
		// and the options; 64 KiB covers a literal buffer announced but
		// not sent.
		if used := heapAllocs() - before; used > uint64(64*len(data))+1<<20 {
			t.Fatalf("allocated %d bytes for %d bytes of input", used, len(data))
		}
		for _, cmd := range cmds {
			enc := cmd.String()
			opts := Options{MultiAppend: true}
			r2 := NewReader(bufio.NewReader(strings.NewReader(enc+"\r\n")), opts)
			again, err := r2.ReadCommand()
			if err != nil {
				t.Fatalf("re-reading %q (from %q): %v", enc, data, err)
			}
			if again.String() != enc {
				t.Fatalf("re-encoding differs:\n%q\n%q", enc, again.String())
			}
		}
	})
}
