package imapmsg

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// TestClientParses serves every fixture's ENVELOPE, BODY, BODYSTRUCTURE
// and BODY[HEADER.FIELDS (Subject)] to a real client, go-imap's imapclient,
// over a loopback socket, and checks that it parses them into the same
// tree: a strict second reader of what goes on the wire.
func TestClientParses(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	type msg struct {
		name string
		raw  []byte
		info *message.Info
	}
	var msgs []msg
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg{filepath.Base(f), raw, message.Parse(raw)})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		w := imapwire.NewWriter(bufio.NewWriter(conn))
		r := imapwire.NewReader(bufio.NewReader(conn), imapwire.Options{})
		w.Untagged(imapwire.OK, imapwire.CapabilityCode([]string{"IMAP4rev1"}), "test server")
		w.Flush()
		for {
			cmd, err := r.ReadCommand()
			if err != nil {
				return
			}
			fetch, ok := cmd.Args.(*imapwire.Fetch)
			if !ok {
				w.Tagged(cmd.Tag, imapwire.BAD, imapwire.Code{}, "only FETCH here")
				w.Flush()
				continue
			}
			for seq := range fetch.Set.Nums(uint32(len(msgs))) {
				m := msgs[seq-1]
				w.BeginFetch(seq)
				for i := range fetch.Items {
					it := &fetch.Items[i]
					if i > 0 {
						w.SP()
					}
					w.FetchItemName(it).SP()
					switch it.Kind {
					case imapwire.FetchEnvelope:
						WriteEnvelope(w, &m.info.Envelope)
					case imapwire.FetchBody, imapwire.FetchBodyStructure:
						WriteBodyStructure(w, &m.info.Part, it.Kind == imapwire.FetchBodyStructure)
					case imapwire.FetchBodySection:
						b, err := Section(m.raw, m.info, it.Section)
						if err != nil {
							panic(err)
						}
						w.Literal(Partial(b, it.Partial))
					default:
						w.NIL()
					}
				}
				w.EndFetch()
			}
			w.Tagged(cmd.Tag, imapwire.OK, imapwire.Code{}, "FETCH completed")
			w.Flush()
		}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // no hang on a bug
	c := imapclient.New(conn, nil)
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	all := imap.SeqSetNum()
	all.AddRange(1, uint32(len(msgs)))
	for _, extended := range []bool{false, true} {
		bufs, err := c.Fetch(all, &imap.FetchOptions{
			Envelope:      true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: extended},
			BodySection:   []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}},
		}).Collect()
		if err != nil {
			t.Fatalf("client could not read the FETCH responses (extended %v): %v", extended, err)
		}
		if len(bufs) != len(msgs) {
			t.Fatalf("client read %d messages, want %d", len(bufs), len(msgs))
		}
		for _, b := range bufs {
			m := msgs[b.SeqNum-1]
			if b.Envelope == nil || b.BodyStructure == nil || len(b.BodySection) != 1 {
				t.Errorf("%s: missing items: %+v", m.name, b)
				continue
			}
			if want, got := ourTree(&m.info.Part), theirTree(b.BodyStructure); got != want {
				t.Errorf("%s: client read the structure as\n%s\nwant\n%s", m.name, got, want)
			}
			want, _ := Section(m.raw, m.info, imapwire.Section{Spec: imapwire.SectionHeaderFields, Fields: []string{"Subject"}})
			if !bytes.Equal(b.BodySection[0].Bytes, want) {
				t.Errorf("%s: BODY[HEADER.FIELDS (Subject)] = %q, want %q", m.name, b.BodySection[0].Bytes, want)
			}
			if n, want := countAddrs(b.Envelope), countOurAddrs(&m.info.Envelope); n != want {
				t.Errorf("%s: client read %d addresses, want %d", m.name, n, want)
			}
		}
	}
}

// ourTree and theirTree describe a body structure as media types, sizes
// and line counts, nested with [] for multiparts and {} for embedded
// messages.
func ourTree(p *message.Part) string {
	var b strings.Builder
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		fmt.Fprintf(&b, "%s/%s", p.Type, p.Subtype)
		switch {
		case p.Type == "multipart":
			b.WriteString("[")
			for i := range p.Parts {
				walk(&p.Parts[i])
				b.WriteString(",")
			}
			b.WriteString("]")
		case isMessage(p):
			fmt.Fprintf(&b, ":%d{", p.Size())
			walk(embeddedRoot(p))
			fmt.Fprintf(&b, "}%d", p.Lines)
		case p.Type == "text":
			fmt.Fprintf(&b, ":%d:%d", p.Size(), p.Lines)
		default:
			fmt.Fprintf(&b, ":%d", p.Size())
		}
	}
	walk(p)
	return b.String()
}

func theirTree(bs imap.BodyStructure) string {
	var b strings.Builder
	var walk func(bs imap.BodyStructure)
	walk = func(bs imap.BodyStructure) {
		switch bs := bs.(type) {
		case *imap.BodyStructureMultiPart:
			fmt.Fprintf(&b, "multipart/%s[", strings.ToLower(bs.Subtype))
			for _, c := range bs.Children {
				walk(c)
				b.WriteString(",")
			}
			b.WriteString("]")
		case *imap.BodyStructureSinglePart:
			b.WriteString(bs.MediaType())
			switch {
			case bs.MessageRFC822 != nil:
				fmt.Fprintf(&b, ":%d{", bs.Size)
				walk(bs.MessageRFC822.BodyStructure)
				fmt.Fprintf(&b, "}%d", bs.MessageRFC822.NumLines)
			case bs.Text != nil:
				fmt.Fprintf(&b, ":%d:%d", bs.Size, bs.Text.NumLines)
			default:
				fmt.Fprintf(&b, ":%d", bs.Size)
			}
		}
	}
	walk(bs)
	return b.String()
}

func countAddrs(e *imap.Envelope) int {
	return len(e.From) + len(e.Sender) + len(e.ReplyTo) + len(e.To) + len(e.Cc) + len(e.Bcc)
}

func countOurAddrs(e *message.Envelope) int {
	return len(e.From) + len(e.Sender) + len(e.ReplyTo) + len(e.To) + len(e.Cc) + len(e.Bcc)
}
