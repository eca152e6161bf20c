// Package store owns xtramail's data model: tenants (domains), protected
// addresses (accounts), their mailboxes and messages, the message log and the
// change feed. It defines the Store interface that every backend implements
// and the error kinds that front ends map to wire answers. Backends live in
// sub-packages (store/sqlite now, store/postgres later) and must pass the
// conformance suite in store/storetest.
//
// Protocol code (capture, IMAP, webmail) talks to a Store and never to SQL.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/xtramail/xtramail/internal/message"
)

// Error kinds. Backends wrap them with detail; front ends test with
// errors.Is and map each kind once to an SMTP, IMAP or HTTP answer.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
	ErrNotEmpty = errors.New("not empty")
	ErrDisabled = errors.New("disabled")
	// ErrModified reports that a conditional change (IMAP UNCHANGEDSINCE)
	// was refused because the message changed since the given modseq.
	ErrModified = errors.New("modified since")
	// ErrStorageFull reports that the disk (or object store) holding
	// metadata or bodies has no room left. It is temporary: SMTP answers
	// 452 4.3.1 (RFC 3463 4.3.1, "mail system full"), IMAP a NO that a
	// client may retry.
	ErrStorageFull = errors.New("storage full")
	// ErrLimit reports a change that would pass one of the bounds below
	// (MaxKeywords, MaxKeywordLen) or a backend's bound on an account's
	// mailboxes (DefaultMaxMailboxes): IMAP answers NO [LIMIT] (RFC 5530).
	ErrLimit = errors.New("over a limit")
)

// MaxKeywords bounds the keywords in use in one mailbox (Mailbox.Keywords),
// and so those of each of its messages. Mail clients use a handful (Apple
// Mail's $MailFlagBit0..2, Thunderbird's tags); Cyrus allows 128. Without
// a bound one user's 9,000 keywords made a STORE cost 30 s of CPU.
const MaxKeywords = 1000

// DefaultMaxMailboxes is the default bound on an account's mailboxes,
// its default ones included; a backend may be configured with another.
// Without one, a client made hundreds of thousands of mailbox rows
// (3,000 pipelined CREATEs of 512-byte names all succeeded) that every
// LIST then reads. A continuity copy has no reason to hold more folders
// than a mail client shows comfortably; as many as MaxKeywords.
const DefaultMaxMailboxes = 1000

// MaxKeywordLen bounds a keyword's length in bytes (Dovecot's default
// mail_max_keyword_length is 50).
const MaxKeywordLen = 100

// CheckKeywords reports whether keywords can be stored: each an IMAP
// atom without wildcards (ErrInvalid) and at most MaxKeywordLen bytes,
// and not more than MaxKeywords (ErrLimit).
func CheckKeywords(keywords []string) error {
	if len(keywords) > MaxKeywords {
		return fmt.Errorf("%d keywords, more than %d: %w", len(keywords), MaxKeywords, ErrLimit)
	}
	for _, k := range keywords {
		if k == "" || strings.ContainsAny(k, " ()\\{%*\"]") || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return fmt.Errorf("keyword %q: %w", k, ErrInvalid)
		}
		if len(k) > MaxKeywordLen {
			return fmt.Errorf("keyword of %d bytes, longer than %d: %w", len(k), MaxKeywordLen, ErrLimit)
		}
	}
	return nil
}

// DedupKeywords returns keywords with repeats removed, keeping the first
// of each: keywords compare case-insensitively (RFC 9051 section 2.3.2).
func DedupKeywords(keywords []string) []string {
	seen := make(map[string]bool, len(keywords))
	out := make([]string, 0, len(keywords))
	for _, k := range keywords {
		if l := strings.ToLower(k); !seen[l] {
			seen[l] = true
			out = append(out, k)
		}
	}
	return out
}

// DefaultRetentionDays is the rolling window for a domain created without
// an explicit one.
const DefaultRetentionDays = 30

