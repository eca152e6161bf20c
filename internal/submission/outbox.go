package submission

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// OutboxStore is what the Outbox needs of the store.
type OutboxStore interface {
	ClaimSends(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEntry, error)
	FinishSend(ctx context.Context, accountID, id int64, failure string) error
	NextSend(ctx context.Context) (time.Time, error)
	AccountByID(ctx context.Context, id int64) (store.Account, error)
	Message(ctx context.Context, accountID, id int64) (store.Message, error)
	Body(ctx context.Context, accountID, bodyID int64) (store.Body, error)
	OpenBody(ctx context.Context, accountID, bodyID int64) (io.ReadCloser, error)
	SearchLog(ctx context.Context, q store.LogQuery) ([]store.LogEvent, error)
	MessagesByMessageID(ctx context.Context, accountID int64, ids []string) ([]store.Message, error)
	StoreFlags(ctx context.Context, accountID, mailboxID int64, uids []uint32, op store.FlagOp, flags store.Flags, keywords []string, unchangedSince uint64) ([]store.MessageFlags, []uint32, error)
}

// Outbox sends the messages the webmail holds for "undo send"
// (store.Compose's outbox) once their hold ends, through Submit, the one
// way a message is sent: until then nothing of them is stored in Sent,
// queued or given to a colleague, so an undo takes back everything.
//
// It is durable: a held message is a draft plus a store entry, claimed
// under a lease. After a crash or restart the entry is claimed again
// when its lease runs out; one claimed before (Attempts > 1) is first
// looked up in the message log, where Submit writes "submitted" in the
// same transaction as the Sent copy and the queue entries, so that it is
// never sent twice.
type Outbox struct {
	st    OutboxStore
	sub   *Submitter
	log   *slog.Logger
	now   func() time.Time
	at    func(time.Time) <-chan time.Time // Run's wake-up at a time of now's clock
	wake  chan struct{}
	lease time.Duration
	poll  time.Duration
	// spoolDir and budget are where drafts are read to (SpoolIn).
	spoolDir string
	budget   *smtpserver.Budget
}

// outboxBatch is how many due entries one pass claims.
const outboxBatch = 50

// NewOutbox returns an Outbox sending through sub; now nil means
// time.Now.
func NewOutbox(st OutboxStore, sub *Submitter, log *slog.Logger, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The lease outlasts any Submit by far; the poll catches entries
	// another node scheduled (this one's webmail calls Wake).
	return &Outbox{st: st, sub: sub, log: log, now: now, at: clock.System{}.At, wake: make(chan struct{}, 1),
		lease: 5 * time.Minute, poll: 30 * time.Second}
}

// UseClock makes the outbox tell time by c (its Now and Run's waits),
// as the service passes its clock; tests move a clocktest.Clock through
// the undo-send hold instead of sleeping.
func (o *Outbox) UseClock(c clock.Clock) {
	o.now, o.at = c.Now, c.At
}

// Wake makes Run look at the outbox now: call it after ScheduleSend.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run sends due messages until ctx ends, sleeping until the next one is
// due, a Wake, or the poll interval.
func (o *Outbox) Run(ctx context.Context) {
	for {
		n, err := o.SendDue(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.Error("send held messages", "err", err)
		}
		// A deadline, not a duration: a clock moved meanwhile cannot
		// push the wake-up past the next entry's due.
		now := o.now()
		deadline := now.Add(o.poll)
		if n == outboxBatch {
			deadline = now
		} else if next, err := o.st.NextSend(ctx); err == nil && !next.IsZero() && next.Before(deadline) {
			deadline = next
		}
		due := o.at(deadline)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-due:
		}
	}
}

// SendDue claims the held messages due now and submits each; it returns
// how many it claimed.
func (o *Outbox) SendDue(ctx context.Context) (int, error) {
	entries, err := o.st.ClaimSends(ctx, o.now(), o.lease, outboxBatch)
	if err != nil {
		return 0, fmt.Errorf("claim held messages: %w", err)
	}
	for _, e := range entries {
		o.send(ctx, e)
	}
	return len(entries), nil
}

// send submits one claimed entry and settles it. A temporary failure
// (the store) leaves the lease to run out, and the entry is tried again.
func (o *Outbox) send(ctx context.Context, e store.OutboxEntry) {
	log := o.log.With("account", e.AccountID, "outbox", e.ID)
	failure, err := o.submit(ctx, e)
	if err != nil {
		log.Warn("send held message; retried after the lease", "err", err)
		return
	}
	if failure != "" {
		log.Info("held message not sent", "reason", failure)
	}
	if err := o.st.FinishSend(context.WithoutCancel(ctx), e.AccountID, e.ID, failure); err != nil {
		log.Error("settle held message", "err", err)
	}
}

