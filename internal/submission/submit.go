// Package submission is the SMTP submission listener (RFC 6409) on ports
// 587 (STARTTLS) and 465 (implicit TLS, RFC 8314), and Submit, the one way
// a signed-in user's message is sent: the listener and webmail both call
// it. Submit keeps the Sent copy, queues one entry per recipient, gives
// protected local recipients their INBOX copy and writes the log events in
// one durable store transaction before it returns, so a client is told
// "sent" only for mail that is both kept and queued.
package submission

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/queue"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// Store is what submission needs of the store.
type Store interface {
	Account(ctx context.Context, address string) (store.Account, error)
	// AccountByID re-reads a signed-in session's account (signInRevoked).
	AccountByID(ctx context.Context, id int64) (store.Account, error)
	Domain(ctx context.Context, name string) (store.Domain, error)
	DeliverAll(ctx context.Context, ds ...*store.Delivery) ([][]store.Delivered, error)
	AppendLog(ctx context.Context, events ...store.LogEvent) error
	store.SendCounts
}

// Errors of Submit; each front end maps them once (smtpError for SMTP).
var (
	// ErrSpoofed: the envelope sender or the From header is not the
	// signed-in address.
	ErrSpoofed = errors.New("submission: sender is not the signed-in address")
	// ErrTooManyRecipients: over the per-message recipient limit.
	ErrTooManyRecipients = errors.New("submission: too many recipients")
	// ErrRateLimited: over the account's messages per hour. The error
	// wraps a *store.SendLimitError that says when to retry.
	ErrRateLimited = errors.New("submission: too many messages this hour")
	// ErrBadRecipient: nothing to send to, or a recipient address is
	// not valid.
	ErrBadRecipient = errors.New("submission: no or invalid recipient")
	// ErrLongLine: a header line over 998 octets without white space to
	// fold it at (RFC 5322 2.1.1); the error says which field.
	ErrLongLine = errors.New("submission: a header line too long to send")
	// ErrTooBig: the message is over Limits.MaxMessageBytes.
	ErrTooBig = errors.New("submission: message over the size limit")
	// ErrHeaderTooBig: the header section is past what the DKIM signer
	// is given (dkim.CheckHeader). A mail program writes a few KB; a
	// header of megabytes of folded lines costs whatever reads it field
	// by field. Postfix cuts a header at header_size_limit (100 KiB by
	// default) and sends the rest as body; we refuse, since a message
	// cut where its sender did not mean it is not the one sent.
	ErrHeaderTooBig = errors.New("submission: header section over the size limit")
	// ErrNUL: the message's body has a NUL byte, which no 7bit or 8bit
	// data may carry (RFC 5322 2.3, RFC 2045 2.7 and 2.8, RFC 6152): a
	// relay or reader may cut the message there or take it for binary
	// data. A NUL in the header is a *message.HeaderError.
	ErrNUL = errors.New("submission: message body contains a NUL byte")
	// ErrDisabled: the signed-in account was disabled (after it signed
	// in, or while the webmail held its message).
	ErrDisabled = errors.New("submission: the address is disabled")
)

// Limits are the per-user limits of Submit.
type Limits struct {
	MaxRecipients int // per message; 0 means 100
	// PerHour bounds the messages an account sends in any hour (a
	// sliding window counted in the store, so that neither a restart
	// nor a second node resets it); 0 means no limit.
	PerHour int
	// FromAliases lists, per signed-in address, the other addresses the
	// administrator allows it to send as (envelope sender and From),
	// such as a shared sales@ address. Keys and values are lower case.
	FromAliases map[string][]string
	// MaxMessageBytes bounds a message's size (submission's
	// max_message_bytes, the SIZE its listeners announce), whichever way
	// it comes: the webmail's are bounded by Submit alone. 0: no bound.
	MaxMessageBytes int64
}

// Submitter submits signed-in users' messages. It is safe for concurrent
// use.
type Submitter struct {
	st     Store
	limits Limits
	wake   func()
	now    func() time.Time
	// hostname is the Reporting-MTA of the notifications Submit makes.
	hostname string
	// foreign are the recipient domains lately found not to be ours.
	foreign foreignDomains
}

// NewSubmitter returns a Submitter. wake, when not nil, is called after a
// message was queued (the queue worker's Wake); now nil means time.Now.
func NewSubmitter(st Store, limits Limits, wake func(), now func() time.Time) *Submitter {
	if limits.MaxRecipients <= 0 {
		limits.MaxRecipients = 100
	}
	aliases := map[string][]string{}
	for from, as := range limits.FromAliases {
		f, err := store.NormalizeAddress(from)
		if err != nil {
			continue // config.Validate refuses it
		}
		for _, a := range as {
			if n, err := store.NormalizeAddress(a); err == nil {
				aliases[f] = append(aliases[f], n)
			}
		}
	}
	limits.FromAliases = aliases
	if now == nil {
		now = time.Now
	}
	if wake == nil {
		wake = func() {}
	}
	return &Submitter{st: st, limits: limits, wake: wake, now: now, hostname: "localhost",
		foreign: foreignDomains{now: time.Now}}
}

