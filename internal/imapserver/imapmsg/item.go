package imapmsg

import (
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// Check returns the error Value's section would meet for it, without
// making the value: whether a section or a decoding fails depends on the
// message's structure (info) only, never on its bytes. A FETCH checks
// every item of a message before it writes the first, so that no error
// leaves half a response line, and then makes each value only as it
// writes it: a FETCH naming BINARY[2] a thousand times holds one decoded
// part at a time.
func Check(info *message.Info, it *imapwire.FetchItem) error {
	_, err := value(nil, info, it)
	return err
}

// Value returns the bytes of a FETCH item that carries message content
// (RFC822, RFC822.HEADER, RFC822.TEXT, BODY[...], BINARY[...] and
// BINARY.SIZE[...], with its partial), or nil for other items, from the
// whole message in memory: the session reads values through Content
// instead, which gives the same bytes (TestContentMatchesValue). Call
// Check first: Value gives nothing for an item Check refuses.
func Value(raw []byte, info *message.Info, it *imapwire.FetchItem) []byte {
	b, err := value(raw, info, it)
	if err != nil {
		return nil
	}
	return b
}

func value(raw []byte, info *message.Info, it *imapwire.FetchItem) ([]byte, error) {
	switch it.Kind {
	case imapwire.FetchRFC822:
		return Section(raw, info, imapwire.Section{})
	case imapwire.FetchRFC822Header:
		return Section(raw, info, imapwire.Section{Spec: imapwire.SectionHeader})
	case imapwire.FetchRFC822Text:
		return Section(raw, info, imapwire.Section{Spec: imapwire.SectionText})
	case imapwire.FetchBodySection:
		b, err := Section(raw, info, it.Section)
		return Partial(b, it.Partial), err
	case imapwire.FetchBinary, imapwire.FetchBinarySize:
		b, err := Binary(raw, info, it.Section.Part)
		return Partial(b, it.Partial), err
	}
	return nil, nil
}
