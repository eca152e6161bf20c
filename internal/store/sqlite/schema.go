package sqlite

import (
	"database/sql"
	"fmt"
)

// migrations[i] brings the schema from user_version i to i+1. Append only.
var migrations = []string{`
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('next_uidvalidity', CAST(strftime('%s','now') AS INTEGER) % 2000000000 + 1);

CREATE TABLE domains (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	retention_days INTEGER NOT NULL,
	created INTEGER NOT NULL
);

CREATE TABLE accounts (
	id INTEGER PRIMARY KEY,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	address TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL DEFAULT '',
	enabled INTEGER NOT NULL DEFAULT 1,
	created INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain_id);

-- Counters live in the row so that SELECT and STATUS never count.
CREATE TABLE mailboxes (
	id INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	name TEXT NOT NULL,
	special_use TEXT NOT NULL DEFAULT '',
	subscribed INTEGER NOT NULL DEFAULT 1,
	uidvalidity INTEGER NOT NULL,
	uidnext INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	messages INTEGER NOT NULL DEFAULT 0,
	unseen INTEGER NOT NULL DEFAULT 0,
	size INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);

-- One row per raw message, shared by all its copies (refs counts them).
CREATE TABLE bodies (
	id INTEGER PRIMARY KEY,
	blob_key TEXT NOT NULL,
	size INTEGER NOT NULL,
	refs INTEGER NOT NULL,
	info BLOB NOT NULL
);

-- Words of each body, indexed once at ingest. Contentless: the text is in
-- the blob; substring checks run on the candidates this returns.
CREATE VIRTUAL TABLE body_fts USING fts5(text, content='', contentless_delete=1,
	tokenize='unicode61 remove_diacritics 0');
-- The index's words, for substring search.
CREATE VIRTUAL TABLE body_fts_vocab USING fts5vocab(body_fts, row);

CREATE TABLE messages (
	id INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL,
	domain_id INTEGER NOT NULL,
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	flags INTEGER NOT NULL DEFAULT 0,
	keywords TEXT NOT NULL DEFAULT '',
	received INTEGER NOT NULL, -- unix milliseconds
	size INTEGER NOT NULL,
	body_id INTEGER NOT NULL REFERENCES bodies(id),
	expunged_modseq INTEGER NOT NULL DEFAULT 0, -- 0: live
	subject TEXT NOT NULL DEFAULT '',
	from_addr TEXT NOT NULL DEFAULT '',
	message_id TEXT NOT NULL DEFAULT '',
	preview TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX messages_uid ON messages(mailbox_id, uid);
-- Covers the live UIDs of a mailbox: IMAP's sequence numbers.
CREATE INDEX messages_live ON messages(mailbox_id, uid, flags, modseq, keywords) WHERE expunged_modseq = 0;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_retention ON messages(domain_id, received);
CREATE INDEX messages_body ON messages(body_id);

-- UIDs expunged from a mailbox, for QRESYNC VANISHED (RFC 7162 3.2.10).
CREATE TABLE vanished (
	mailbox_id INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX vanished_modseq ON vanished(mailbox_id, modseq);

-- Blobs of purged bodies, deleted after the purge commits. Rows left by a
-- crash are retried by the next purge.
CREATE TABLE blob_trash (key TEXT PRIMARY KEY) WITHOUT ROWID;

CREATE TABLE msglog (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL, -- unix milliseconds
	status TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '',
	mail_from TEXT NOT NULL DEFAULT '',
	rcpt TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL DEFAULT 0,
	remote_ip TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	domain_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX msglog_time ON msglog(time);
CREATE INDEX msglog_rcpt ON msglog(rcpt, time);
CREATE INDEX msglog_from ON msglog(mail_from, time);
CREATE INDEX msglog_msgid ON msglog(message_id);
`, `
-- The outbound queue: one row per recipient, holding a reference to the
-- shared body (bodies.refs counts it like a message copy).
CREATE TABLE queue (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id INTEGER NOT NULL DEFAULT 0,
	domain_id INTEGER NOT NULL DEFAULT 0,
	body_id INTEGER NOT NULL REFERENCES bodies(id),
	mail_from TEXT NOT NULL,
	rcpt TEXT NOT NULL,
	rcpt_domain TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL,
	queued INTEGER NOT NULL,       -- unix milliseconds, like next_attempt
	next_attempt INTEGER NOT NULL,
	lease_until INTEGER NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	delay_notified INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_due ON queue(next_attempt);
CREATE INDEX queue_domain ON queue(domain_id, id);

CREATE TABLE dkim_keys (
	domain_id INTEGER PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
	selector TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	private_key BLOB NOT NULL,
	created INTEGER NOT NULL
);
`,
	// Ids are never reused (store.Store's contract): without AUTOINCREMENT,
	// SQLite gives a new row max(id)+1, so deleting the newest mailbox let
	// the next CREATE, by any account, take its id and the IMAP state kept
	// under it (issue 11). SQLite cannot add AUTOINCREMENT to a table, so
	// each table with an id is rebuilt; migrate runs this step with foreign
	// keys off, as SQLite's ALTER TABLE procedure asks. Copying the rows
	// seeds sqlite_sequence with each table's highest id.
	rebuildAutoincrement("domains", `
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	retention_days INTEGER NOT NULL,
	created INTEGER NOT NULL`) +
		rebuildAutoincrement("accounts", `
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	address TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL DEFAULT '',
	enabled INTEGER NOT NULL DEFAULT 1,
	created INTEGER NOT NULL`) + `
CREATE INDEX accounts_domain ON accounts(domain_id);
` + rebuildAutoincrement("mailboxes", `
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	name TEXT NOT NULL,
	special_use TEXT NOT NULL DEFAULT '',
	subscribed INTEGER NOT NULL DEFAULT 1,
	uidvalidity INTEGER NOT NULL,
	uidnext INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	messages INTEGER NOT NULL DEFAULT 0,
	unseen INTEGER NOT NULL DEFAULT 0,
	size INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)`) +
		rebuildAutoincrement("bodies", `
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	blob_key TEXT NOT NULL,
	size INTEGER NOT NULL,
	refs INTEGER NOT NULL,
	info BLOB NOT NULL`) +
		rebuildAutoincrement("messages", `
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id INTEGER NOT NULL,
	domain_id INTEGER NOT NULL,
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	flags INTEGER NOT NULL DEFAULT 0,
	keywords TEXT NOT NULL DEFAULT '',
	received INTEGER NOT NULL,
	size INTEGER NOT NULL,
	body_id INTEGER NOT NULL REFERENCES bodies(id),
	expunged_modseq INTEGER NOT NULL DEFAULT 0,
	subject TEXT NOT NULL DEFAULT '',
	from_addr TEXT NOT NULL DEFAULT '',
	message_id TEXT NOT NULL DEFAULT '',
	preview TEXT NOT NULL DEFAULT ''`) + `
CREATE UNIQUE INDEX messages_uid ON messages(mailbox_id, uid);
CREATE INDEX messages_live ON messages(mailbox_id, uid, flags, modseq, keywords) WHERE expunged_modseq = 0;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_retention ON messages(domain_id, received);
CREATE INDEX messages_body ON messages(body_id);
` + rebuildAutoincrement("msglog", `
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	time INTEGER NOT NULL,
	status TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '',
	mail_from TEXT NOT NULL DEFAULT '',
	rcpt TEXT NOT NULL DEFAULT '',
	size INTEGER NOT NULL DEFAULT 0,
	remote_ip TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	domain_id INTEGER NOT NULL DEFAULT 0`) + `
CREATE INDEX msglog_time ON msglog(time);
CREATE INDEX msglog_rcpt ON msglog(rcpt, time);
CREATE INDEX msglog_from ON msglog(mail_from, time);
CREATE INDEX msglog_msgid ON msglog(message_id);
`,
	// The full-text index by field (issue 11 parts 5, 6).
	`
-- The full-text index, by where words occur, so that every IMAP SEARCH
-- key on content is narrowed by it (issue 11 part 6): one row per body,
-- the distinct words of each place (message.SearchText). partial is "1"
-- for a body too big to index whole, a candidate for every search.
-- Contentless: substring checks run on the candidates.
CREATE VIRTUAL TABLE search_fts USING fts5(subject, hfrom, hto, hcc, hbcc, header, body, partial,
	content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE search_fts_vocab USING fts5vocab(search_fts, row);
-- Bodies stored before search_fts, up to this id, are indexed in the
-- background (Store.reindex); until then every search takes them as
-- candidates.
INSERT INTO meta VALUES ('search_unindexed_max', (SELECT coalesce(max(id), 0) FROM bodies));
DROP TABLE body_fts_vocab;
DROP TABLE body_fts;
`,
	// The keywords used in each mailbox (issue 11 part 5).
	`
-- The keywords used in a mailbox, space-separated: IMAP's FLAGS and
-- PERMANENTFLAGS list them (RFC 9051 section 7.3.5). Filled from the
-- messages once; then kept by every write that adds keywords.
ALTER TABLE mailboxes ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
WITH RECURSIVE split(mailbox_id, word, rest) AS (
	SELECT mailbox_id, '', keywords || ' ' FROM messages WHERE keywords != '' AND expunged_modseq = 0
	UNION ALL
	SELECT mailbox_id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1) FROM split WHERE rest != ''
)
UPDATE mailboxes SET keywords = (SELECT group_concat(word, ' ') FROM (SELECT DISTINCT word FROM split WHERE split.mailbox_id = mailboxes.id AND word != ''))
WHERE id IN (SELECT mailbox_id FROM messages WHERE keywords != '' AND expunged_modseq = 0);
`,
	// Subscriptions as a list of names of their own (issue 11 part 5).
	`
-- The names an account subscribed to (IMAP SUBSCRIBE, RFC 9051 section
-- 6.3.7): a list of its own, not a mailbox property, so that deleting a
-- mailbox keeps its subscription (LIST shows it \NonExistent) and creating
-- one does not subscribe it. mailboxes.subscribed is no longer read.
CREATE TABLE subscriptions (
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	name TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
INSERT INTO subscriptions SELECT account_id, name FROM mailboxes WHERE subscribed = 1;
`,
	// The messages an IMAP EXPUNGE removes, found without scanning the
	// mailbox: ExpungeDeleted tests \Deleted in its write transaction
	// (issue 11 part 2), which would otherwise read every live row of a
	// large mailbox while holding up every other write. Partial: only
	// live messages with \Deleted (flag bit 8, store.FlagDeleted), few.
	`
CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE expunged_modseq = 0 AND flags & 8 != 0;
`,
	// \Recent claims that survive a restart (issue 11 part 5).
	`
-- The highest UID an IMAP session has claimed as \Recent (RFC 3501
-- section 2.3.2): a message above it is recent to the next session that
-- sees it, and to no other. Messages stored before this step are not.
ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET recent_uid = uidnext - 1;
`,
	// The webmail's lists, newest first, paged by (received, id) (issue
	// 14 part 3): a mailbox's live messages, an account's (search), and an
	// account's deleted ones. Keyset paging walks these in order and stops
	// after a page, at any depth of a 100,000-message mailbox. Message-ID
	// by account finds a conversation's messages.
	`
CREATE INDEX messages_page ON messages(mailbox_id, received, id) WHERE expunged_modseq = 0;
CREATE INDEX messages_account_page ON messages(account_id, received, id) WHERE expunged_modseq = 0;
CREATE INDEX messages_deleted_page ON messages(account_id, received, id) WHERE expunged_modseq != 0;
CREATE INDEX messages_msgid ON messages(account_id, message_id) WHERE expunged_modseq = 0 AND message_id != '';
`,
	// The webmail's compose side (issue 14 parts 5, 8).
	`
-- Messages sent from the webmail, held until send_at so that "undo send"
-- can take them back: the message is the draft draft_id (a message of
-- the account's Drafts), handed to submission when the hold ends. A
-- sender leases a due entry (lease_until) like a queue entry; error is
-- set when sending failed for good (the draft stays).
CREATE TABLE outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id INTEGER NOT NULL,
	draft_id INTEGER NOT NULL UNIQUE,
	send_at INTEGER NOT NULL,     -- unix milliseconds
	created INTEGER NOT NULL,
	lease_until INTEGER NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox(send_at) WHERE error = '';
CREATE INDEX outbox_account ON outbox(account_id, id);

-- Addresses each account wrote to, for autocompletion: kept by Deliver
-- for every copy into Sent, filled here once from the queued events of
-- the message log (one per recipient of a submitted message).
CREATE TABLE contacts (
	account_id INTEGER NOT NULL,
	address TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	uses INTEGER NOT NULL DEFAULT 0,
	last_used INTEGER NOT NULL,
	PRIMARY KEY (account_id, address)
) WITHOUT ROWID;
INSERT INTO contacts (account_id, address, uses, last_used)
	SELECT a.id, lower(l.rcpt), count(*), max(l.time) FROM msglog l JOIN accounts a ON a.address = l.mail_from
	WHERE l.status = 'queued' AND l.rcpt != '' GROUP BY a.id, lower(l.rcpt);

-- A sent message's queue entries, for its delivery status.
CREATE INDEX queue_message ON queue(account_id, message_id);
`,
	// Web sessions (issue 14 part 2).
	`
-- Server-side web sessions, keyed by the SHA-256 of the id in the
-- browser's cookie: the table alone cannot be used to take one over.
CREATE TABLE web_sessions (
	id_hash BLOB PRIMARY KEY,
	kind TEXT NOT NULL,
	principal_id INTEGER NOT NULL,
	csrf TEXT NOT NULL,
	created INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	remote_ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX web_sessions_principal ON web_sessions(kind, principal_id);
CREATE INDEX web_sessions_last_seen ON web_sessions(last_seen);
`,
	// Tenancy, administrators, tokens, audit, sign-in links, usage and
	// the dashboard's counters (issue 15 parts 1, 2, 7).
	tenancySchema,
	// Address completion by index (issue 14 part 5): each contact's
	// address and the words of its name, so that a prefix typed is a
	// range on the primary key instead of a scan of the account's
	// contacts (8 ms for 5,000 in BenchmarkContacts). Contacts stored
	// before get their address now and their name's words when next
	// written to.
	`
CREATE TABLE contact_words (
	account_id INTEGER NOT NULL,
	word TEXT NOT NULL,
	address TEXT NOT NULL,
	PRIMARY KEY (account_id, word, address)
) WITHOUT ROWID;
INSERT INTO contact_words (account_id, word, address) SELECT account_id, address, address FROM contacts;
`,
	// Duplicate keys (issue 13 part 5; the rule is store's, dedup.go).
	`
-- One row per Message-ID and body digest that Deliver stored in a
-- mailbox, naming the message stored (0 while the delivery that claims
-- the key runs). The primary key is what makes a second, concurrent copy
-- a duplicate. Rows go with the message (retention purge), the mailbox
-- and the account.
CREATE TABLE dedup (
	mailbox_id INTEGER NOT NULL,
	message_id TEXT NOT NULL,
	digest BLOB NOT NULL,
	message INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, message_id, digest)
) WITHOUT ROWID;
CREATE INDEX dedup_message ON dedup(message);
`,
	// Reseller and customer names are unique without regard to case, as
	// the command line finds them by name (issue 15).
	`
CREATE UNIQUE INDEX resellers_name_nocase ON resellers(name COLLATE NOCASE);
CREATE UNIQUE INDEX customers_name_nocase ON customers(reseller_id, name COLLATE NOCASE);
`,
	// Sort keys per body (issue 11 part 7).
	`
-- What IMAP SORT and THREAD order by (store.SortKeys, RFC 5256), one row
-- per body, written with it, so that sorting a large mailbox reads one
-- joined row per message and no body's Info. Bodies stored before this
-- step are filled in the background
-- (fillSortKeys); until then SortRows reports them without keys.
CREATE TABLE sort_keys (
	body_id INTEGER PRIMARY KEY,
	keys TEXT NOT NULL -- packed by packSortKeys: one column reads faster than eleven
);
`,
	// MTA-STS policy cache (issue 13 part 6; store.MTASTSCache).
	`
-- Recipient domains' MTA-STS policies as last fetched (RFC 8461 3.3),
-- kept across restarts and shared by nodes; expires is fetched + max_age.
CREATE TABLE mtasts_policies (
	domain TEXT PRIMARY KEY,
	policy_id TEXT NOT NULL,
	policy BLOB NOT NULL,
	fetched INTEGER NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// Webmail outbox: client IP and sent entries (issue 14).
	`
-- The webmail's outbox keeps the sender's IP for the message log, and a
-- sent entry a day (sent, unix milliseconds) so that its undo page still
-- answers its user; the due index leaves sent entries out.
ALTER TABLE outbox ADD COLUMN remote_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(send_at) WHERE error = '' AND sent = 0;
`,
	// Per-entry routes of the outbound queue (issue 15: an
	// administrator's redelivery goes to the domain's relay host).
	`
ALTER TABLE queue ADD COLUMN route TEXT NOT NULL DEFAULT '';
`,
	// A message's stored copies by Message-ID, live or deleted, across
	// accounts (issue 15: the console's timeline, store.Copies).
	`
CREATE INDEX messages_msgid_all ON messages(message_id) WHERE message_id != '';
`,
	// Conversations per mailbox, kept by triggers (issue 14 part 4:
	// the list pages by conversation; conversations.go).
	conversationsSchema,
	// Known sign-in IPs (issue 11 part 4, store.KnownIPs).
	`
-- The client IPs from which each address signed in with a verified
-- password, and when last: the authenticator lets such an IP pass the
-- address's lock-out. Bounded per address by TouchKnownIP, expired rows
-- purged by last_seen.
CREATE TABLE known_ips (
	address TEXT NOT NULL,
	ip TEXT NOT NULL,
	last_seen INTEGER NOT NULL, -- Unix milliseconds
	PRIMARY KEY (address, ip)
) WITHOUT ROWID;
CREATE INDEX known_ips_last_seen ON known_ips(last_seen);
`,
	// Messages sent per account, for the sending limit (issue 13 part 3).
	sendLimitSchema,
	// Per-domain "continuity only": no relay leg for its protected
	// recipients (issue 13 part 6).
	`ALTER TABLE domains ADD COLUMN continuity_only INTEGER NOT NULL DEFAULT 0;`,
	// Administrators' second-factor state between requests, on every
	// node (issue 15: store.AdminAuth, adminauth.go).
	adminAuthSchema,
	// Administrators' passkeys (issue 15: store.Passkeys).
	passkeySchema,
	// Message log subject words indexed once per subject (issue 13, speed).
	logSubjectsSchema,
	// Sends expire, for the retention purge (issue 13).
	sendsExpirySchema,
	// The webmail's deletes pending during their undo window, and
	// conversations without messages marked \Deleted (issue 14;
	// pending.go).
	pendingSchema,
	// A child of INBOX is spelt "INBOX/..." whatever case it was created
	// in (store.CanonicalMailbox): rename the "inbox/..." that earlier
	// versions stored. One whose INBOX/... name is taken, by that name or
	// another spelling of it, gets its id after the name, so that no name
	// is lost and none collides.
	`UPDATE mailboxes SET name = 'INBOX' || substr(name, 6) || ' (' || id || ')'
WHERE upper(substr(name, 1, 6)) = 'INBOX/' AND substr(name, 1, 6) <> 'INBOX/'
AND EXISTS (SELECT 1 FROM mailboxes o WHERE o.account_id = mailboxes.account_id AND o.id <> mailboxes.id
	AND upper(substr(o.name, 1, 6)) = 'INBOX/' AND substr(o.name, 6) = substr(mailboxes.name, 6));
UPDATE mailboxes SET name = 'INBOX' || substr(name, 6)
WHERE upper(substr(name, 1, 6)) = 'INBOX/' AND substr(name, 1, 6) <> 'INBOX/';`,
	// New rows come with their conversation root, computed at insert
	// (issue 13, speed: conversations.go, threadRoot).
	threadsInsertSchema,
	// Each body's From, To, Cc, Bcc and Subject fields, for SEARCH on
	// those keys (issue 11 part 6; searchfields.go).
	searchFieldsSchema,
	// Where the sort keys' background fill stands (sortkeys.go).
	sortKeysMarkSchema,
	// The webmail's Deleted view lists live messages marked \Deleted
	// too (an IMAP client's mark waiting for EXPUNGE, a delete in its
	// undo window), newest first across the account (issue 14; webmail.go
	// DeletedPage). Partial: only marked live rows, few. IF NOT EXISTS:
	// a test that winds user_version back to an earlier step runs it
	// again.
	`CREATE INDEX IF NOT EXISTS messages_marked_page ON messages(account_id, received, id) WHERE expunged_modseq = 0 AND flags & 8 != 0;`,
	// Imported passwords waiting for the background hash job (issue 15;
	// pendingpasswords.go).
	pendingPasswordsSchema,
	// Failed sign-in counters shared by restarts and nodes (issue 15;
	// throttles.go).
	throttlesSchema,
	// SORT and THREAD read every live message of a mailbox with its sort
	// keys (sortkeys.go EachSortRow): this index covers the columns they
	// take from messages, so the first SORT after a restart scans it
	// (about 1,700 pages at 100,000 messages) instead of seeking each
	// wide row of the table (7,700 pages), issue 11 part 7. No flags or
	// modseq in it: STORE does not touch it.
	`CREATE INDEX IF NOT EXISTS messages_sort ON messages(mailbox_id, uid, received, size, body_id, message_id) WHERE expunged_modseq = 0;`,
	// Blobs shared by several bodies: a draft's versions keep its files
	// where the first stored them (issue 14; draftshare.go).
	blobRefsSchema,
	// Conversations across the account, with In-Reply-To chains and
	// the subject merge (issue 14 part 4; threads.go).
	threadsSchema,
	// Which draft version replaced which, so that a save or send naming
	// a replaced version lands on the current one (issue 14;
	// compose.go DraftSuccessor).
	draftSuccessorsSchema,
	// The API lists an account's messages in id order, a page at a time
	// (messages.go MessagesByID): these seek the previous page's last id
	// within the account, live or deleted, and carry the mailbox so that
	// a list of one mailbox filters in the index.
	`CREATE INDEX IF NOT EXISTS messages_by_id ON messages(account_id, id, mailbox_id) WHERE expunged_modseq = 0;
CREATE INDEX IF NOT EXISTS messages_deleted_by_id ON messages(account_id, id, mailbox_id) WHERE expunged_modseq != 0;`,
	// The compose page's key of each new draft, so that a page whose
	// first save's answer was lost saves again onto that draft
	// (compose.go DraftByKey).
	draftKeysSchema,
	// What senders asked of delivery status notifications (RFC 3461:
	// NOTIFY and ORCPT per recipient, RET and ENVID per message), kept
	// with each queue entry (store.DSN).
	`ALTER TABLE queue ADD COLUMN dsn_notify TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN dsn_orcpt TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN dsn_ret TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN dsn_envid TEXT NOT NULL DEFAULT '';`,
	// DKIM rotation: a new key waits here until its TXT record is seen
	// in DNS (dkim.ActivatePending), and the keys it replaced are
	// remembered so that the listing says when their records can go.
	// IF NOT EXISTS: a test that winds user_version back runs it again.
	dkimRotationSchema,
	// Sub-addresses (RFC 5233, store/subaddress.go): each domain's
	// recipient delimiter, "+" as Postfix and Exchange Online use it;
	// and the protected address a log record's sub-address stands for,
	// so that a search by alice@ finds the copy of alice+news@. Only
	// such records carry one (NULL otherwise), and the partial index
	// holds only them: the other records cost it nothing.
	`ALTER TABLE domains ADD COLUMN recipient_delimiter TEXT NOT NULL DEFAULT '+';
ALTER TABLE msglog ADD COLUMN account TEXT;
CREATE INDEX msglog_account ON msglog(account, time) WHERE account IS NOT NULL;`,
	// When each message arrived (unix milliseconds), what the retention
	// window counts from: an APPEND keeps the date the client gives as
	// INTERNALDATE, and old mail dragged in was purged minutes later.
	// 0 means "at received": the messages stored before (no rewrite) and
	// those the service dates itself. No index (purge.go).
	`ALTER TABLE messages ADD COLUMN arrived INTEGER NOT NULL DEFAULT 0;`,
	// One record per message of the message log, holding its
	// Message-ID and subject, and the address indexes without the
	// events the other finds (issue 13, speed; logsubjects.go).
	logMessagesSchema,
	// Each account's number of sends, kept by triggers, so that the
	// sending limit is checked without counting the window's rows
	// (sendlimit.go).
	sendCountsSchema,
	// Whether a queue entry's recipient got the message in their
	// continuity INBOX too (store.Outbound.Continuity).
	`ALTER TABLE queue ADD COLUMN continuity INTEGER NOT NULL DEFAULT 0;`,
	// How each queued message reached the service (store.Origin), for
	// the Received field the queue adds.
	`ALTER TABLE queue ADD COLUMN origin_client TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN origin_with TEXT NOT NULL DEFAULT '';`,
}

const dkimRotationSchema = `
CREATE TABLE IF NOT EXISTS dkim_pending_keys (
	domain_id INTEGER PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
	selector TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	private_key BLOB NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dkim_retired_keys (
	domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	selector TEXT NOT NULL,
	retired INTEGER NOT NULL,
	PRIMARY KEY (domain_id, selector)
);
`

// rebuildAutoincrement returns the statements that recreate table with
// the given columns, keeping its rows and ids. Indexes go with the old
// table: the caller recreates them.
func rebuildAutoincrement(table, cols string) string {
	return fmt.Sprintf(`
CREATE TABLE %[1]s_new (%[2]s
);
INSERT INTO %[1]s_new SELECT * FROM %[1]s;
DROP TABLE %[1]s;
ALTER TABLE %[1]s_new RENAME TO %[1]s;
`, table, cols)
}

// noForeignKeys lists the migration steps that rebuild tables and so run
// with foreign key enforcement off (it cannot change inside a transaction).
var noForeignKeys = map[int]bool{2: true}

func migrate(db *sql.DB) error {
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this xtramail (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if err := migrateStep(db, v); err != nil {
			return err
		}
	}
	return nil
}

// migrateStep runs migrations[v] in one transaction.
func migrateStep(db *sql.DB, v int) (err error) {
	if noForeignKeys[v] {
		// db has one connection, so the pragma applies to the transaction.
		if _, err := db.Exec("PRAGMA foreign_keys = OFF"); err != nil {
			return err
		}
		defer func() {
			if _, perr := db.Exec("PRAGMA foreign_keys = ON"); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(migrations[v]); err != nil {
		tx.Rollback()
		return fmt.Errorf("schema step %d: %w", v+1, err)
	}
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		tx.Rollback()
		return err
	}
	if noForeignKeys[v] {
		if err := foreignKeyCheck(tx); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema step %d: %w", v+1, err)
		}
	}
	return tx.Commit()
}

// foreignKeyCheck fails if a rebuild left a row pointing nowhere.
func foreignKeyCheck(tx *sql.Tx) error {
	rows, err := tx.Query("PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		return fmt.Errorf("foreign key check failed after rebuilding tables")
	}
	return rows.Err()
}