// Domain is a tenant's mail domain; continuity is enabled per address
// within it.
type Domain struct {
	ID            int64
	Name          string // lower case, ASCII (IDNA) form
	RetentionDays int
	CreatedAt     time.Time
	// CustomerID is the customer owning the domain (DefaultCustomerID
	// unless created under another); the rest are its DomainSettings.
	CustomerID  int64
	WholeDomain bool
	AllowedIPs  []string
	RelayHost   string
	// ContinuityOnly: mail submitted to the domain's protected
	// addresses goes to their continuity INBOX only, never relayed
	// (DomainSettings.ContinuityOnly).
	ContinuityOnly bool
	// RecipientDelimiter separates a sub-address's tag (RFC 5233,
	// DomainSettings.RecipientDelimiter); "" for none.
	RecipientDelimiter string
}

// Account is a protected address: the unit that owns mailboxes and signs in.
type Account struct {
	ID           int64
	DomainID     int64
	Address      string // lower case local@domain
	PasswordHash string // argon2id PHC string; empty means no sign-in yet
	Enabled      bool   // continuity on: capture accepts copies, sign-in allowed
	CreatedAt    time.Time
}

// SignInRevoked says why a session signed in as was must end given the
// account now (cur, err as AccountByID returned them), or "" when it may
// go on: the account was removed (ErrNotFound) or disabled, or its
// password changed since the sign-in. Every signed-in front end (IMAP,
// submission) asks it, so that `user disable`, `remove` and `passwd` end
// them all alike. A failing store (another err) is no reason to sign
// everyone out.
func SignInRevoked(was, cur Account, err error) string {
	switch {
	case errors.Is(err, ErrNotFound):
		return "account removed"
	case err != nil:
		return ""
	case !cur.Enabled:
		return "account disabled"
	case cur.PasswordHash != was.PasswordHash:
		return "password changed: sign in again"
	}
	return ""
}

// Special-use mailboxes (RFC 6154) every account has from creation.
const (
	Inbox  = "INBOX"
	Sent   = "Sent"
	Drafts = "Drafts"
	Trash  = "Trash"
)

// DefaultMailboxes are created with every account, with their special use.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{Inbox, ""},
	{Sent, `\Sent`},
	{Drafts, `\Drafts`},
	{Trash, `\Trash`},
}

// Mailbox is a folder of an account. Counters are kept in the row so that
// SELECT and STATUS never count messages.
type Mailbox struct {
	ID            int64
	AccountID     int64
	Name          string
	SpecialUse    string
	Subscribed    bool
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      uint32 // not expunged
	Unseen        uint32 // not expunged and without \Seen
	Size          int64  // bytes of messages not expunged
	// Keywords are those used in the mailbox: every keyword a message of
	// it got (delivered, copied, moved or stored) since it was created.
	// The set only grows; IMAP lists it in FLAGS (RFC 9051 7.3.5).
	Keywords []string
	// RecentUID is the highest UID an IMAP session claimed as \Recent
	// (ClaimRecent); messages above it are recent to the next one.
	RecentUID uint32
}

// Flags holds the IMAP system flags as a bit mask. \Recent is a property of
// an IMAP session, not of the store.
type Flags uint32

const (
	FlagSeen Flags = 1 << iota
	FlagAnswered
	FlagFlagged
	FlagDeleted
	FlagDraft
)

// Message is one copy of a message in one mailbox.
type Message struct {
	ID          int64
	AccountID   int64
	MailboxID   int64
	UID         uint32
	ModSeq      uint64
	Flags       Flags
	Keywords    []string
	Received    time.Time // IMAP INTERNALDATE (the retention window counts from arrival: see Purge)
	Size        int64
	BodyID      int64
	Expunged    bool   // deleted by the user, restorable until purged
	ExpungedMod uint64 // modseq of the expunge, when Expunged
	Subject     string // decoded, for lists and the message log
	From        string
	MessageID   string
	Preview     string
}

// UIDRange is an inclusive range of UIDs.
type UIDRange struct{ First, Last uint32 }

