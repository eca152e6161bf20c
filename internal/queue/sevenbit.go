package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// opener opens what is sent of a message, once per use: the DKIM
// signature is computed over the same bytes as go out.
type opener func() (io.ReadCloser, error)

// bodyFor returns how to read an entry's body for the session c, and its
// size: as stored, or, for a server that did not announce 8BITMIME,
// converted to 7 bits when it holds 8-bit bytes (RFC 6152 section 3:
// 8-bit content must not be sent to it). The same conversion keeps lines
// within 998 octets (RFC 5321 4.5.3.1.6). For a server with 8BITMIME the
// body is returned as stored, unread: submission made what it queued
// short-lined already (message.NeedShortLines), and send checks the rest
// while it reads the body to sign it (longLines, shortened). A message
// that cannot be converted (8-bit header fields, which need SMTPUTF8)
// gives a permanent failure result instead, which bounces it with a DSN
// saying why.
func (w *Worker) bodyFor(ctx context.Context, c *conn, e store.QueueEntry) (opener, int64, *result) {
	raw := func() (io.ReadCloser, error) { return w.st.OpenQueuedBody(ctx, e) }
	if c.ext8 {
		return raw, e.Size, nil
	}
	return w.convert(ctx, c, e, raw, message.Need7Bit|message.NeedShortLines)
}

// shortened returns how to read an entry's body, raw as stored, with no
// line over 998 octets, and its size: for an entry whose stored body has
// such a line though it goes to a server with 8BITMIME (queued before
// submission converted long lines, or a captured message redelivered).
// Strict servers refuse such lines or cut them, breaking the message and
// its DKIM signature. What is stored is not changed. A body that cannot
// be converted (a header line without white space to fold at) goes as
// stored, as it always did.
func (w *Worker) shortened(ctx context.Context, c *conn, e store.QueueEntry, raw opener) (opener, int64, *result) {
	return w.convert(ctx, c, e, raw, message.NeedShortLines)
}

// convert plans and sizes the conversion need asks of an entry's body.
func (w *Worker) convert(ctx context.Context, c *conn, e store.QueueEntry, raw opener, need message.Need) (opener, int64, *result) {
	deferred := func(err error) (opener, int64, *result) {
		return nil, 0, &result{outcome: store.QueueDeferred, status: "4.3.0", reply: err.Error()}
	}
	b, err := w.st.Body(ctx, e.AccountID, e.BodyID)
	if err != nil {
		return deferred(fmt.Errorf("read queued body %d: %w", e.BodyID, err))
	}
	rc, err := raw()
	if err != nil {
		return deferred(fmt.Errorf("open queued body %d: %w", e.BodyID, err))
	}
	plan, err := message.Plan(b.Info, rc, need)
	rc.Close()
	switch {
	case need&message.Need7Bit == 0 && errors.Is(err, message.ErrLongLine):
		w.log.Warn("a line over 998 octets cannot be shortened: sent as stored", "host", c.host, "body", e.BodyID, "err", err)
		return raw, e.Size, nil
	case errors.Is(err, message.ErrNeeds8Bit) || errors.Is(err, message.ErrLongLine):
		// RFC 3463 5.6.3: conversion required but not supported.
		return nil, 0, &result{outcome: store.QueueFailed, status: "5.6.3", host: c.host,
			reply: fmt.Sprintf("%s does not accept 8-bit mail (no 8BITMIME, RFC 6152) and this message cannot be converted to 7 bits: %v", c.host, err)}
	case err != nil:
		return deferred(fmt.Errorf("scan queued body %d for conversion: %w", e.BodyID, err))
	case plan == nil:
		return raw, e.Size, nil
	}
	conv := func() (io.ReadCloser, error) {
		rc, err := raw()
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer rc.Close()
			pw.CloseWithError(plan.Write(pw, rc))
		}()
		return pr, nil
	}
	// SIZE (RFC 1870) announces what is sent: count the converted bytes.
	r, err := conv()
	if err != nil {
		return deferred(fmt.Errorf("open queued body %d: %w", e.BodyID, err))
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	if err != nil {
		return deferred(fmt.Errorf("convert queued body %d: %w", e.BodyID, err))
	}
	what := "converting to 7 bits for a server without 8BITMIME"
	if need&message.Need7Bit == 0 {
		what = "shortening lines over 998 octets"
	}
	w.log.Info(what, "host", c.host, "body", e.BodyID, "size", e.Size, "converted", n)
	return conv, n, nil
}

// longLines is a writer that notes whether what went through it has a
// line over 998 octets before its CRLF (message.MaxLine), holding
// nothing but a count.
type longLines struct {
	n     int  // octets of the current line so far, a CR included
	cr    bool // the last octet was a CR
	found bool
}

// lineLength is what is known of a body's lines (outMsg.lines).
type lineLength int

const (
	linesUnknown lineLength = iota
	linesShort              // none over 998 octets
	linesLong               // one or more over 998 octets
)

// lines says what the body written so far, whole, has.
func (l *longLines) lines() lineLength {
	if l.found {
		return linesLong
	}
	return linesShort
}

func (l *longLines) Write(p []byte) (int, error) {
	n := len(p)
	for !l.found && len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.n += len(p)
			l.cr = p[len(p)-1] == '\r'
			// Over already, whether or not that CR ends the line.
			l.found = l.n-1 > message.MaxLine || !l.cr && l.n > message.MaxLine
			break
		}
		l.n += i
		if i > 0 {
			l.cr = p[i-1] == '\r'
		}
		if l.cr {
			l.n--
		}
		l.found = l.n > message.MaxLine
		l.n, l.cr = 0, false
		p = p[i+1:]
	}
	return n, nil
}