// submit returns a failure to show the user, or an error to retry on.
func (o *Outbox) submit(ctx context.Context, e store.OutboxEntry) (failure string, err error) {
	acct, err := o.st.AccountByID(ctx, e.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return "the account no longer exists", nil
	}
	if err != nil {
		return "", err
	}
	msg, err := o.st.Message(ctx, acct.ID, e.DraftID)
	if errors.Is(err, store.ErrNotFound) {
		return "the draft was deleted before it was sent", nil
	}
	if err != nil {
		return "", err
	}
	body, err := o.st.Body(ctx, acct.ID, msg.BodyID)
	if err != nil {
		return "", fmt.Errorf("read draft %d: %w", msg.ID, err)
	}
	if e.Attempts > 1 && body.Info.MessageID != "" {
		// Claimed before: the sender may have died after Submit.
		done, err := o.st.SearchLog(ctx, store.LogQuery{MessageID: body.Info.MessageID, Address: acct.Address,
			Status: msglog.Submitted, Limit: 1})
		if err != nil {
			return "", fmt.Errorf("look up earlier submission: %w", err)
		}
		if len(done) > 0 {
			return "", nil
		}
	}
	// The draft goes to Submit through a spool, as a message received
	// over SMTP does: memory does not grow with its files (DESIGN.md,
	// bounded resources). The webmail wrote it with CRLF line endings,
	// a Message-ID and a Date, as Message.Spool requires; it is
	// completed on the way in as the listener's are all the same.
	sp := o.newSpool()
	defer sp.Close()
	if err := o.spoolDraft(ctx, sp, acct, msg.ID, msg.BodyID, body.Size); err != nil {
		return "", err
	}
	// The webmail has no EHLO name, and HTTPS is no Mail Transmission
	// Type: its trace field says webmail and names no protocol.
	_, err = o.sub.Submit(ctx, Message{Account: acct, MailFrom: acct.Address, Rcpts: Recipients(body.Info), Spool: sp,
		RemoteIP: e.RemoteIP, Origin: store.Origin{Client: "webmail"}})
	if err == nil {
		o.markAnswered(ctx, acct.ID, body.Info.Envelope.InReplyTo)
		return "", nil
	}
	if msg, ok := o.sub.Refusal(err); ok {
		return msg, nil
	}
	return "", err
}

// markAnswered flags \Answered the account's copies of the message a sent
// reply answers (its In-Reply-To), as a mail client does once its reply
// is sent, so that the webmail, and every IMAP client, shows the original
// as replied to. The reply is sent whatever happens here: a failure is
// logged, not returned.
func (o *Outbox) markAnswered(ctx context.Context, accountID int64, inReplyTo string) {
	ids := strings.Fields(strings.NewReplacer("<", " ", ">", " ").Replace(inReplyTo))
	if len(ids) != 1 {
		return
	}
	ms, err := o.st.MessagesByMessageID(ctx, accountID, ids)
	if err == nil {
		byMailbox := map[int64][]uint32{}
		for _, m := range ms {
			if m.Flags&store.FlagAnswered == 0 {
				byMailbox[m.MailboxID] = append(byMailbox[m.MailboxID], m.UID)
			}
		}
		for mb, uids := range byMailbox {
			if _, _, err = o.st.StoreFlags(ctx, accountID, mb, uids, store.FlagsAdd, store.FlagAnswered, nil, 0); err != nil {
				break
			}
		}
	}
	if err != nil {
		o.log.Warn("mark the replied-to message answered", "account", accountID, "in_reply_to", ids[0], "err", err)
	}
}

// SpoolIn makes the outbox read drafts into spool files in dir,
// counted against b: the listeners' spool and in-flight budget. Without
// it they go to os.TempDir() under a budget of their own.
func (o *Outbox) SpoolIn(dir string, b *smtpserver.Budget) {
	o.spoolDir, o.budget = dir, b
}

func (o *Outbox) newSpool() *smtpserver.Spool {
	b := o.budget
	if b == nil {
		b = smtpserver.NewBudget(math.MaxInt64)
	}
	return smtpserver.NewSpool(o.spoolDir, b)
}

// spoolDraft copies a stored draft of size bytes of acct's into sp, a
// buffer at a time, its header completed as the listener completes a
// message's (headerCompleter). A full budget is an error to retry on:
// the entry is claimed again when its lease runs out.
func (o *Outbox) spoolDraft(ctx context.Context, sp *smtpserver.Spool, acct store.Account, id, bodyID, size int64) error {
	if err := sp.Reserve(size); err != nil {
		return fmt.Errorf("spool draft %d of %d bytes: %w", id, size, err)
	}
	rc, err := o.st.OpenBody(ctx, acct.ID, bodyID)
	if err != nil {
		return fmt.Errorf("open draft %d: %w", id, err)
	}
	defer rc.Close()
	hc := newHeaderCompleter(sp, domainOf(acct.Address), acct.Address, o.now())
	if _, err := io.Copy(hc, rc); err != nil {
		return fmt.Errorf("read draft %d: %w", id, err)
	}
	if err := hc.Close(); err != nil {
		return fmt.Errorf("read draft %d: %w", id, err)
	}
	return nil
}

// Recipients returns the envelope recipients of a message: its To, Cc
// and Bcc addresses, each once (RFC 5322 3.6.3).
func Recipients(info *message.Info) []string {
	return envelopeAddrs(info.Envelope.To, info.Envelope.Cc, info.Envelope.Bcc)
}

// envelopeAddrs returns the addresses of the lists as written, each once
// (the same address in another case or quoting, store.NormalizeAddress,
// is left out: Submit sends on the local part as first written); group
// names and incomplete addresses are left out.
func envelopeAddrs(lists ...[]message.Address) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range lists {
		for _, a := range list {
			if a.GroupStart || a.GroupEnd || a.Mailbox == "" || a.Host == "" {
				continue
			}
			addr := a.Mailbox + "@" + a.Host
			key := addr
			if n, err := store.NormalizeAddress(addr); err == nil {
				key = n
			}
			if !seen[key] {
				seen[key] = true
				out = append(out, addr)
			}
		}
	}
	return out
}