// SearchTerm is a string that a message must contain in one place, for
// Store.SearchCandidates: what an IMAP SEARCH key other than flags,
// dates and sizes asks for.
type SearchTerm struct {
	Field SearchField
	// Header names the field of SearchHeader, case-insensitively.
	Header string
	Value  string
}

// SearchField says where a SearchTerm's value must occur.
type SearchField int

const (
	// SearchAnywhere is IMAP TEXT: any header field, the MIME headers of
	// the parts, or the body.
	SearchAnywhere SearchField = iota
	// SearchBody is IMAP BODY: the text of the body (text parts, HTML as
	// text, embedded messages).
	SearchBody
	// SearchSubject to SearchBcc are those top-level header fields,
	// address fields also as parsed addresses (mailbox@host).
	SearchSubject
	SearchFrom
	SearchTo
	SearchCc
	SearchBcc
	// SearchHeader is the top-level header field named Header (IMAP
	// HEADER).
	SearchHeader
)

// MessageFlags is the lean view of a message for flag work.
type MessageFlags struct {
	ID       int64
	UID      uint32
	ModSeq   uint64
	Flags    Flags
	Keywords []string
}

// FlagOp says how StoreFlags combines flags (IMAP FLAGS, +FLAGS, -FLAGS).
type FlagOp int

const (
	FlagsReplace FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// CopiedUID maps a source UID to its new UID (IMAP COPYUID).
type CopiedUID struct{ From, To uint32 }

// Body is the stored raw message shared by all its copies, with what was
// pre-parsed at ingest so that reads never re-parse. Info may be shared
// with other readers (a backend may cache it): never modify it.
type Body struct {
	ID   int64
	Size int64
	Info *message.Info
}

// Copy names where one delivered message goes.
type Copy struct {
	AccountID int64
	Mailbox   string // an existing mailbox of the account, e.g. INBOX or Sent
	Flags     Flags
	Keywords  []string
	// Event, when its Status is set, is this copy's message log record
	// ("stored"), appended in the delivery's transaction when the copy is
	// stored; with Delivery.DuplicateStatus when the copy is a duplicate
	// (see Duplicates in dedup.go), its detail saying which UID holds it.
	Event LogEvent
}

// Delivery is one message to store, once, for one or more copies. It is
// the only way a message enters the store (capture, submission, APPEND).
//
// The body is a reader, not a byte slice, so that a front end can stream
// a large message from a spool file and memory does not grow with message
// size (the S3 backend takes the same reader).
type Delivery struct {
	// Body reads the message as received, line endings normalised to
	// CRLF (only the part bodies of an IMAP APPEND literal8 keep their
	// bytes as given, RFC 3516 section 4.4): exactly Size bytes. Deliver reads it once, from the caller's
	// goroutine, before returning.
	Body     io.Reader
	Size     int64
	Info     *message.Info // pre-parsed from the same bytes; required
	Received time.Time
	// DatedByClient says that Received is a date the client gave (an IMAP
	// APPEND keeps it as INTERNALDATE), not when the message arrived: the
	// store then keeps the arrival, its clock's now, which the retention
	// window counts from (Store.Purge). Other deliveries arrive at
	// Received.
	DatedByClient bool
	Copies        []Copy
	// Events are appended to the message log in the same transaction, so a
	// "stored" record exists exactly when the message does.
	Events []LogEvent
	// Outbound entries are queued for delivery elsewhere, sharing the
	// body; Settle settles queue entries. Both commit with the copies.
	Outbound []Outbound
	Settle   []QueueSettle
	// DuplicateStatus is the status of a copy's Event when the copy is a
	// duplicate; when empty, a duplicate copy with an Event logs nothing
	// (one without is logged by the store: see Duplicates in dedup.go).
	DuplicateStatus LogStatus
	// KeyAlso, when set, is another delivery of the same DeliverAll
	// whose body is this one's as it was sent, converted (submission's
	// long lines re-encoded): this delivery's stored copies hold that
	// body's duplicate key too (dedup.go), so that the converted copy,
	// journaled back from upstream, is a duplicate of the Sent copy.
	// Copies of a message that was not converted need no second key.
	KeyAlso *Delivery
	// Limit, when set, counts the delivery as one message sent by
	// Limit.AccountID at Received, checked and recorded in the delivery's
	// transaction; over it the delivery stores nothing and fails with a
	// *SendLimitError (sendlimit.go).
	Limit *SendLimit
	// DraftKey is the compose page's own key, for SaveDraft and
	// SaveDraftSharing of a new draft (replaces 0): the draft keeps it,
	// so that the page's next save finds it (Compose.DraftByKey) even
	// when the answer with its id was lost. Other deliveries ignore it.
	DraftKey string
}

// NewDelivery parses raw once and returns a Delivery ready for copies.
func NewDelivery(raw []byte, received time.Time) *Delivery {
	return &Delivery{Body: bytes.NewReader(raw), Size: int64(len(raw)), Info: message.Parse(raw), Received: received}
}

// Delivered reports where one copy of a delivery was stored.
type Delivered struct {
	AccountID int64
	MailboxID int64
	MessageID int64
	UID       uint32
	// Duplicate is set when the copy was not stored because the mailbox
	// holds the same message already: MessageID and UID name that one.
	Duplicate bool
}

// LogStatus is the kind of a message log event. The kinds are declared,
// documented and listed by package msglog, their one owner.
type LogStatus string

// LogEvent is one record of the message log.
type LogEvent struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Status    LogStatus `json:"status"`
	MessageID string    `json:"message_id,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	MailFrom  string    `json:"mail_from,omitempty"`
	Rcpt      string    `json:"rcpt,omitempty"`
	Size      int64     `json:"size,omitempty"`
	RemoteIP  string    `json:"remote_ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	// DomainID scopes the record to a tenant; 0 when no local domain is
	// involved (a refused copy for an unknown domain).
	DomainID int64 `json:"domain_id,omitempty"`
	// Account is the protected address that a sub-address (RFC 5233)
	// in MailFrom or Rcpt stands for, when the record is about a copy
	// kept for it: alice@ for rcpt alice+news@. MailFrom and Rcpt keep
	// the address as written; a search by Account's address finds the
	// record too (LogQuery.Address). Empty when no sub-address is
	// involved.
	Account string `json:"account,omitempty"`
}

