package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// LogSearch is a message log search. Zero fields match everything.
type LogSearch struct {
	Address   string // envelope sender or recipient
	MessageID string
	Subject   string // every word must be in the subject
	Status    store.LogStatus
	Since     time.Time
	Until     time.Time
	// Cursor is the Next of the previous page; "" for the first.
	Cursor string
	Limit  int // default 100, at most 1000
}

// LogPage is one page of a log search, newest first.
type LogPage struct {
	Events []store.LogEvent
	// Next is the cursor of the next page; "" when this is the last.
	Next string
}

// SearchLog searches the message log of p's domains.
func (s *Service) SearchLog(ctx context.Context, p Principal, q LogSearch) (LogPage, error) {
	if err := s.allow(ctx, p, OpLogSearch); err != nil {
		return LogPage{}, err
	}
	lq := store.LogQuery{
		Address: strings.TrimSpace(q.Address), MessageID: strings.TrimSpace(q.MessageID), Subject: q.Subject,
		Status: q.Status, Since: q.Since, Until: q.Until, Limit: q.Limit,
	}
	if lq.Limit <= 0 {
		lq.Limit = 100
	}
	if lq.Limit > 1000 {
		return LogPage{}, fieldErr("limit", "at most 1000")
	}
	if q.Status != "" && !slices.Contains(LogStatuses, q.Status) {
		return LogPage{}, fieldErr("status", "unknown status %q", q.Status)
	}
	if q.Cursor != "" {
		ms, id, ok := strings.Cut(q.Cursor, "-")
		t, err1 := strconv.ParseInt(ms, 10, 64)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return LogPage{}, fieldErr("cursor", "not a cursor of this search")
		}
		lq.BeforeTime, lq.BeforeID = time.UnixMilli(t), n
	}
	ids, err := s.st.ScopeDomainIDs(ctx, p.Scope())
	if err != nil {
		return LogPage{}, err
	}
	lq.DomainIDs = ids
	// One more than asked tells whether there is a next page.
	lq.Limit++
	evs, err := s.st.SearchLog(ctx, lq)
	if err != nil {
		return LogPage{}, err
	}
	page := LogPage{Events: evs}
	if len(evs) == lq.Limit {
		page.Events = evs[:lq.Limit-1]
		last := page.Events[len(page.Events)-1]
		page.Next = fmt.Sprintf("%d-%d", last.Time.UnixMilli(), last.ID)
	}
	if err := s.confine(ctx, p, page.Events); err != nil {
		return LogPage{}, err
	}
	return page, nil
}

// confine removes from events found in p's domains what is another
// tenant's: an event names every recipient of its message (a captured
// copy all its envelope recipients, and it is placed in one of their
// domains), and those at a domain of another tenant are not p's to
// know (a Bcc to another customer's user would show). They are dropped
// from Rcpt, unless the sender is p's own (p's user wrote to them).
// Addresses outside every protected domain stay.
func (s *Service) confine(ctx context.Context, p Principal, evs []store.LogEvent) error {
	if p.Scope().Kind == store.ScopeAll || !slices.ContainsFunc(evs, func(e store.LogEvent) bool { return strings.Contains(e.Rcpt, ",") }) {
		return nil
	}
	own := map[string]bool{}
	ds, err := s.st.ScopedDomains(ctx, p.Scope(), 0)
	if err != nil {
		return fmt.Errorf("domains of the scope: %w", err)
	}
	for _, d := range ds {
		own[d.Name] = true
	}
	foreign := map[string]bool{} // domain name → protected by another tenant
	isForeign := func(addr string) bool {
		dom := strings.ToLower(store.DomainOf(addr))
		if own[dom] {
			return false
		}
		f, ok := foreign[dom]
		if !ok {
			_, err := s.st.ScopedDomain(ctx, store.AllScope(), dom)
			f = err == nil
			foreign[dom] = f
		}
		return f
	}
	for i := range evs {
		e := &evs[i]
		if !strings.Contains(e.Rcpt, ",") || own[strings.ToLower(store.DomainOf(e.MailFrom))] {
			continue
		}
		var keep []string
		for r := range strings.SplitSeq(e.Rcpt, ",") {
			if r = strings.TrimSpace(r); r != "" && !isForeign(r) {
				keep = append(keep, r)
			}
		}
		e.Rcpt = strings.Join(keep, ", ")
	}
	return nil
}

