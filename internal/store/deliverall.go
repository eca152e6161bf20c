package store

import "context"

// Deliveries is the part of a Store that commits several deliveries as
// one: what must exist together or not at all, such as a submitted
// message's Sent copy (which keeps its Bcc header) and the copies and
// queue entries of what is sent (without it), or the messages of one
// IMAP MULTIAPPEND (RFC 3502: all or none).
type Deliveries interface {
	// DeliverAll stores each delivery as Deliver does, all in one durable
	// transaction: when it returns nil every delivery is stored, and
	// after an error or a crash none is. Results are in the order of ds.
	// The duplicate rule (dedup.go) applies across them too: a copy
	// duplicating one stored by an earlier delivery of ds names it.
	DeliverAll(ctx context.Context, ds ...*Delivery) ([][]Delivered, error)
}