// LogQuery selects message log records. Zero fields match everything.
type LogQuery struct {
	Address   string // envelope sender or recipient, exact, case-insensitive, or LogEvent.Account
	MessageID string // without angle brackets
	Status    LogStatus
	Since     time.Time
	Until     time.Time
	DomainIDs []int64 // tenant scope; nil means all (the CLI), empty none
	// Subject matches records whose subject contains every word of it
	// (whole words, case-insensitive), through a word index.
	Subject string
	// BeforeTime and BeforeID are a cursor: only records older than the
	// record (BeforeTime, BeforeID) in the newest-first order.
	BeforeTime time.Time
	BeforeID   int64
	Limit      int // default 100, newest first
}

// Change is one event of the change feed. Subscribers re-read what they
// need: the feed says what moved, not the whole new state.
type Change struct {
	AccountID int64
	MailboxID int64
	Kind      ChangeKind
	UID       uint32
	ModSeq    uint64
}

// ChangeKind says what happened to a mailbox.
type ChangeKind int

const (
	ChangeNew ChangeKind = iota + 1
	ChangeFlags
	ChangeExpunge
	// ChangeMailboxes: mailboxes were created, renamed or deleted. For a
	// rename or delete, MailboxID is the mailbox renamed or deleted, so
	// that sessions with it selected re-read it at once.
	ChangeMailboxes
	// ChangeAccount: the account itself was disabled or enabled, given a
	// new password, or removed (MailboxID 0), so that its signed-in
	// sessions check it at once instead of at every command.
	ChangeAccount
)