// LogStatuses are the statuses a log search may ask for: every kind
// (package msglog owns the list).
var LogStatuses = msglog.Kinds()

// maxTimeline bounds one message's timeline.
const maxTimeline = 1000

// Timeline returns every event of p's domains with this Message-ID,
// oldest first: captured, stored, submitted, queued, delivered (with the
// remote reply in Detail), deferred, bounced, deleted, restored, purged.
// No event in scope is ErrNotFound.
func (s *Service) Timeline(ctx context.Context, p Principal, messageID string) ([]store.LogEvent, error) {
	if err := s.allow(ctx, p, OpLogSearch); err != nil {
		return nil, err
	}
	mid := strings.Trim(strings.TrimSpace(messageID), "<>")
	if mid == "" {
		return nil, fieldErr("message_id", "a Message-ID is required")
	}
	ids, err := s.st.ScopeDomainIDs(ctx, p.Scope())
	if err != nil {
		return nil, err
	}
	evs, err := s.st.SearchLog(ctx, store.LogQuery{MessageID: mid, DomainIDs: ids, Limit: maxTimeline})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, s.denied(ctx, p, OpLogSearch, "message "+mid, func(ctx context.Context) bool {
			all, err := s.st.SearchLog(ctx, store.LogQuery{MessageID: mid, Limit: 1})
			return err == nil && len(all) > 0
		}, fmt.Errorf("message %s: %w", mid, store.ErrNotFound))
	}
	if err := s.confine(ctx, p, evs); err != nil {
		return nil, err
	}
	slices.Reverse(evs)
	return evs, nil
}

// MessageList asks for one page of an address's messages, by id.
type MessageList struct {
	Mailbox string // "" for every mailbox
	Deleted bool   // the deleted, still restorable ones instead of live ones
	// AfterID is the Next of the previous page; 0 for the first.
	AfterID int64
	Limit   int // default 100, at most 1000
}

// checkPage checks the limit and cursor of a list paged by id, and sets
// a limit of 0 to the default.
func checkPage(limit *int, afterID int64) error {
	if *limit <= 0 {
		*limit = 100
	}
	if *limit > 1000 {
		return fieldErr("limit", "at most 1000")
	}
	if afterID < 0 {
		return fieldErr("cursor", "not a cursor of this list")
	}
	return nil
}

// MessagePage is one page of an address's messages, oldest (lowest id)
// first.
type MessagePage struct {
	Messages []store.Message
	// Next is the AfterID of the next page; 0 when this is the last.
	Next int64
}