// SetHostname names this server (config Hostname) in the delivery status
// notifications Submit makes; "localhost" until set. Call it before the
// Submitter is used.
func (s *Submitter) SetHostname(h string) {
	if h != "" {
		s.hostname = h
	}
}

// Message is one message from a signed-in user.
type Message struct {
	Account  store.Account // the signed-in sender, as the store has it
	MailFrom string        // envelope sender: Account.Address, a sub-address of it or an allowed alias (MaySendAs)
	Rcpts    []string      // envelope recipients (Bcc ones included)
	// Body is the message, line endings CRLF (smtpserver.NormalizeCRLF).
	Body []byte
	// Spool, when not nil, holds the message instead of Body: the
	// listener receives it there (line endings CRLF, Message-ID, Date
	// and the Sender a From of several mailboxes requires completed:
	// headerCompleter), so that memory does not grow with message size.
	// Submit does not close it.
	Spool *smtpserver.Spool
	// SentSize, when not 0, is the size of the message as the client
	// sent it, which the size limit applies to: a message of exactly
	// the SIZE announced is taken (RFC 1870), and what the listener
	// adds (a missing Message-ID or Date, CR before a bare LF) is not
	// the client's. 0: the body's size.
	SentSize int64
	RemoteIP string // for the message log; "" for none
	// Origin is how the message came in (the client's EHLO name and
	// protocol), for the trace field the queue adds when it sends it on.
	Origin store.Origin
	// DSN is what the client asked of delivery status notifications
	// (RFC 3461) per recipient, keyed as Rcpts are normalised
	// (store.NormalizeAddress); a recipient without one asked nothing.
	DSN map[string]store.DSN
	// routes are the recipients' routes the listener decided at RCPT,
	// moments ago (checkRoute); Submit decides those it lacks.
	routes map[string]route
	// sendAs are the recipients whose local part was given in capitals,
	// as they are sent on (store.SendAddress), by their
	// NormalizeAddress form.
	sendAs map[string]string
	// info is the message parsed, long says it has a line over 998
	// octets, bcc a Bcc or Resent-Bcc field, unsent any field not sent
	// (isUnsentName), resent any Resent- field (prepare).
	info                      *message.Info
	long, bcc, unsent, resent bool
}

// Result says what Submit did.
type Result struct {
	MessageID string // of the message, without angle brackets
	Queued    int    // recipients queued
	Local     int    // protected local recipients that got an INBOX copy
	// Kept are the Local recipients of "continuity only" domains: their
	// INBOX copy is their delivery, and they are not queued.
	Kept int
}

// MaySendAs reports whether the account may use addr (normalised) as its
// envelope sender and From address: its own, a sub-address of it
// (alice+news@, RFC 5233, with its domain's recipient delimiter) that is
// not someone else's account, or an alias the administrator allowed (RFC
// 6409 8.1 lets an MSA refuse any other).
func (s *Submitter) MaySendAs(ctx context.Context, acct store.Account, addr string) (bool, error) {
	if addr == acct.Address || slices.Contains(s.limits.FromAliases[acct.Address], addr) {
		return true, nil
	}
	if store.DomainOf(addr) != store.DomainOf(acct.Address) {
		return false, nil
	}
	d, err := s.st.Domain(ctx, store.DomainOf(acct.Address))
	if err != nil {
		return false, fmt.Errorf("look up domain of %s: %w", acct.Address, err)
	}
	if store.BaseAddress(addr, d.RecipientDelimiter) != acct.Address {
		return false, nil
	}
	// The account that gets addr's mail, as capture and route find it:
	// someone really called alice+x@ is someone else, whose address
	// alice may not use.
	a, err := store.RecipientAccount(ctx, s.st.Account, d.RecipientDelimiter, addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up sender %s: %w", addr, err)
	}
	return a.ID == acct.ID, nil
}

// MaxRecipients is the per-message limit, for the listener's RCPT.
func (s *Submitter) MaxRecipients() int { return s.limits.MaxRecipients }

// sendLimit is the account's SendLimit, nil without a limit.
func (s *Submitter) sendLimit(accountID int64) *store.SendLimit {
	if s.limits.PerHour <= 0 {
		return nil
	}
	return &store.SendLimit{AccountID: accountID, Max: s.limits.PerHour, Window: time.Hour}
}

