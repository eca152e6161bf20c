package sqlite

// tenancySchema is the migration step of issue 15: the tenant tree above
// domains, administrators, API tokens, the audit log, sign-in links, usage
// snapshots, and counters kept by triggers so that the dashboard and the
// message log search never scan messages or the log.
const tenancySchema = `
CREATE TABLE resellers (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL
);
-- reseller_id 0: directly under the provider.
CREATE TABLE customers (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	reseller_id INTEGER NOT NULL DEFAULT 0,
	name TEXT NOT NULL,
	created INTEGER NOT NULL,
	UNIQUE (reseller_id, name)
);
CREATE INDEX customers_reseller ON customers(reseller_id);
-- The default customer (store.DefaultCustomerID) holds the domains that
-- existed before tenancy and those created without a customer.
INSERT INTO customers (id, reseller_id, name, created) VALUES (1, 0, 'default', CAST(strftime('%s','now') AS INTEGER) * 1000);

ALTER TABLE domains ADD COLUMN customer_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE domains ADD COLUMN whole_domain INTEGER NOT NULL DEFAULT 0;
ALTER TABLE domains ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT ''; -- space-separated
ALTER TABLE domains ADD COLUMN relay_host TEXT NOT NULL DEFAULT '';
CREATE INDEX domains_customer ON domains(customer_id);

CREATE TABLE admins (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	email TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role TEXT NOT NULL,
	scope_id INTEGER NOT NULL DEFAULT 0,
	totp_secret TEXT NOT NULL DEFAULT '',
	totp_last_step INTEGER NOT NULL DEFAULT 0,
	disabled INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
);
CREATE INDEX admins_scope ON admins(role, scope_id);

CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	admin_id INTEGER NOT NULL REFERENCES admins(id),
	name TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	last_used INTEGER NOT NULL DEFAULT 0,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_admin ON api_tokens(admin_id);

CREATE TABLE audit (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	time INTEGER NOT NULL,
	admin_id INTEGER NOT NULL DEFAULT 0,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	object TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	remote_ip TEXT NOT NULL DEFAULT '',
	reseller_id INTEGER NOT NULL DEFAULT 0,
	customer_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX audit_reseller ON audit(reseller_id, id);
CREATE INDEX audit_customer ON audit(customer_id, id);

CREATE TABLE signin_links (
	hash TEXT PRIMARY KEY,
	account_id INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	used INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Enabled addresses per customer per UTC day (day: days since 1970).
CREATE TABLE usage_daily (
	day INTEGER NOT NULL,
	customer_id INTEGER NOT NULL,
	addresses INTEGER NOT NULL,
	PRIMARY KEY (day, customer_id)
) WITHOUT ROWID;

-- What each domain holds, kept by triggers on messages.
CREATE TABLE domain_usage (
	domain_id INTEGER PRIMARY KEY,
	messages INTEGER NOT NULL DEFAULT 0,
	bytes INTEGER NOT NULL DEFAULT 0
);
INSERT INTO domain_usage SELECT domain_id, count(*), sum(size) FROM messages GROUP BY domain_id;
CREATE TRIGGER domain_usage_add AFTER INSERT ON messages BEGIN
	INSERT OR IGNORE INTO domain_usage (domain_id) VALUES (NEW.domain_id);
	UPDATE domain_usage SET messages = messages + 1, bytes = bytes + NEW.size WHERE domain_id = NEW.domain_id;
END;
CREATE TRIGGER domain_usage_del AFTER DELETE ON messages BEGIN
	UPDATE domain_usage SET messages = messages - 1, bytes = bytes - OLD.size WHERE domain_id = OLD.domain_id;
END;
CREATE TRIGGER domain_usage_gone AFTER DELETE ON domains BEGIN
	DELETE FROM domain_usage WHERE domain_id = OLD.id;
END;

-- Messages captured and submitted per domain per UTC day, kept by a
-- trigger on the message log.
CREATE TABLE daily_stats (
	day INTEGER NOT NULL,
	domain_id INTEGER NOT NULL,
	captured INTEGER NOT NULL DEFAULT 0,
	sent INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, domain_id)
) WITHOUT ROWID;
INSERT INTO daily_stats SELECT time / 86400000, domain_id, sum(status = 'captured'), sum(status = 'submitted')
	FROM msglog WHERE status IN ('captured', 'submitted') GROUP BY 1, 2;
CREATE TRIGGER daily_stats_captured AFTER INSERT ON msglog WHEN NEW.status = 'captured' BEGIN
	INSERT OR IGNORE INTO daily_stats (day, domain_id) VALUES (NEW.time / 86400000, NEW.domain_id);
	UPDATE daily_stats SET captured = captured + 1 WHERE day = NEW.time / 86400000 AND domain_id = NEW.domain_id;
END;
CREATE TRIGGER daily_stats_sent AFTER INSERT ON msglog WHEN NEW.status = 'submitted' BEGIN
	INSERT OR IGNORE INTO daily_stats (day, domain_id) VALUES (NEW.time / 86400000, NEW.domain_id);
	UPDATE daily_stats SET sent = sent + 1 WHERE day = NEW.time / 86400000 AND domain_id = NEW.domain_id;
END;

-- Words of message log subjects, for the log search by subject word.
-- Contentless: the subject is in msglog.
CREATE VIRTUAL TABLE msglog_fts USING fts5(subject, content='', contentless_delete=1,
	tokenize='unicode61 remove_diacritics 2');
INSERT INTO msglog_fts (rowid, subject) SELECT id, subject FROM msglog WHERE subject != '';
CREATE TRIGGER msglog_fts_add AFTER INSERT ON msglog WHEN NEW.subject != '' BEGIN
	INSERT INTO msglog_fts (rowid, subject) VALUES (NEW.id, NEW.subject);
END;
CREATE TRIGGER msglog_fts_del AFTER DELETE ON msglog WHEN OLD.subject != '' BEGIN
	DELETE FROM msglog_fts WHERE rowid = OLD.id;
END;
`
