package imapmsg

import (
	"bufio"
	"io"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkBodyStructure writes the BODYSTRUCTURE of a nested multipart
// (multipart/mixed holding an alternative with a related inside, and
// attachments with every extension field), as FETCH does per message.
func BenchmarkBodyStructure(b *testing.B) {
	_, info := fixture(b, "mixed-nested.eml")
	w := imapwire.NewWriter(bufio.NewWriterSize(io.Discard, 64<<10))
	b.ReportAllocs()
	for b.Loop() {
		WriteBodyStructure(w, &info.Part, true)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBodyStructureEmbedded is the same with embedded messages two
// levels deep, whose envelopes are written too.
func BenchmarkBodyStructureEmbedded(b *testing.B) {
	_, info := fixture(b, "nested-rfc822.eml")
	w := imapwire.NewWriter(bufio.NewWriterSize(io.Discard, 64<<10))
	b.ReportAllocs()
	for b.Loop() {
		WriteBodyStructure(w, &info.Part, true)
	}
}

func BenchmarkEnvelope(b *testing.B) {
	_, info := fixture(b, "groups.eml")
	w := imapwire.NewWriter(bufio.NewWriterSize(io.Discard, 64<<10))
	b.ReportAllocs()
	for b.Loop() {
		WriteEnvelope(w, &info.Envelope)
	}
}

// BenchmarkSectionHeaderFields is what Thunderbird and Apple Mail ask for
// every message when they list a folder.
func BenchmarkSectionHeaderFields(b *testing.B) {
	raw, info := fixture(b, "simple.eml")
	s := sec(b, "HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Section(raw, info, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchFlags is a SEARCH that never loads a message.
func BenchmarkMatchFlags(b *testing.B) {
	keys := searchKeys(b, "UNSEEN UNDELETED SINCE 1-Nov-2025 NOT KEYWORD $Junk")
	m := &Message{Seq: 1, UID: 1, Flags: store.FlagFlagged, Keywords: []string{"Work"}, Received: time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC)}
	ctx := &SearchContext{MaxSeq: 1, MaxUID: 1}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := Match(ctx, keys, m); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMatchText checks substrings in a candidate the full-text index
// returned: the cost per candidate of "UID SEARCH TEXT word".
func BenchmarkMatchText(b *testing.B) {
	raw, info := fixture(b, "mixed-nested.eml")
	keys := searchKeys(b, "TEXT notes")
	m := &Message{Load: func() ([]byte, *message.Info, error) { return raw, info, nil }}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := Match(nil, keys, m); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