// Allowed checks whether the account may send one more message now, for
// an early answer at MAIL (Submit checks again, in its transaction): nil,
// or an error wrapping ErrRateLimited and a *store.SendLimitError.
func (s *Submitter) Allowed(ctx context.Context, accountID int64) error {
	l := s.sendLimit(accountID)
	if l == nil {
		return nil
	}
	if err := store.CheckSendLimit(ctx, s.st, *l, s.now()); err != nil {
		if errors.Is(err, store.ErrSendLimit) {
			return fmt.Errorf("%w: %w", ErrRateLimited, err)
		}
		return err
	}
	return nil
}

// Submit checks m and stores it durably: the Sent copy (Bcc header kept),
// the queue entries (one per recipient), the INBOX copies of protected
// local recipients and the submitted, stored and queued log events. What
// is sent and what local recipients get has its Bcc header removed (RFC
// 5322 3.6.3).
//
// All of it is one store transaction (store.Deliveries.DeliverAll): with
// a Bcc header, the Sent copy that keeps it and what is sent without it
// are two bodies, committed together, so a crash never leaves one
// without the other.
func (s *Submitter) Submit(ctx context.Context, m Message) (Result, error) {
	acct := m.Account
	_, size := m.body()
	if m.SentSize > 0 {
		size = m.SentSize
	}
	if err := s.check(acct, len(m.Rcpts), size); err != nil {
		return Result{}, err
	}
	from, err := store.NormalizeAddress(m.MailFrom)
	if err != nil {
		return Result{}, fmt.Errorf("submit for %s: envelope sender %q: %w", acct.Address, m.MailFrom, ErrSpoofed)
	}
	if ok, err := s.MaySendAs(ctx, acct, from); err != nil || !ok {
		if err == nil {
			err = ErrSpoofed
		}
		return Result{}, fmt.Errorf("submit for %s: envelope sender %q: %w", acct.Address, m.MailFrom, err)
	}
	m.MailFrom = from
	rcpts := make([]string, 0, len(m.Rcpts))
	var seen map[string]bool // for many recipients; a few are looked through
	for _, r := range m.Rcpts {
		a, err := store.NormalizeAddress(r)
		if err != nil {
			return Result{}, fmt.Errorf("submit for %s: recipient %q: %w", acct.Address, r, ErrBadRecipient)
		}
		switch {
		case len(m.Rcpts) <= 16 && slices.Contains(rcpts, a), seen[a]:
			continue
		case len(m.Rcpts) > 16:
			if seen == nil {
				seen = make(map[string]bool, len(m.Rcpts))
			}
			seen[a] = true
		}
		rcpts = append(rcpts, a)
		if sa, _ := store.SendAddress(r); sa != a {
			if m.sendAs == nil {
				m.sendAs = map[string]string{}
			}
			m.sendAs[a] = sa
		}
	}
	info, orig, err := s.prepare(&m)
	if err != nil {
		return Result{}, fmt.Errorf("submit for %s: %w", acct.Address, err)
	}
	if err := checkFrom(orig, func(a string) (bool, error) { return s.MaySendAs(ctx, acct, a) }); err != nil {
		return Result{}, fmt.Errorf("submit for %s: %w", acct.Address, err)
	}

	res, err := s.store(ctx, m, acct, rcpts, info, s.now())
	if err != nil {
		return Result{}, err
	}
	s.wake()
	return res, nil
}

// Check makes Submit's checks that need nothing but the message's
// recipients and size, for a front end that holds a message before
// submitting it (the webmail's undo send): so that the sender learns at
// once what would refuse it later. Submit makes them again.
func (s *Submitter) Check(ctx context.Context, acct store.Account, rcpts []string, size int64) error {
	if err := s.check(acct, len(rcpts), size); err != nil {
		return err
	}
	for _, r := range rcpts {
		if _, err := store.NormalizeAddress(r); err != nil {
			return fmt.Errorf("submit for %s: recipient %q: %w", acct.Address, r, ErrBadRecipient)
		}
	}
	return s.Allowed(ctx, acct.ID)
}

// check is the start of Submit and Check.
func (s *Submitter) check(acct store.Account, rcpts int, size int64) error {
	switch {
	case !acct.Enabled:
		return fmt.Errorf("submit for %s: %w", acct.Address, ErrDisabled)
	case rcpts == 0:
		return fmt.Errorf("submit for %s: %w", acct.Address, ErrBadRecipient)
	case rcpts > s.limits.MaxRecipients:
		return fmt.Errorf("submit for %s: %d recipients, limit %d: %w", acct.Address, rcpts, s.limits.MaxRecipients, ErrTooManyRecipients)
	case s.limits.MaxMessageBytes > 0 && size > s.limits.MaxMessageBytes:
		return fmt.Errorf("submit for %s: %d bytes, limit %d: %w", acct.Address, size, s.limits.MaxMessageBytes, ErrTooBig)
	}
	return nil
}