// PurgeResult counts what one retention pass removed.
type PurgeResult struct {
	Messages int
	Bodies   int
	Bytes    int64
	Events   int // message log records past their own window
	Sends    int // sending-limit records past their window (store.SendLimit)
}

// Store is the whole of xtramail's state. Every method is safe for
// concurrent use. Writes are durable when they return nil: a backend must
// have synced the body and the index entry to stable storage first.
//
// Ids are never reused: a domain, account, mailbox, message, body or log
// record id, once given out, never names another object, even after the
// first was deleted or purged (DESIGN.md: in-memory state keyed by an id
// dies with its object, and a stale id must find nothing, never a
// newcomer). A mailbox's UIDVALIDITY is likewise never given twice.
type Store interface {
	// Domains.
	CreateDomain(ctx context.Context, name string, retentionDays int) (Domain, error)
	Domain(ctx context.Context, name string) (Domain, error)
	Domains(ctx context.Context) ([]Domain, error)
	SetRetention(ctx context.Context, name string, days int) error
	// DeleteDomain fails with ErrNotEmpty while the domain has accounts.
	DeleteDomain(ctx context.Context, name string) error

	// Accounts. CreateAccount creates the DefaultMailboxes too.
	CreateAccount(ctx context.Context, address, passwordHash string) (Account, error)
	Account(ctx context.Context, address string) (Account, error)
	AccountByID(ctx context.Context, id int64) (Account, error)
	Accounts(ctx context.Context, domain string) ([]Account, error)
	SetEnabled(ctx context.Context, address string, enabled bool) error
	SetPassword(ctx context.Context, address, passwordHash string) error
	// DeleteAccount removes the account, its mailboxes and messages.
	DeleteAccount(ctx context.Context, address string) error

	// Deliver stores d.Body once and one message per copy, then appends
	// d.Events, all durably, before returning. A copy that duplicates a
	// message already in its mailbox is not stored again (Duplicates, in
	// dedup.go); its Delivered says so.
	Deliver(ctx context.Context, d *Delivery) ([]Delivered, error)

	// Mailboxes.
	Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error)
	Mailbox(ctx context.Context, accountID int64, name string) (Mailbox, error)

	// Every method below that takes a mailbox, message or body id takes
	// the account it is asked for too (the principal, as signed in): an id
	// of another account's object is ErrNotFound, exactly as an id that
	// never existed, so ids taken from a URL or a stale session cannot
	// reach another tenant's data. A mailbox id that no longer exists is
	// ErrNotFound for every method, lists included: an empty list means
	// an existing, empty mailbox.

	// Mailbox management (IMAP CREATE, RENAME, DELETE, SUBSCRIBE).
	// Names use "/" as the hierarchy delimiter.
	MailboxByID(ctx context.Context, accountID, id int64) (Mailbox, error)
	//
	// CreateMailbox creates a mailbox and its missing parents. A change
	// that would give an account more mailboxes than the backend's bound
	// (DefaultMaxMailboxes unless configured), parents included, is
	// ErrLimit and creates none; the check and the creation are one
	// transaction, so that concurrent ones cannot pass the bound together.
	CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (Mailbox, error)
	// RenameMailbox renames a mailbox and its children. Renaming INBOX
	// moves its messages to the new mailbox and leaves INBOX empty
	// (RFC 9051 6.3.6), and so is bounded as CreateMailbox is. A renamed
	// mailbox keeps its id and UIDVALIDITY.
	// Renaming a mailbox onto or under itself is ErrInvalid.
	RenameMailbox(ctx context.Context, accountID int64, from, to string) error
	// DeleteMailbox removes a mailbox that is neither INBOX nor
	// special-use. Its messages move to Trash, where they stay restorable.
	// Its id is never given to another mailbox.
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	// Subscriptions (IMAP SUBSCRIBE, RFC 9051 section 6.3.7) are a list of
	// names per account, apart from the mailboxes: DeleteMailbox keeps a
	// subscription, CreateMailbox adds none (CreateAccount subscribes the
	// DefaultMailboxes), RenameMailbox renames those of the mailbox and
	// its children. Mailbox.Subscribed says whether a mailbox's name is
	// in the list.
	//
	// SetSubscription adds or removes a name (existing or not); removing
	// one not in the list is ErrNotFound. Subscriptions lists the names
	// in order. SetSubscribed is SetSubscription by a mailbox's id.
	SetSubscription(ctx context.Context, accountID int64, name string, subscribed bool) error
	Subscriptions(ctx context.Context, accountID int64) ([]string, error)
	SetSubscribed(ctx context.Context, accountID, mailboxID int64, subscribed bool) error

	// ClaimRecent makes the messages of a mailbox with a UID above its
	// RecentUID and up to upTo recent to the caller (IMAP \Recent, RFC
	// 3501 section 2.3.2: one session only, across restarts and nodes):
	// it raises RecentUID to upTo and returns the old RecentUID+1, the
	// first UID the caller got (above upTo when none).
	ClaimRecent(ctx context.Context, accountID, mailboxID int64, upTo uint32) (uint32, error)

	// UIDs lists a mailbox's live UIDs in order (for sequence numbers).
	UIDs(ctx context.Context, accountID, mailboxID int64) ([]uint32, error)
	// MessagesByUID lists live messages in the UID ranges (nil: all), in
	// UID order.
	MessagesByUID(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange) ([]Message, error)
	// FlagsByUID is MessagesByUID with only what FETCH FLAGS, STORE and
	// SEARCH by flag need: cheap on a large mailbox.
	FlagsByUID(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange) ([]MessageFlags, error)
	// FirstUnseen returns the lowest UID of a live message without \Seen,
	// or 0 (IMAP [UNSEEN n]).
	FirstUnseen(ctx context.Context, accountID, mailboxID int64) (uint32, error)
	// ChangedSince lists live messages whose modseq is above modseq
	// (CONDSTORE CHANGEDSINCE, QRESYNC).
	ChangedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]MessageFlags, error)
	// VanishedSince lists UIDs expunged from the mailbox at a modseq above
	// modseq, in order (QRESYNC VANISHED).
	VanishedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]uint32, error)
	// StoreFlags changes flags of the messages with these UIDs, all under
	// one new modseq. With unchangedSince > 0, messages whose modseq is
	// above it are left alone and returned in modified (RFC 7162 3.1.3).
	// Messages whose flags do not change keep their modseq.
	StoreFlags(ctx context.Context, accountID, mailboxID int64, uids []uint32, op FlagOp, flags Flags, keywords []string, unchangedSince uint64) (changed []MessageFlags, modified []uint32, err error)
	// Copy copies messages into another mailbox of the same account; the
	// body is shared, not duplicated.
	Copy(ctx context.Context, accountID, from int64, uids []uint32, to int64) ([]CopiedUID, error)
	// Move moves messages into another mailbox of the same account: they
	// vanish from the source (not as deletions) and get new UIDs. When to
	// is from, they get new UIDs in it and their old UIDs vanish (IMAP
	// MOVE into the selected mailbox, RFC 6851 section 3.3).
	Move(ctx context.Context, accountID, from int64, uids []uint32, to int64) ([]CopiedUID, error)
	// ExpungeUIDs soft-deletes messages by UID, like Expunge.
	ExpungeUIDs(ctx context.Context, accountID, mailboxID int64, uids []uint32) error
	// SearchCandidates returns, in order, the UIDs of live messages that
	// may contain every term where it says: a superset, from the
	// full-text index, of the messages where each term's value occurs as
	// a substring, case-insensitively (IMAP SEARCH, RFC 9051 6.4.4),
	// which the caller then checks. With no terms it returns every live
	// message.
	SearchCandidates(ctx context.Context, accountID, mailboxID int64, terms []SearchTerm) ([]uint32, error)
	// ExpungeDeleted soft-deletes the live messages in the UID ranges
	// (nil: all) that carry \Deleted when the write runs, and returns
	// their UIDs in order (IMAP EXPUNGE, UID EXPUNGE, CLOSE). The flag
	// test and the expunge are one transaction: a STORE -FLAGS (\Deleted)
	// acknowledged before it always keeps its message, whatever flags the
	// caller last read (issue 11 part 2). It also returns the modseq the
	// expunge gave the mailbox (0 when nothing was expunged): a session
	// whose view was one modseq below it knows that nothing else changed
	// in between.
	ExpungeDeleted(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange) ([]uint32, uint64, error)

	// Messages. Messages lists a mailbox's live messages in UID order.
	Messages(ctx context.Context, accountID, mailboxID int64) ([]Message, error)
	// Expunged lists a mailbox's deleted, still restorable messages.
	Expunged(ctx context.Context, accountID, mailboxID int64) ([]Message, error)
	// MessagesByID is one page of an account's messages in id order:
	// those with an id above q.AfterID, at most q.Limit of them. It reads
	// only that page, whatever the size of the mailbox (the API's message
	// list pages with it).
	MessagesByID(ctx context.Context, accountID int64, q IDPage) ([]Message, error)
	Message(ctx context.Context, accountID, id int64) (Message, error)
	// Body and OpenBody serve a body that a message or an outbound queue
	// entry of the account refers to (bodies are shared by the copies of
	// one delivery).
	Body(ctx context.Context, accountID, bodyID int64) (Body, error)
	OpenBody(ctx context.Context, accountID, bodyID int64) (io.ReadCloser, error)
	// Expunge soft-deletes messages: they leave the mailbox view but stay
	// restorable until their retention window ends.
	Expunge(ctx context.Context, accountID, mailboxID int64, ids []int64) error
	// Restore brings expunged messages back under new UIDs.
	Restore(ctx context.Context, accountID, mailboxID int64, ids []int64) ([]Delivered, error)

	// Message log.
	AppendLog(ctx context.Context, events ...LogEvent) error
	SearchLog(ctx context.Context, q LogQuery) ([]LogEvent, error)

	// Purge removes, in one bounded batch, messages that arrived before
	// their domain's window at now (at Received, or when stored for a
	// delivery DatedByClient; a copy arrived when its original did),
	// bodies no longer referenced, log records older than logBefore,
	// and the records of sends whose SendLimit window has passed at now
	// (those of accounts that stopped sending included). Callers loop
	// while it reports work.
	Purge(ctx context.Context, now, logBefore time.Time, limit int) (PurgeResult, error)

	// Subscribe calls fn for each change of one account's data until
	// cancel. fn is called after the change is durable (or, should making
	// it durable fail, once it is visible to reads all the same:
	// Announcements) and before the write that made it is acknowledged, so whoever learns of an
	// acknowledged write (another session of the user, a client that
	// waited for the OK) finds its subscriber already told. fn must not
	// block or call the store: it notes the change and returns.
	Subscribe(accountID int64, fn func(Change)) (cancel func())

	// Stats counts what the store holds, from counters (cheap enough for
	// every metrics scrape).
	Stats(ctx context.Context) (Stats, error)

	Queue
	MTASTSCache
	Deliveries
	Webmail
	Conversations
	ConversationRows
	ConversationRekeys
	Compose
	Sessions
	Tenancy
	Sorting
	MessageBodies
	SearchFields
	Copies
	KnownIPs
	SendCounts
	AdminAuth
	AdminBatch
	PendingPasswords
	Throttles
	PendingDeletes
	Announcements
	DraftSharing

	Close() error
}

