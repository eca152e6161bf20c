package queue

import (
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
// within 998 octets (RFC 5321 4.5.3.1.6); submission made what it queued
// so already (message.NeedShortLines), so for a server with 8BITMIME the
// body goes as stored, unread. A message that cannot be converted (8-bit
// header fields, which need SMTPUTF8) gives a permanent failure result
// instead, which bounces it with a DSN saying why.
func (w *Worker) bodyFor(ctx context.Context, c *conn, e store.QueueEntry) (opener, int64, *result) {
	raw := func() (io.ReadCloser, error) { return w.st.OpenQueuedBody(ctx, e) }
	if c.ext8 {
		return raw, e.Size, nil
	}
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
	plan, err := message.Plan(b.Info, rc, message.Need7Bit|message.NeedShortLines)
	rc.Close()
	switch {
	case errors.Is(err, message.ErrNeeds8Bit) || errors.Is(err, message.ErrLongLine):
		// RFC 3463 5.6.3: conversion required but not supported.
		return nil, 0, &result{outcome: store.QueueFailed, status: "5.6.3", host: c.host,
			reply: fmt.Sprintf("%s does not accept 8-bit mail (no 8BITMIME, RFC 6152) and this message cannot be converted to 7 bits: %v", c.host, err)}
	case err != nil:
		return deferred(fmt.Errorf("scan queued body %d for 8-bit content: %w", e.BodyID, err))
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
		return deferred(fmt.Errorf("convert queued body %d to 7 bits: %w", e.BodyID, err))
	}
	w.log.Info("converting to 7 bits for a server without 8BITMIME", "host", c.host, "body", e.BodyID, "size", e.Size, "converted", n)
	return conv, n, nil
}