// Refusal is what to tell the sender of an error of Submit or Check that
// their message or account causes, in words for a person; ok is false
// for the others (the system's, to retry or to log).
func (s *Submitter) Refusal(err error) (msg string, ok bool) {
	var le *store.SendLimitError
	switch {
	case errors.Is(err, ErrDisabled):
		return "your address was disabled by an administrator", true
	case errors.Is(err, ErrSpoofed):
		return "the sender is not your address", true
	case errors.Is(err, ErrNoRoute):
		return "a recipient is not a protected address of a domain that is not relayed to", true
	case errors.Is(err, ErrBadRecipient):
		return "no recipient, or a recipient address is not valid", true
	case errors.Is(err, ErrTooManyRecipients):
		return fmt.Sprintf("too many recipients (at most %d)", s.limits.MaxRecipients), true
	case errors.Is(err, ErrHeaderTooBig):
		return fmt.Sprintf("the message's header is too big to send (at most %d KB or %d lines)", dkim.MaxHeaderBytes>>10, dkim.MaxHeaderLines), true
	case errors.Is(err, ErrNUL):
		return "the message contains a NUL byte (character 0), which mail cannot carry: remove the attachment or text that holds it", true
	case errors.Is(err, ErrTooBig):
		return fmt.Sprintf("the message is too big to send (at most %.1f MB)", float64(s.limits.MaxMessageBytes)/1e6), true
	case errors.Is(err, ErrRateLimited) && errors.As(err, &le):
		return fmt.Sprintf("you sent too many messages this hour; try again after %s", le.RetryAt.UTC().Format("15:04 MST")), true
	case errors.Is(err, ErrRateLimited):
		return "you sent too many messages this hour; try again later", true
	}
	return "", false
}

// prepare parses m, completes its header and counts its originator
// fields. A spooled message is parsed from its mapping and stays on disk.
func (s *Submitter) prepare(m *Message) (*message.Info, originators, error) {
	if m.Spool != nil {
		var info *message.Info
		var orig originators
		err := m.Spool.Map(func(b []byte) error {
			if err := checkHeaderSize(b); err != nil {
				return err
			}
			if err := message.CheckHeader(b); err != nil {
				return err
			}
			lines := message.ScanLines(b)
			if err := checkNUL(b, lines); err != nil {
				return err
			}
			info = message.Parse(b)
			orig = countOriginators(b, info)
			m.long, m.bcc, m.resent = lines.Long, hasBcc(b), hasField(b, isResentName)
			m.unsent = hasField(b, isUnsentName)
			return nil
		})
		if err != nil {
			return nil, orig, fmt.Errorf("parse spooled message: %w", err)
		}
		m.info = info
		return info, orig, nil
	}
	if err := checkHeaderSize(m.Body); err != nil {
		return nil, originators{}, err
	}
	if err := message.CheckHeader(m.Body); err != nil {
		return nil, originators{}, err
	}
	// RFC 6409 8.3, 8.1: a missing Message-ID and Date are added, and
	// the Sender a From of several mailboxes requires (RFC 5322 3.6.2;
	// the listener does it while the message streams in).
	m.Body = completeHeader(m.Body, domainOf(m.Account.Address), m.Account.Address, s.now())
	lines := message.ScanLines(m.Body)
	if err := checkNUL(m.Body, lines); err != nil {
		return nil, originators{}, err
	}
	info := message.Parse(m.Body)
	m.info, m.long, m.bcc, m.resent = info, lines.Long, hasBcc(m.Body), hasField(m.Body, isResentName)
	m.unsent = hasField(m.Body, isUnsentName)
	return info, countOriginators(m.Body, info), nil
}

// checkNUL refuses a message whose lines (message.ScanLines) have a NUL
// byte, saying on which line; message.CheckHeader refused one in the
// header before.
func checkNUL(raw []byte, lines message.Lines) error {
	if lines.NUL < 0 {
		return nil
	}
	return fmt.Errorf("line %d: %w", 1+bytes.Count(raw[:lines.NUL], []byte("\n")), ErrNUL)
}

// domainOf is the domain of an address, for the Message-IDs made for it.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// body returns a reader of m's message and its size.
func (m *Message) body() (io.Reader, int64) {
	if m.Spool != nil {
		return m.Spool.Reader(), m.Spool.Size()
	}
	return bytes.NewReader(m.Body), int64(len(m.Body))
}