// Stats is a summary of the store for metrics and the console.
type Stats struct {
	Domains  int64
	Accounts int64
	Messages int64 // live message copies
	Bytes    int64 // their total size
}

// NormalizeAddress lower-cases an address and checks its basic shape
// (local@domain, no spaces or controls, one "@": "ceo@b.test@a.test"
// would be an address of a.test that reads as one of b.test, and an "@"
// in a local part must be quoted, RFC 5321 4.1.2, which is refused
// here). Its domain takes NormalizeDomain's form, A-labels for an
// internationalised one; a UTF-8 local part (RFC 6531) stays as it is.
// It is the one place that decides what an address is.
func NormalizeAddress(addr string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(a, '@')
	if at > 2 && a[0] == '"' && a[at-1] == '"' {
		// A quoted local part that needs no quotes ("alice"@) names the
		// same mailbox as the bare one (RFC 5321 4.1.2, RFC 5322
		// 3.4.1): the rest of the checks decide whether it does.
		a, at = a[1:at-1]+a[at:], at-2
	}
	if at <= 0 || at == len(a)-1 || at > 64 || strings.IndexByte(a, '@') != at {
		return "", fmt.Errorf("address %q: %w", addr, ErrInvalid)
	}
	for _, r := range a {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`<>()[]\,;:"`, r) {
			return "", fmt.Errorf("address %q: %w", addr, ErrInvalid)
		}
	}
	d, err := NormalizeDomain(a[at+1:])
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, ErrInvalid)
	}
	if a = a[:at+1] + d; len(a) > 254 {
		return "", fmt.Errorf("address %q: %w", addr, ErrInvalid)
	}
	return a, nil
}

