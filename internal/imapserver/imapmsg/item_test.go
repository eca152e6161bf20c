package imapmsg

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// TestCheckAgreesWithValue: Check, which FETCH asks before it writes a
// line, refuses exactly the items whose value fails, and Value gives the
// bytes Section and Binary give.
func TestCheckAgreesWithValue(t *testing.T) {
	ext, extInfo := fixture(t, "ext-fields.eml")
	alt, altInfo := fixture(t, "alternative.eml")
	part := func(kind imapwire.FetchKind, spec imapwire.SectionSpec, p ...uint32) imapwire.FetchItem {
		return imapwire.FetchItem{Kind: kind, Section: imapwire.Section{Spec: spec, Part: p}}
	}
	items := []imapwire.FetchItem{
		{Kind: imapwire.FetchRFC822},
		{Kind: imapwire.FetchRFC822Header},
		{Kind: imapwire.FetchRFC822Text},
		{Kind: imapwire.FetchFlags},
		part(imapwire.FetchBodySection, imapwire.SectionWhole),
		part(imapwire.FetchBodySection, imapwire.SectionMIME, 1),
		part(imapwire.FetchBodySection, imapwire.SectionText, 2),
		part(imapwire.FetchBodySection, imapwire.SectionWhole, 9),
		part(imapwire.FetchBinary, imapwire.SectionWhole, 1),
		part(imapwire.FetchBinary, imapwire.SectionWhole, 3),
		part(imapwire.FetchBinarySize, imapwire.SectionWhole, 3),
		{Kind: imapwire.FetchBodySection, Section: imapwire.Section{Spec: imapwire.SectionWhole}, Partial: &imapwire.Partial{Offset: 5, Count: 10}},
	}
	for _, m := range []struct {
		raw  []byte
		info *message.Info
	}{{ext, extInfo}, {alt, altInfo}} {
		raw, info := m.raw, m.info
		for i := range items {
			it := &items[i]
			want, err := value(raw, info, it)
			if cerr := Check(info, it); (cerr != nil) != (err != nil) || err != nil && errors.Is(err, ErrUnknownCTE) != errors.Is(cerr, ErrUnknownCTE) {
				t.Errorf("item %d: Check %v, value's error %v", i, cerr, err)
			}
			if got := Value(raw, info, it); err == nil && !bytes.Equal(got, want) {
				t.Errorf("item %d: Value %.40q, want %.40q", i, got, want)
			}
		}
	}
	if err := Check(extInfo, &items[9]); !errors.Is(err, ErrUnknownCTE) {
		t.Errorf("BINARY[3] of an x-uuencode part: Check %v, want ErrUnknownCTE", err)
	}
}