func (s *Submitter) store(ctx context.Context, m Message, acct store.Account, rcpts []string, info *message.Info, now time.Time) (Result, error) {
	res := Result{MessageID: info.MessageID}
	body, size := m.body()
	base := msglog.Message(now, info, acct.Address, size, m.RemoteIP)
	submitted := msglog.With(base, msglog.Submitted, strings.Join(rcpts, ", "), acct.DomainID,
		fmt.Sprintf("for %d recipient(s)", len(rcpts)))
	sentEv := msglog.With(base, msglog.Stored, acct.Address, acct.DomainID, store.Sent)

	// A copy its mailbox holds already (the same message submitted
	// again after a lost 250) is logged as a duplicate, not stored twice
	// (issue 13 part 5); what is queued is queued all the same.
	sent := &store.Delivery{Body: body, Size: size, Info: info, Received: now,
		Copies:          []store.Copy{{AccountID: acct.ID, Mailbox: store.Sent, Flags: store.FlagSeen, Event: sentEv}},
		Events:          []store.LogEvent{submitted},
		DuplicateStatus: msglog.Duplicate,
		// Counted and checked in the same transaction (store's
		// sendlimit.go): 8 sessions racing past the limit get exactly
		// the limit through.
		Limit: s.sendLimit(acct.ID)}
	out := sent
	og, err := m.outgoing()
	if err != nil {
		return Result{}, fmt.Errorf("submit for %s: %w", acct.Address, err)
	}
	kept, err := m.sentWithBcc(rcpts)
	if err != nil {
		if og != nil {
			og.close()
		}
		return Result{}, fmt.Errorf("submit for %s: %w", acct.Address, err)
	}
	if kept != nil {
		// The Sent copy names the Bcc recipients the client left out;
		// what is sent is the message as the client gave it.
		defer kept.close()
		sent.Body, sent.Size, sent.Info = kept.open(), kept.size, kept.info
		if og == nil {
			og = m.asSubmitted()
		}
	}
	if og != nil {
		// The Sent copy keeps what the user sent; the rest gets what is
		// sent, in a delivery of its own committed with it. Both stream
		// from their spools.
		defer og.close()
		out = &store.Delivery{Body: og.open(), Size: og.size, Info: og.info, Received: now,
			DuplicateStatus: msglog.Duplicate}
		info = og.info
		if og.converted {
			// What was sent comes back journaled with this body,
			// which the Sent copy's key does not match.
			sent.KeyAlso = out
		}
	}
	var relay []string
	// protected are the relayed recipients that got their continuity
	// INBOX copy here: their queue entries are only the copies for
	// their primary mailboxes, which notifications about them say.
	var protected map[string]bool
	// delivered are the recipients whose INBOX copy is their only
	// delivery (continuity only) and who asked to hear of success.
	var delivered []string
	// domains are the recipient domains looked up here, for those whose
	// route RCPT did not decide (all of a webmail message's).
	var domains map[string]*store.Domain
	for _, r := range rcpts {
		rt, ok := m.routes[r]
		if !ok {
			if domains == nil {
				domains = map[string]*store.Domain{}
			}
			var err error
			if rt, err = s.route(ctx, r, domains); err != nil {
				return Result{}, fmt.Errorf("submit for %s: %w", acct.Address, err)
			}
		}
		if a := rt.local; a != nil {
			// A protected colleague sees it in their continuity INBOX at
			// once; it is relayed too, for their primary mailbox, unless
			// their domain is "continuity only".
			detail := store.Inbox
			if !rt.relay {
				detail += " (continuity only: not relayed)"
				res.Kept++
				if queue.Wants(m.DSN[r], "SUCCESS") {
					delivered = append(delivered, r)
				}
			}
			ev := msglog.With(base, msglog.Stored, r, a.DomainID, detail)
			if r != a.Address {
				ev.Account = a.Address // a sub-address (RFC 5233) of a's
			}
			out.Copies = append(out.Copies, store.Copy{AccountID: a.ID, Mailbox: store.Inbox, Event: ev})
			res.Local++
		}
		if rt.relay {
			relay = append(relay, r)
			if rt.local != nil {
				if protected == nil {
					protected = map[string]bool{}
				}
				protected[r] = true
			}
		}
	}
	res.Queued = len(relay)
	// The return path is the envelope sender the client gave (a
	// sub-address, an allowed alias): bounces come back to the address
	// the message went out as, and DKIM signs for its domain.
	send := relay
	if m.sendAs != nil {
		send = make([]string, len(relay))
		for i, r := range relay {
			send[i] = cmp.Or(m.sendAs[r], r)
		}
	}
	entries, queued := queue.Outbound(acct.ID, acct.DomainID, m.MailFrom, send, info, out.Size, now)
	for i := range queued {
		queued[i].RemoteIP = m.RemoteIP
	}
	for i := range entries {
		entries[i].DSN = m.DSN[relay[i]]
		entries[i].Continuity = protected[relay[i]]
		entries[i].Origin = m.Origin
	}
	out.Outbound = entries
	out.Events = append(out.Events, queued...)
	ds := []*store.Delivery{sent}
	if out != sent {
		ds = append(ds, out)
	}
	if len(delivered) > 0 {
		// RFC 3461 4.2: the continuity INBOX is where these recipients'
		// mail is delivered, so we report it as a final delivery agent
		// does, in the same transaction.
		var header bytes.Buffer
		src, _ := m.body()
		if og != nil {
			src = og.open()
		}
		if _, err := io.Copy(&header, io.LimitReader(src, min(info.Part.BodyStart, maxNoticeHeader))); err != nil {
			return Result{}, fmt.Errorf("read header for delivery notification: %w", err)
		}
		e := store.QueueEntry{MailFrom: acct.Address, MessageID: info.MessageID, Subject: info.Subject, Queued: now,
			DSN: m.DSN[delivered[0]]}
		raw, err := queue.Delivered(s.hostname, e, delivered, m.DSN, header.Bytes(), now)
		if err != nil {
			return Result{}, fmt.Errorf("delivery notification for %s: %w", acct.Address, err)
		}
		ds = append(ds, store.NewDelivery(raw, now))
		ds[len(ds)-1].Copies = []store.Copy{{AccountID: acct.ID, Mailbox: store.Inbox}}
	}
	if _, err := s.st.DeliverAll(ctx, ds...); err != nil {
		if errors.Is(err, store.ErrSendLimit) {
			return Result{}, fmt.Errorf("submit for %s: %w: %w", acct.Address, ErrRateLimited, err)
		}
		return Result{}, fmt.Errorf("store and queue message of %s: %w", acct.Address, err)
	}
	return res, nil
}