// SendAddress is addr as it is sent on to another host: NormalizeAddress's
// checks and domain, with the local part's case as given (its needless
// quotes gone). RFC 5321 2.4: a local part is case-sensitive, and only
// the host of its domain may read it otherwise; addresses are compared
// here in NormalizeAddress's form.
func SendAddress(addr string) (string, error) {
	n, err := NormalizeAddress(addr)
	if err != nil {
		return "", err
	}
	a := strings.TrimSpace(addr)
	local := a[:strings.LastIndexByte(a, '@')]
	if len(local) > 2 && local[0] == '"' && local[len(local)-1] == '"' {
		local = local[1 : len(local)-1]
	}
	at := strings.LastIndexByte(n, '@')
	if strings.ToLower(local) != n[:at] {
		return n, nil // not the local part NormalizeAddress read
	}
	return local + n[at:], nil
}

// NormalizeDomain lower-cases a domain name and checks it is a host name.
// An internationalised name is taken in its A-labels ("bücher.example"
// is "xn--bcher-kva.example", IDNA2008 as browsers and mail servers
// look names up), the one form DNS, SMTP without SMTPUTF8 and the store
// know: a domain protected under either spelling is the same domain, and
// an address typed with either finds it.
func NormalizeDomain(name string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if !isASCII(d) {
		// A name already in A-labels is taken as it is, as DNS takes
		// it: IDNA2008 refuses some registered under IDNA2003 (symbols,
		// emoji), which must still be reachable.
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("domain %q: %v: %w", name, err, ErrInvalid)
		}
		d = a
	}
	if d == "" || len(d) > 253 {
		return "", fmt.Errorf("domain %q: %w", name, ErrInvalid)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("domain %q: %w", name, ErrInvalid)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("domain %q: %w", name, ErrInvalid)
			}
		}
	}
	return d, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// DomainUnicode returns a normalised domain name as people read it, in
// U-labels ("xn--bcher-kva.test" is "bücher.test"), for display only:
// the store and the wire keep the A-labels. A name whose A-labels do not
// decode comes back as it is. Where the two differ, show both: a U-label
// can look like another name (a homograph).
func DomainUnicode(name string) string {
	u, err := idna.Lookup.ToUnicode(name)
	if err != nil {
		return name
	}
	return u
}

// AddressUnicode is DomainUnicode for the domain of a normalised address.
func AddressUnicode(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	return addr[:at+1] + DomainUnicode(addr[at+1:])
}

// DisplayName is the domain's name as people read it (DomainUnicode).
func (d Domain) DisplayName() string { return DomainUnicode(d.Name) }

// DisplayAddress is the account's address as people read it
// (AddressUnicode).
func (a Account) DisplayAddress() string { return AddressUnicode(a.Address) }

// DomainOf returns the domain part of a normalised address.
func DomainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
