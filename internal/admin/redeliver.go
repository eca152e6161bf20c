package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// ErrNoRelay: the address's domain names no relay host, so there is
// nowhere to redeliver to (HTTP 409; set the domain's relay first).
var ErrNoRelay = errors.New("the domain has no relay host for redelivery")

// Redelivered is one message put into the outbound queue by Redeliver.
type Redelivered struct {
	ID        int64  // the message's id (as listed by Messages)
	MessageID string // its Message-ID
	Route     string // the relay host it goes to
}

// Redeliver sends stored (or deleted, still restorable) messages of an
// address back to the user's primary mailbox: each is queued to the
// address itself, routed to the relay host its domain names
// (DomainSettings.RelayHost) rather than to the domain's MX, which would
// bring it back here. Every id is checked first: nothing is queued
// unless all can be. Each message gets a "redelivered" record in the
// message log (its timeline), and the queue's delivered or deferred
// records follow.
//
// The envelope sender is null (RFC 5321 4.5.5): a failure is no one's
// to be told of by mail, and the message log and the queue view show it
// to the administrator; it also keeps the primary system from judging
// our server by the original sender's SPF policy.
func (s *Service) Redeliver(ctx context.Context, p Principal, address string, ids []int64) ([]Redelivered, error) {
	if err := s.allow(ctx, p, OpRedeliver); err != nil {
		return nil, err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err != nil {
		return nil, s.denied(ctx, p, OpRedeliver, "address "+address, s.accountExists(address), err)
	}
	if len(ids) == 0 {
		return nil, fieldErr("ids", "name at least one message")
	}
	d, err := s.st.DomainByID(ctx, p.Scope(), a.DomainID)
	if err != nil {
		return nil, fmt.Errorf("domain of %s: %w", a.Address, err)
	}
	if d.RelayHost == "" {
		return nil, fmt.Errorf("redeliver to %s: %w (domain %s)", a.Address, ErrNoRelay, d.Name)
	}
	var msgs []store.Message
	for _, id := range ids {
		m, err := s.st.Message(ctx, a.ID, id)
		if err != nil {
			return nil, fmt.Errorf("message %d of %s: %w", id, a.Address, err)
		}
		if !slices.ContainsFunc(msgs, func(x store.Message) bool { return x.ID == m.ID }) {
			msgs = append(msgs, m)
		}
	}
	var out []Redelivered
	for _, m := range msgs {
		if err := s.redeliverOne(ctx, p, a, d, m); err != nil {
			return out, err
		}
		out = append(out, Redelivered{ID: m.ID, MessageID: m.MessageID, Route: d.RelayHost})
	}
	if s.opts.Wake != nil {
		s.opts.Wake()
	}
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), OpRedeliver, "address "+a.Address,
		fmt.Sprintf("%d message(s) %v to %s", len(out), ids, d.RelayHost))
	return out, nil
}

// redeliverOne queues one message's stored bytes, streamed from the
// blob store, with its log record, in one store write.
func (s *Service) redeliverOne(ctx context.Context, p Principal, a store.Account, d store.Domain, m store.Message) error {
	b, err := s.st.Body(ctx, a.ID, m.BodyID)
	if err != nil {
		return fmt.Errorf("body of message %d of %s: %w", m.ID, a.Address, err)
	}
	rc, err := s.st.OpenBody(ctx, a.ID, m.BodyID)
	if err != nil {
		return fmt.Errorf("open body of message %d of %s: %w", m.ID, a.Address, err)
	}
	defer rc.Close()
	now := s.now()
	ev := msglog.With(msglog.Message(now, b.Info, "", b.Size, p.RemoteIP), msglog.Redelivered, a.Address, a.DomainID,
		fmt.Sprintf("to the primary mailbox through %s, by %s", d.RelayHost, p.Email))
	dl := &store.Delivery{
		Body: rc, Size: b.Size, Info: b.Info, Received: now,
		Outbound: []store.Outbound{{AccountID: a.ID, Rcpt: a.Address, Route: d.RelayHost}},
		Events:   []store.LogEvent{ev},
	}
	if _, err := s.st.Deliver(ctx, dl); err != nil {
		return fmt.Errorf("queue message %d of %s for redelivery: %w", m.ID, a.Address, err)
	}
	return nil
}