// maxNoticeHeader bounds the original header a delivery notification
// returns.
const maxNoticeHeader = 64 << 10

// originatorFields are the header fields that name who sent a message
// (RFC 5322 3.6.2) or who resent it (3.6.6): a reader is shown any of
// them, so each address in each of them must be one the user may use.
var originatorFields = []string{"From", "Sender", "Resent-From", "Resent-Sender"}

// originators are the originator fields of a message's header, as every
// reader splits it (message.Fields): how many of each, and every address
// they name, read from the whole field. The envelope message.Parse
// builds holds only the first From and Sender, cut at its bounds, and no
// Resent- field, while a reader's mail program may show any of them: a
// second From, a Resent-From or an address past the bounds was a way to
// show a foreign address past checkFrom.
type originators struct {
	count map[string]int // fields by their name in originatorFields
	addrs []originator
}

// originator is one address of an originator field.
type originator struct {
	field string // as in originatorFields
	addr  message.Address
}

func countOriginators(raw []byte, info *message.Info) originators {
	o := originators{count: map[string]int{}}
	for name, field := range message.Fields(info.Part.Header(raw)) {
		i := slices.IndexFunc(originatorFields, func(f string) bool { return strings.EqualFold(name, f) })
		if i < 0 {
			continue
		}
		o.count[originatorFields[i]]++
		_, value, _ := bytes.Cut(field, []byte(":"))
		for _, a := range message.AddressList(value) {
			if !a.GroupStart && !a.GroupEnd {
				o.addrs = append(o.addrs, originator{field: originatorFields[i], addr: a})
			}
		}
	}
	return o
}

// mailboxes is how many addresses the originator fields named field hold.
func (o originators) mailboxes(field string) int {
	n := 0
	for _, a := range o.addrs {
		if a.field == field {
			n++
		}
	}
	return n
}

// checkFrom requires every address of every originator field (From,
// Sender, Resent-From, Resent-Sender) to be one the user may send as
// (RFC 6409 8.1 lets a submission server refuse what is not the user's):
// the Sender field is what a reader is shown as the one who sent the
// message "on behalf of" the From, a Resent-From who redirected it. A
// message with no From header address is refused too: RFC 5322 3.6
// requires one, and the recipient would not know who wrote. One with
// more than one From or Sender field is refused (RFC 5322 3.6 allows one
// of each): which of them a reader is shown depends on their mail
// program. Resent- fields come in one block per redirect, and a message
// redirected before may carry several (RFC 5322 3.6.6): each is checked.
func checkFrom(orig originators, mayUse func(addr string) (bool, error)) error {
	if from, sender := orig.count["From"], orig.count["Sender"]; from > 1 || sender > 1 {
		return fmt.Errorf("%d From and %d Sender fields: %w", from, sender, ErrSpoofed)
	}
	if orig.mailboxes("From") == 0 {
		return fmt.Errorf("no From header address: %w", ErrSpoofed)
	}
	// A field may name an address many times (up to the header's
	// bound): each is looked up once.
	checked := map[string]bool{}
	for _, o := range orig.addrs {
		key := o.addr.Mailbox + "@" + o.addr.Host
		if checked[key] {
			continue
		}
		if err := mayUseAddr(mayUse, o.addr); err != nil {
			return fmt.Errorf("%s header address %s: %w", o.field, key, err)
		}
		checked[key] = true
	}
	return nil
}

// mayUseAddr is nil when the user may use a header address, ErrSpoofed
// when not (an address that is no address included), or the error of the
// look-up.
func mayUseAddr(mayUse func(addr string) (bool, error), a message.Address) error {
	addr, err := store.NormalizeAddress(a.Mailbox + "@" + a.Host)
	if err != nil {
		return ErrSpoofed
	}
	ok, err := mayUse(addr)
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrSpoofed
	}
	return nil
}