// Messages lists one page of the messages of an address in p's scope,
// paged by id in the store's query: a large mailbox is never read whole.
func (s *Service) Messages(ctx context.Context, p Principal, address string, q MessageList) (MessagePage, error) {
	if err := s.allow(ctx, p, OpMessageList); err != nil {
		return MessagePage{}, err
	}
	if err := checkPage(&q.Limit, q.AfterID); err != nil {
		return MessagePage{}, err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err != nil {
		return MessagePage{}, s.denied(ctx, p, OpMessageList, "address "+address, s.accountExists(address), err)
	}
	// One more than asked tells whether there is a next page.
	sq := store.IDPage{Deleted: q.Deleted, AfterID: q.AfterID, Limit: q.Limit + 1}
	if q.Mailbox != "" {
		mb, err := s.st.Mailbox(ctx, a.ID, q.Mailbox)
		if errors.Is(err, store.ErrNotFound) {
			// A mailbox the address does not have holds no messages.
			return MessagePage{Messages: []store.Message{}}, nil
		}
		if err != nil {
			return MessagePage{}, fmt.Errorf("mailbox %s of %s: %w", q.Mailbox, a.Address, err)
		}
		sq.MailboxID = mb.ID
	}
	ms, err := s.st.MessagesByID(ctx, a.ID, sq)
	if err != nil {
		return MessagePage{}, fmt.Errorf("messages of %s: %w", a.Address, err)
	}
	pg := MessagePage{Messages: ms}
	if len(ms) > q.Limit {
		pg.Messages = ms[:q.Limit]
		pg.Next = pg.Messages[q.Limit-1].ID
	}
	return pg, nil
}

// RestoreMessages brings deleted messages of an address back into their
// mailboxes (under new UIDs). Every id is checked first: nothing is
// restored unless all can be.
func (s *Service) RestoreMessages(ctx context.Context, p Principal, address string, ids []int64) ([]store.Delivered, error) {
	if err := s.allow(ctx, p, OpMessageRestore); err != nil {
		return nil, err
	}
	a, err := s.st.ScopedAccount(ctx, p.Scope(), address)
	if err != nil {
		return nil, s.denied(ctx, p, OpMessageRestore, "address "+address, s.accountExists(address), err)
	}
	byMailbox := map[int64][]int64{}
	var order []int64
	for _, id := range ids {
		m, err := s.st.Message(ctx, a.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("message %d of %s: %w", id, a.Address, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("message %d of %s: %w", id, a.Address, err)
		}
		if !m.Expunged {
			return nil, fieldErr("ids", "message %d of %s is not deleted", id, a.Address)
		}
		if _, ok := byMailbox[m.MailboxID]; !ok {
			order = append(order, m.MailboxID)
		}
		if !slices.Contains(byMailbox[m.MailboxID], id) {
			byMailbox[m.MailboxID] = append(byMailbox[m.MailboxID], id)
		}
	}
	var done []store.Delivered
	for _, mb := range order {
		d, err := s.st.Restore(ctx, a.ID, mb, byMailbox[mb])
		if err != nil {
			return done, fmt.Errorf("restore messages of %s: %w", a.Address, err)
		}
		done = append(done, d...)
	}
	s.audit(ctx, p, s.domainTenant(ctx, a.DomainID), OpMessageRestore, "address "+a.Address, fmt.Sprintf("%d message(s): %v", len(done), ids))
	return done, nil
}

// --- queue

// QueueListing asks for one page of the outbound queue, by id.
type QueueListing struct {
	// AfterID is the Next of the previous page; 0 for the first.
	AfterID int64
	Limit   int // default 100, at most 1000
}

// QueuePage is one page of queue entries, oldest (lowest id) first.
type QueuePage struct {
	Entries []store.QueueEntry
	// Next is the AfterID of the next page; 0 when this is the last.
	Next int64
}

// QueueEntries lists one page of the outbound queue entries of p's
// domains, paged by id in the store's query (a long queue is never read
// whole).
func (s *Service) QueueEntries(ctx context.Context, p Principal, l QueueListing) (QueuePage, error) {
	if err := s.allow(ctx, p, OpQueueList); err != nil {
		return QueuePage{}, err
	}
	if err := checkPage(&l.Limit, l.AfterID); err != nil {
		return QueuePage{}, err
	}
	q, err := s.queueQuery(ctx, p)
	if err != nil {
		return QueuePage{}, err
	}
	// One more than asked tells whether there is a next page.
	q.AfterID, q.Limit = l.AfterID, l.Limit+1
	es, err := s.st.QueueEntries(ctx, q)
	if err != nil {
		return QueuePage{}, err
	}
	pg := QueuePage{Entries: es}
	if len(es) > l.Limit {
		pg.Entries = es[:l.Limit]
		pg.Next = pg.Entries[l.Limit-1].ID
	}
	return pg, nil
}

func (s *Service) queueQuery(ctx context.Context, p Principal) (store.QueueQuery, error) {
	ids, err := s.st.ScopeDomainIDs(ctx, p.Scope())
	return store.QueueQuery{DomainIDs: ids}, err
}

// RetryQueue makes queue entries of p's domains due now; it returns how
// many it found. An id of another tenant's entry refuses the whole
// request (store.ErrNotFound, audited) and changes nothing.
func (s *Service) RetryQueue(ctx context.Context, p Principal, ids []int64) (int, error) {
	if err := s.allow(ctx, p, OpQueueRetry); err != nil {
		return 0, err
	}
	q, err := s.queueQuery(ctx, p)
	if err != nil {
		return 0, err
	}
	if err := s.queueDenied(ctx, p, OpQueueRetry, ids); err != nil {
		return 0, err
	}
	n, err := s.st.RetryQueue(ctx, q, ids, s.now())
	if err != nil {
		return n, err
	}
	if n > 0 {
		s.audit(ctx, p, p.actorTenant(), OpQueueRetry, fmt.Sprintf("queue %v", ids), fmt.Sprintf("%d entries", n))
	}
	return n, nil
}

// DeleteQueue removes queue entries of p's domains; it returns how many.
// An id of another tenant's entry refuses the whole request, as for
// RetryQueue. Entries being delivered are left, named by a
// *store.SendingError.
func (s *Service) DeleteQueue(ctx context.Context, p Principal, ids []int64) (int, error) {
	if err := s.allow(ctx, p, OpQueueDelete); err != nil {
		return 0, err
	}
	q, err := s.queueQuery(ctx, p)
	if err != nil {
		return 0, err
	}
	if err := s.queueDenied(ctx, p, OpQueueDelete, ids); err != nil {
		return 0, err
	}
	// Entries being delivered are left (store.ErrSending) and the others
	// deleted all the same: those are audited.
	n, err := s.st.DeleteQueue(ctx, q, ids, s.now(), QueueDeleter(p))
	if n > 0 {
		s.audit(ctx, p, p.actorTenant(), OpQueueDelete, fmt.Sprintf("queue %v", ids), fmt.Sprintf("%d entries", n))
	}
	return n, err
}

// QueueDeleter names p in the message log records of the entries p
// deletes, which the tenant's administrators read: by role, not by name,
// which the audit log keeps (a customer's administrator need not learn
// their provider's staff).
func QueueDeleter(p Principal) string {
	if p.cli {
		return "an administrator on the command line"
	}
	return "a " + string(p.Role) + " administrator in the console or API"
}

// queueDenied audits the ids that are queue entries outside p's scope
// (a cross-tenant attempt) and then refuses the whole request
// (store.ErrNotFound) before anything changes, so that its 404 never
// leaves part of it done. The store answers in one query, however long
// the queue. Ids of no entry at all (delivered meanwhile) are not an
// attempt: the operation skips them.
func (s *Service) queueDenied(ctx context.Context, p Principal, op string, ids []int64) error {
	if p.Scope().Kind == store.ScopeAll {
		return nil
	}
	foreign, err := s.st.QueueEntriesOutside(ctx, p.Scope(), ids)
	if err != nil {
		return fmt.Errorf("check queue ids against the scope: %w", err)
	}
	for _, id := range foreign {
		s.log.Warn("cross-tenant attempt", "principal", p.String(), "op", op, "queue", id)
		s.audit(ctx, p, p.actorTenant(), "denied", fmt.Sprintf("queue %d", id), op)
	}
	if len(foreign) > 0 {
		return fmt.Errorf("queue entries %v of another tenant: %w", foreign, store.ErrNotFound)
	}
	return nil
}

// maxCopies bounds the copies a timeline lists (a message to a long list
// has many).
const maxCopies = 100

// MessageCopies returns the stored copies, live or deleted, of the
// message with this Message-ID in p's domains: what a timeline offers to
// restore or redeliver. It reads the messages' own records (by
// Message-ID), not the mailboxes of the addresses the log names.
func (s *Service) MessageCopies(ctx context.Context, p Principal, messageID string) ([]store.MessageCopy, error) {
	if err := s.allow(ctx, p, OpMessageList); err != nil {
		return nil, err
	}
	mid := strings.Trim(strings.TrimSpace(messageID), "<>")
	if mid == "" {
		return nil, fieldErr("message_id", "a Message-ID is required")
	}
	return s.st.MessageCopies(ctx, p.Scope(), mid, maxCopies)
}