// stripUnsent returns the message without the header fields that are not
// sent (isUnsentName; with their continuation lines), and whether it had
// any. Only the header section is looked at: it ends at the first empty
// line.
func stripUnsent(body []byte) ([]byte, bool) {
	var out bytes.Buffer
	out.Grow(len(body))
	found, _ := copyWithoutUnsent(&out, bytes.NewReader(body))
	if !found {
		return body, false
	}
	return out.Bytes(), true
}

// isBccName reports whether a header field name (as written before its
// colon) is Bcc or Resent-Bcc: RFC 5322 3.6.6 gives Resent-Bcc the
// semantics of Bcc, so what is sent must not show it either.
func isBccName(name []byte) bool {
	name = bytes.TrimRight(name, " \t")
	return bytes.EqualFold(name, []byte("Bcc")) || bytes.EqualFold(name, []byte("Resent-Bcc"))
}

// isUnsentName reports whether a header field name is one that what is
// sent must not carry, though the Sent copy keeps it: Bcc and Resent-Bcc
// (isBccName), and Return-Path, which the final delivery MTA adds (RFC
// 5321 4.4: an originating system SHOULD NOT send it); a client's own
// would be forged trace information.
func isUnsentName(name []byte) bool {
	return isBccName(name) || bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte("Return-Path"))
}

// isResentName reports whether a header field name is one of the
// Resent- fields of RFC 5322 3.6.6, which a redirected message carries.
func isResentName(name []byte) bool {
	return len(name) > len("Resent-") && bytes.EqualFold(name[:len("Resent-")], []byte("Resent-"))
}

// bccFragment is the bytes of a line copyWithoutUnsent holds at once.
const bccFragment = 64 << 10

// copyWithoutUnsent copies a message from r to w without its header
// fields that are not sent (isUnsentName: Bcc and Resent-Bcc, RFC 5322
// 3.6.3, and Return-Path) and reports whether it had any. It streams: only bccFragment
// bytes are held, whatever the lengths of the message and of its header
// lines.
func copyWithoutUnsent(w io.Writer, r io.Reader) (found bool, err error) {
	br := bufio.NewReaderSize(r, bccFragment)
	skipping, midLine := false, false
	for {
		frag, rerr := br.ReadSlice('\n')
		if len(frag) == 0 {
			if rerr == io.EOF {
				return found, nil
			}
			return found, rerr
		}
		switch {
		case midLine:
			// The rest of a long line: it goes where its start went.
		case len(bytes.TrimRight(frag, "\r\n")) == 0 && rerr != bufio.ErrBufferFull:
			// The end of the header section: the rest is copied as is.
			if _, err := w.Write(frag); err != nil {
				return found, err
			}
			_, err := io.Copy(w, br)
			return found, err
		case frag[0] == ' ' || frag[0] == '\t':
			// A continuation line goes with its field.
		default:
			colon := bytes.IndexByte(frag, ':')
			skipping = colon > 0 && isUnsentName(frag[:colon])
			found = found || skipping
		}
		if !skipping {
			if _, err := w.Write(frag); err != nil {
				return found, err
			}
		}
		midLine = rerr == bufio.ErrBufferFull
		switch {
		case rerr == io.EOF:
			return found, nil
		case rerr != nil && rerr != bufio.ErrBufferFull:
			return found, rerr
		}
	}
}

// outgoing is what is sent of a message when it differs from the Sent
// copy.
type outgoing struct {
	open  func() io.Reader // the bytes from their start
	size  int64
	info  *message.Info
	close func()
	// converted: long lines re-encoded, so that its body may differ
	// from the Sent copy's, not only its header.
	converted bool
}

// outgoing returns what is sent of m, nil when it is the Sent copy's
// bytes: without its Bcc fields (RFC 5322 3.6.3), and with no line over
// 998 octets (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1), which strict servers
// refuse or cut, breaking the message and its DKIM signature: the parts
// with such lines re-encoded and long header lines folded
// (message.NeedShortLines), so that what the queue signs and sends is
// what arrives. The Sent copy keeps what the user sent. A header line
// that cannot be folded is an error wrapping ErrLongLine. A spooled
// message is copied into further spools (memory, then an unlinked file,
// on the same in-flight budget), so that memory does not grow with
// message size here either; the caller closes what it returns.
func (m *Message) outgoing() (*outgoing, error) {
	out, err := m.withoutUnsent()
	if err != nil || !m.long {
		return out, err
	}
	src := out
	if src == nil {
		src = m.asSubmitted()
	}
	plan, err := message.Plan(src.info, src.open(), message.NeedShortLines)
	if err != nil || plan == nil {
		if err != nil {
			src.close()
			if errors.Is(err, message.ErrLongLine) {
				err = fmt.Errorf("%w: %w", ErrLongLine, err)
			}
			return nil, fmt.Errorf("plan short lines: %w", err)
		}
		return out, nil
	}
	defer src.close()
	if m.Spool == nil {
		var b bytes.Buffer
		if err := plan.Write(&b, src.open()); err != nil {
			return nil, fmt.Errorf("re-encode long lines: %w", err)
		}
		out := inMemory(b.Bytes())
		out.converted = true
		return out, nil
	}
	out, err = m.spoolOut("re-encode long lines", func(w io.Writer) error { return plan.Write(w, src.open()) })
	if out != nil {
		out.converted = true
	}
	return out, err
}

// asSubmitted is m as the client gave it (its Message-ID and Date
// completed), read from m's own spool or Body: closing it closes nothing.
func (m *Message) asSubmitted() *outgoing {
	if m.Spool != nil {
		return &outgoing{open: m.Spool.Reader, size: m.Spool.Size(), info: m.info, close: func() {}}
	}
	return &outgoing{open: func() io.Reader { return bytes.NewReader(m.Body) }, size: int64(len(m.Body)), info: m.info, close: func() {}}
}

// sentWithBcc returns the Sent copy of m with a Bcc field naming the
// envelope recipients (rcpts, normalised) that its To and Cc do not, nil
// when there are none or m has a Bcc field already. Mail clients (mutt,
// Thunderbird, Apple Mail) strip Bcc from what they submit and APPEND
// their own Sent copy with it, which the duplicate rule (store/dedup.go:
// same Message-ID and body) then drops for ours: without the field the
// user could not see whom they Bcc'd. A message with Resent- fields is a
// redirect (RFC 5322 3.6.6), whose recipients those fields name: it is
// kept as it is.
func (m *Message) sentWithBcc(rcpts []string) (*outgoing, error) {
	if m.bcc || m.resent {
		return nil, nil
	}
	shown := map[string]bool{}
	for _, a := range envelopeAddrs(m.info.Envelope.To, m.info.Envelope.Cc) {
		if n, err := store.NormalizeAddress(a); err == nil {
			shown[n] = true
		}
	}
	var hidden []string
	for _, r := range rcpts {
		if !shown[r] {
			hidden = append(hidden, r)
		}
	}
	if len(hidden) == 0 {
		return nil, nil
	}
	field := bccField(hidden)
	if m.Spool == nil {
		return inMemory(append(field, m.Body...)), nil
	}
	return m.spoolOut("Sent copy with Bcc", func(w io.Writer) error {
		if _, err := w.Write(field); err != nil {
			return err
		}
		_, err := io.Copy(w, m.Spool.Reader())
		return err
	})
}

// bccField is a Bcc header field of addrs, folded before 78 characters
// where it can be (RFC 5322 2.1.1).
func bccField(addrs []string) []byte {
	b := []byte("Bcc: ")
	line := len(b)
	for i, a := range addrs {
		if i > 0 {
			b = append(b, ',')
			line++
			if line+1+len(a) > 78 {
				b = append(b, "\r\n"...)
				line = 0
			}
			b = append(b, ' ')
			line++
		}
		b = append(b, a...)
		line += len(a)
	}
	return append(b, "\r\n"...)
}

// inMemory is an outgoing message held in b.
func inMemory(b []byte) *outgoing {
	return &outgoing{open: func() io.Reader { return bytes.NewReader(b) }, size: int64(len(b)), info: message.Parse(b), close: func() {}}
}

// spoolOut is an outgoing message that write puts into a spool beside
// m's; doing names the step in errors.
func (m *Message) spoolOut(doing string, write func(io.Writer) error) (*outgoing, error) {
	sp := m.Spool.Sibling()
	if err := write(sp); err != nil {
		sp.Close()
		return nil, fmt.Errorf("%s: %w", doing, spoolErr(err))
	}
	info, err := sp.Parse()
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("%s: parse the result: %w", doing, err)
	}
	return &outgoing{open: sp.Reader, size: sp.Size(), info: info, close: sp.Close}, nil
}

// spoolErr is a spool's write error, a full budget made the store's
// "mail system full for now" (RFC 3463 4.3.1): try later.
func spoolErr(err error) error {
	if errors.Is(err, smtpserver.ErrBudget) {
		return fmt.Errorf("%w: %w", store.ErrStorageFull, err)
	}
	return err
}

// withoutUnsent returns m without its fields that are not sent
// (isUnsentName), nil when it has none (prepare looked).
func (m *Message) withoutUnsent() (*outgoing, error) {
	if !m.unsent {
		return nil, nil
	}
	if m.Spool == nil {
		b, _ := stripUnsent(m.Body)
		return inMemory(b), nil
	}
	return m.spoolOut("copy without Bcc and Return-Path", func(w io.Writer) error {
		_, err := copyWithoutUnsent(w, m.Spool.Reader())
		return err
	})
}
