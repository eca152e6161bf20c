package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// probeStep is one exchange of a transcript: the bytes sent (CRLF added)
// and every line that must come back before the next step, in order. A
// wanted line is literal except that "{N}" stands for a number and a
// trailing "..." for any rest; "<EOF>" is the server closing.
type probeStep struct {
	send string
	want []string
}

// probeCase is a transcript run on its own server, in a state: "notauth"
// (greeting read), "auth" (signed in) or "selected" (INBOX selected, with
// the three messages every case starts with).
type probeCase struct {
	name  string
	state string
	steps []probeStep
}

// step builds a probeStep.
func step(send string, want ...string) probeStep { return probeStep{send, want} }

// TestRFCProbes runs raw transcripts over TLS against what RFC 9051 and
// RFC 3501 (and the extensions announced) say must come back: every
// command in each state, literals, mailbox names, sequence sets. Each
// case names the rule it checks; the cases that found defects name them.
func TestRFCProbes(t *testing.T) {
	notAllowedAuth := "BAD command not allowed in this state: sign in first (LOGIN or AUTHENTICATE)"
	notSelected := "BAD command not allowed in this state: SELECT a mailbox first"
	signedIn := "BAD command not allowed in this state: already signed in"
	var cases []probeCase

	// Every command in the not-authenticated state (RFC 9051 section 6):
	// only CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, AUTHENTICATE and LOGIN.
	for _, cmd := range []string{
		"ENABLE UTF8=ACCEPT", "SELECT INBOX", "EXAMINE INBOX", "CREATE x", "DELETE x", "RENAME x y",
		"SUBSCRIBE x", "UNSUBSCRIBE x", `LIST "" *`, `LSUB "" *`, "NAMESPACE", "STATUS INBOX (MESSAGES)",
		"APPEND INBOX {3}", "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE 1",
		"SEARCH ALL", "UID SEARCH ALL", "FETCH 1 FLAGS", "UID FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)",
		"COPY 1 INBOX", "MOVE 1 INBOX", "UID MOVE 1 INBOX", "SORT (DATE) UTF-8 ALL",
		"THREAD REFERENCES UTF-8 ALL", "GETQUOTA \"\"", "GETQUOTAROOT INBOX", `CANCELUPDATE "1"`,
		// Regression (COMPRESS before sign-in was accepted): COMPRESS is
		// command-auth (RFC 4978 section 5).
		"COMPRESS DEFLATE",
	} {
		cases = append(cases, probeCase{"notauth " + cmd, "notauth", []probeStep{
			step("p1 "+cmd, "p1 "+notAllowedAuth),
			step("p2 NOOP", "p2 OK NOOP completed"),
		}})
	}
	cases = append(cases,
		probeCase{"notauth unknown and UID of a command without one", "notauth", []probeStep{
			step("p1 FROBNICATE", "p1 BAD unknown command"),
			step("p2 UID NOOP", "p2 BAD UID NOOP is not a command"),
			step("p3", "p3 BAD ..."),
		}},
		probeCase{"notauth LOGIN syntax", "notauth", []probeStep{
			step("p1 LOGIN", "p1 BAD LOGIN: expected space, found end of line"),
			step("p2 LOGIN a", "p2 BAD LOGIN: expected space, found end of line"),
			step("p3 LOGIN a b c", "p3 BAD LOGIN: unexpected byte 0x20 after arguments"),
			step("p4 LOGIN nobody@example.org wrong", "p4 NO [AUTHENTICATIONFAILED] ..."),
		}},
		probeCase{"notauth AUTHENTICATE", "notauth", []probeStep{
			// The empty challenge is "+ " (RFC 9051 section 7.5).
			step("p1 AUTHENTICATE PLAIN", "+ "),
			step("!!!not base64", "p1 BAD invalid base64 in SASL response"),
			step("p2 AUTHENTICATE PLAIN", "+ "),
			// "*" cancels (RFC 9051 section 6.2.2).
			step("*", "p2 BAD authentication cancelled"),
			step("p3 AUTHENTICATE CRAM-MD5", "p3 NO [CANNOT] unsupported mechanism; use PLAIN"),
			step("p4 AUTHENTICATE PLAIN =", "p4 NO [AUTHENTICATIONFAILED] ..."),
			step("p6 AUTHENTICATE PLAIN AG5vYm9keUBleGFtcGxlLm9yZwB3cm9uZw==", "p6 NO [AUTHENTICATIONFAILED] ..."),
			step("p5 NOOP", "p5 OK NOOP completed"),
		}},
		// LITERAL- before sign-in: a non-synchronising literal over 4096
		// bytes is BAD [TOOBIG], and the session goes on (RFC 7888
		// section 4; regression: one of up to 64 KiB was taken).
		probeCase{"notauth LITERAL- over 4096", "notauth", []probeStep{
			step("p1 LOGIN {4097+}\r\n"+strings.Repeat("u", 4097)+" {3+}\r\npwd",
				"p1 BAD [TOOBIG] LOGIN: non-synchronizing literal of 4097 bytes is over the LITERAL- limit of 4096; send it as a synchronizing literal"),
			step("p2 NOOP", "p2 OK NOOP completed"),
			step("p3 LOGIN {4096+}\r\n"+strings.Repeat("u", 4096)+" pwd", "p3 NO [AUTHENTICATIONFAILED] ..."),
			step("p4 LOGIN {4097}", "+ ready for literal"),
			step(strings.Repeat("u", 4097)+" pwd", "p4 NO [AUTHENTICATIONFAILED] ..."),
		}},
		probeCase{"notauth STARTTLS on TLS", "notauth", []probeStep{
			step("p1 STARTTLS", "p1 BAD TLS is already on or not available"),
		}},
		probeCase{"notauth ID and LOGOUT", "notauth", []probeStep{
			step(`p1 ID ("name" "probe")`, `* ID ("name" "xtramail")`, "p1 OK ID completed"),
			step("p2 ID NIL", `* ID ("name" "xtramail")`, "p2 OK ID completed"),
			step("p3 LOGOUT", "* BYE logging out", "p3 OK LOGOUT completed", "<EOF>"),
		}},
		// After LOGOUT nothing more is read (RFC 9051 section 3.4).
		probeCase{"after LOGOUT", "auth", []probeStep{
			step("p1 LOGOUT\r\np2 NOOP", "* BYE logging out", "p1 OK LOGOUT completed", "<EOF>"),
		}},
	)

	// The authenticated state: commands of the selected state are BAD,
	// sign-in commands are BAD.
	for _, cmd := range []string{
		"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE 1", "SEARCH ALL", "UID SEARCH ALL",
		"FETCH 1 FLAGS", "UID FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "UID STORE 1 +FLAGS (\\Seen)",
		"COPY 1 INBOX", "UID COPY 1 INBOX", "MOVE 1 INBOX", "UID MOVE 1 INBOX", "SORT (DATE) UTF-8 ALL",
		"THREAD REFERENCES UTF-8 ALL", `CANCELUPDATE "1"`,
	} {
		cases = append(cases, probeCase{"auth " + cmd, "auth", []probeStep{
			step("p1 "+cmd, "p1 "+notSelected),
		}})
	}
	for _, cmd := range []string{"LOGIN a b", "AUTHENTICATE PLAIN", "STARTTLS"} {
		cases = append(cases, probeCase{"auth " + cmd, "auth", []probeStep{
			step("p1 "+cmd, "p1 "+signedIn),
		}})
	}
	cases = append(cases,
		probeCase{"auth mailbox refusals carry their codes", "auth", []probeStep{
			step("p1 SELECT nosuch", "p1 NO [NONEXISTENT] no such mailbox"),
			step("p2 EXAMINE nosuch", "p2 NO [NONEXISTENT] no such mailbox"),
			step("p3 STATUS nosuch (MESSAGES)", "p3 NO [NONEXISTENT] no such mailbox"),
			step("p4 DELETE nosuch", "p4 NO [NONEXISTENT] no such mailbox"),
			step("p5 RENAME nosuch x", "p5 NO [NONEXISTENT] no such mailbox"),
			step("p6 CREATE Sent", "p6 NO [ALREADYEXISTS] mailbox already exists"),
			step("p7 RENAME Sent Drafts", "p7 NO [ALREADYEXISTS] mailbox already exists"),
			step("p8 CREATE inbox", "p8 NO [ALREADYEXISTS] INBOX always exists"),
			step("p9 DELETE iNbOx", "p9 NO [CANNOT] INBOX cannot be deleted"),
			// APPEND to a missing mailbox: TRYCREATE (RFC 9051 section 6.3.12).
			step("p10 APPEND nosuch {3+}\r\nabc", "p10 NO [TRYCREATE] no such mailbox"),
			step("p11 GETQUOTA nosuch", "p11 NO [NONEXISTENT] no such quota root"),
			// RFC 7889 section 3.2: the STATUS item of the APPENDLIMIT
			// the capability announces.
			step("p12 STATUS INBOX (MESSAGES APPENDLIMIT)", "* STATUS INBOX (MESSAGES 3 APPENDLIMIT 52428800)", "p12 OK STATUS completed"),
			// The reason, and no 8-bit text to a client that has not
			// enabled UTF-8 (RFC 9051 section 9, text; regression: the
			// name decoded from modified UTF-7 came back as UTF-8, and
			// no reason was given).
			step(`p12a CREATE "&AOk-*"`, `p12a NO [CANNOT] mailbox name "?*" cannot be used: it holds "*", "%" or a control character`),
			step("p13 CREATE /x", `p13 NO [CANNOT] mailbox name "/x"...`),
			step("p14 CREATE a//b", `p14 NO [CANNOT] mailbox name "a//b"...`),
		}},
		probeCase{"auth ENABLE, IDLE, NAMESPACE, COMPRESS", "auth", []probeStep{
			step("p1 ENABLE FOO", "* ENABLED", "p1 OK ENABLE completed"),
			step("p2 NAMESPACE", `* NAMESPACE (("" "/")) NIL NIL`, "p2 OK NAMESPACE completed"),
			step("p3 IDLE", "+ idling"),
			step("DONE", "p3 OK IDLE terminated"),
			step("p4 IDLE", "+ idling"),
			step("done", "p4 OK IDLE terminated"),
			step("p5 COMPRESS LZW", "p5 BAD only DEFLATE compression is supported"),
			// The delimiter and root (RFC 9051 section 6.3.9).
			step(`p6 LIST "" ""`, `* LIST (\Noselect) "/" ""`, "p6 OK LIST completed"),
		}},
		// Literals (RFC 9051 section 4.3, RFC 7888).
		probeCase{"literals", "auth", []probeStep{
			step("p1 CREATE {4}", "+ ready for literal"),
			step("lit1", "p1 OK CREATE completed"),
			step("p2 CREATE {4+}\r\nlit2", "p2 OK CREATE completed"),
			// A literal as a LIST pattern and a mailbox name.
			step("p3 LIST {0+}\r\n {4+}\r\nlit*", `* LIST (\HasNoChildren) "/" lit1`, `* LIST (\HasNoChildren) "/" lit2`, "p3 OK LIST completed"),
			// LITERAL+ has no 4096 limit (RFC 7888 section 3), a name has.
			step("p4 CREATE {5000+}\r\n"+strings.Repeat("a", 5000), `p4 NO [CANNOT] mailbox name "aaaa...`),
			// A synchronising literal over the limit is refused before
			// its "+", and the session goes on (RFC 7889 TOOBIG).
			step("p5 APPEND INBOX {60000000}", "p5 BAD [TOOBIG] APPEND: literal of 60000000 bytes is over the limit of 52428800"),
			step("p6 CREATE {-1}", "p6 BAD CREATE: expected literal size, found '-'"),
			step("p7 CREATE {1", "p7 BAD CREATE: expected '}' after literal size, found end of line"),
			step("p8 NOOP", "p8 OK NOOP completed"),
			// literal8 outside APPEND is a syntax error.
			step("p9 CREATE ~{3+}\r\nabc", "p9 BAD ..."),
			step("p10 NOOP", "p10 OK NOOP completed"),
		}},
		// A literal size past 2^64 never wraps (issue 11 part 4): the
		// command is BAD and, with its size unknown, the session ends.
		probeCase{"literal size overflow", "auth", []probeStep{
			step("p1 CREATE {18446744073709551616}", "p1 BAD CREATE: literal size out of range", "* BYE cannot continue after this error", "<EOF>"),
		}},
		// Mailbox names (RFC 3501 section 5.1.3, RFC 9051 section 5.1).
		probeCase{"mailbox names modified UTF-7", "auth", []probeStep{
			step("p1 CREATE &AOk-t&AOk-", "p1 OK CREATE completed"),
			step(`p2 LIST "" &AOk-*`, `* LIST (\HasNoChildren) "/" &AOk-t&AOk-`, "p2 OK LIST completed"),
			step("p3 CREATE &Jjo", "p3 NO [CANNOT] mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3)"),
			step("p4 CREATE \"caf\xc3\xa9\"", "p4 NO [CANNOT] mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3)"),
			step(`p5 CREATE "a&-b"`, "p5 OK CREATE completed"),
			step(`p6 LIST "" a*`, `* LIST (\HasNoChildren) "/" a&-b`, "p6 OK LIST completed"),
		}},
		probeCase{"mailbox names UTF8=ACCEPT", "auth", []probeStep{
			step("p1 ENABLE UTF8=ACCEPT", "* ENABLED UTF8=ACCEPT", "p1 OK ENABLE completed"),
			step("p2 CREATE \"\xc3\xa9t\xc3\xa9\"", "p2 OK CREATE completed"),
			step("p3 LIST \"\" \"\xc3\xa9*\"", "* LIST (\\HasNoChildren) \"/\" \"\xc3\xa9t\xc3\xa9\"", "p3 OK LIST completed"),
			step("p4 CREATE \"a\x01b\"", "p4 NO [CANNOT] control character in mailbox name"),
			step("p5 CREATE \"\xff\"", "p5 BAD CREATE: invalid UTF-8 in quoted string"),
		}},
		// INBOX is case-insensitive, as the first level of a name too
		// (regression: "inbox/child" made a second mailbox "inbox" that
		// could be neither selected nor deleted).
		probeCase{"INBOX case in hierarchy", "auth", []probeStep{
			step("p1 CREATE inbox/child", "p1 OK CREATE completed"),
			step(`p2 LIST "" *`,
				`* LIST (\HasChildren) "/" INBOX`,
				`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
				`* LIST (\HasNoChildren) "/" INBOX/child`,
				`* LIST (\HasNoChildren \Sent) "/" Sent`,
				`* LIST (\HasNoChildren \Trash) "/" Trash`,
				"p2 OK LIST completed"),
			step("p3 STATUS Inbox/Child (MESSAGES)", "p3 NO [NONEXISTENT] no such mailbox"),
			step("p4 STATUS InBoX/child (MESSAGES)", "* STATUS INBOX/child (MESSAGES 0)", "p4 OK STATUS completed"),
			step(`p5 LIST "" inbox/%`, `* LIST (\HasNoChildren) "/" INBOX/child`, "p5 OK LIST completed"),
			step("p6 RENAME INBOX/child inBOX/kid", "p6 OK RENAME completed"),
			step(`p7 LIST "" INBOX/*`, `* LIST (\HasNoChildren) "/" INBOX/kid`, "p7 OK LIST completed"),
			step("p8 DELETE inbox/kid", "p8 OK DELETE completed..."),
			step("p9 STATUS inbox (MESSAGES)", "* STATUS INBOX (MESSAGES 3)", "p9 OK STATUS completed"),
			// The name "inboxes" is no INBOX.
			step("p10 CREATE inboxes", "p10 OK CREATE completed"),
			step(`p11 LIST "" inbox*`, `* LIST (\HasNoChildren) "/" inboxes`, "p11 OK LIST completed"),
		}},
		// DELETE of a parent with children: the name stays as a \Noselect
		// level of the hierarchy (RFC 9051 section 6.3.4), which LIST "%"
		// returns (regression: it vanished, and a client walking the tree
		// with "%" lost the children).
		probeCase{"DELETE parent with children, LIST %", "auth", []probeStep{
			step("p1 CREATE p/q/r", "p1 OK CREATE completed"),
			step("p2 DELETE p", "p2 OK DELETE completed..."),
			step("p3 SELECT p", "p3 NO [NONEXISTENT] no such mailbox"),
			step(`p4 LIST "" p%`, `* LIST (\Noselect \HasChildren) "/" p`, "p4 OK LIST completed"),
			step(`p5 LIST "" p/%`, `* LIST (\HasChildren) "/" p/q`, "p5 OK LIST completed"),
			// "*" lists the missing parent too, as Dovecot does.
			step(`p6 LIST "" p*`, `* LIST (\Noselect \HasChildren) "/" p`, `* LIST (\HasChildren) "/" p/q`, `* LIST (\HasNoChildren) "/" p/q/r`, "p6 OK LIST completed"),
			step("p7 DELETE p/q", "p7 OK DELETE completed..."),
			step(`p8 LIST "" %/%`, `* LIST (\Noselect \HasChildren) "/" p/q`, "p8 OK LIST completed"),
			step(`p9 LIST "p/" %`, `* LIST (\Noselect \HasChildren) "/" p/q`, "p9 OK LIST completed"),
			step("p10 DELETE p/q/r", "p10 OK DELETE completed..."),
			step(`p11 LIST "" p%`, "p11 OK LIST completed"),
			// Re-created, the name is selectable again.
			step("p12 CREATE a/b", "p12 OK CREATE completed"),
			step(`p13 LIST "" a`, `* LIST (\HasChildren) "/" a`, "p13 OK LIST completed"),
		}},
		// RENAME INBOX moves its messages to the new name and leaves INBOX
		// empty, its children untouched (RFC 9051 section 6.3.6).
		probeCase{"RENAME INBOX", "auth", []probeStep{
			step("p1 CREATE INBOX/keep", "p1 OK CREATE completed"),
			step("p2 RENAME INBOX Old", "p2 OK RENAME completed"),
			step("p3 STATUS INBOX (MESSAGES UIDNEXT)", "* STATUS INBOX (MESSAGES 0 UIDNEXT 4)", "p3 OK STATUS completed"),
			step("p4 STATUS Old (MESSAGES UIDNEXT)", "* STATUS Old (MESSAGES 3 UIDNEXT 4)", "p4 OK STATUS completed"),
			step("p5 STATUS INBOX/keep (MESSAGES)", "* STATUS INBOX/keep (MESSAGES 0)", "p5 OK STATUS completed"),
			step("p6 RENAME Old inbox", "p6 NO [ALREADYEXISTS] mailbox already exists"),
		}},
		// RENAME of a mailbox under itself is refused (regression: "r RENAME
		// a a/b" was OK and left a/b/b, its children as a/b/...).
		probeCase{"RENAME under itself", "auth", []probeStep{
			step("p1 CREATE r/c", "p1 OK CREATE completed"),
			step("p2 RENAME r r/sub", "p2 NO [CANNOT] rename r to r/sub: a mailbox cannot move under itself"),
			step("p3 RENAME r r", "p3 NO [CANNOT] rename r to r: a mailbox cannot move under itself"),
			step("p4 RENAME r/c r/c/d", "p4 NO [CANNOT] rename r/c to r/c/d: a mailbox cannot move under itself"),
			step(`p5 LIST "" r*`, `* LIST (\HasChildren) "/" r`, `* LIST (\HasNoChildren) "/" r/c`, "p5 OK LIST completed"),
			// A sibling whose name starts the same is no child.
			step("p6 RENAME r rx", "p6 OK RENAME completed"),
			step(`p7 LIST "" *x*`, `* LIST (\HasChildren) "/" rx`, `* LIST (\HasNoChildren) "/" rx/c`, "p7 OK LIST completed"),
			// INBOX may move to its own child: its messages go there.
			step("p8 RENAME INBOX INBOX/old", "p8 OK RENAME completed"),
			step("p9 STATUS INBOX/old (MESSAGES)", "* STATUS INBOX/old (MESSAGES 3)", "p9 OK STATUS completed"),
		}},
		// UIDVALIDITY after DELETE and CREATE of the same name changes,
		// and UIDs start over (RFC 9051 section 2.3.1.1).
		probeCase{"UIDVALIDITY after DELETE+CREATE", "auth", []probeStep{
			step("p1 CREATE box", "p1 OK CREATE completed"),
			step("p2 APPEND box {3+}\r\nab1", "p2 OK [APPENDUID {N} 1] APPEND completed"),
			step("p3 DELETE box", "p3 OK DELETE completed..."),
			step("p4 CREATE box", "p4 OK CREATE completed"),
			step("p5 APPEND box {3+}\r\nab2", "p5 OK [APPENDUID {N} 1] APPEND completed"),
		}},
		// CREATE-SPECIAL-USE (RFC 6154 section 3): an attribute the server
		// does not support is NO [USEATTR] and nothing is created
		// (regression: NO [CANNOT]); attributes are case-insensitive
		// (regression: "\junk" was refused).
		probeCase{"auth CREATE with USE", "auth", []probeStep{
			step("p1 CREATE j (USE (\\junk))", "p1 OK CREATE completed"),
			step("p2 CREATE f (USE (\\Foo))", "p2 NO [USEATTR] \\Foo is not a special use this server supports"),
			step("p3 CREATE g (USE (\\Archive \\Flagged))", "p3 NO [USEATTR] one special use per mailbox"),
			step(`p4 LIST "" (j f g)`, `* LIST (\HasNoChildren \Junk) "/" j`, "p4 OK LIST completed"),
		}},
		// Subscriptions are names of their own (RFC 9051 section 6.3.7).
		probeCase{"SUBSCRIBE", "auth", []probeStep{
			step("p1 SUBSCRIBE nosuch", "p1 NO [NONEXISTENT] no such mailbox"),
			step("p2 CREATE s/t", "p2 OK CREATE completed"),
			step("p3 SUBSCRIBE s/t", "p3 OK completed"),
			step(`p4 LSUB "" s%`, `* LSUB (\Noselect) "/" s`, "p4 OK LSUB completed"),
		}},

		// The selected state.
		probeCase{"selected sequence sets", "selected", []probeStep{
			step("p1 FETCH 3:1 UID", "* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "p1 OK FETCH completed"),
			step("p2 UID FETCH 3:1 UID", "* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "p2 OK FETCH completed"),
			step("p3 FETCH * UID", "* 3 FETCH (UID 3)", "p3 OK FETCH completed"),
			step("p4 FETCH 2:* UID", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "p4 OK FETCH completed"),
			// UIDs beyond UIDNEXT: nothing, and no error (RFC 9051 section 6.4.9).
			step("p5 UID FETCH 99 UID", "p5 OK FETCH completed"),
			step("p6 UID FETCH 2:99 UID", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "p6 OK FETCH completed"),
			// "99:*" is "3:99": the last message (RFC 9051 section 9, seq-range).
			step("p7 UID FETCH 99:* UID", "* 3 FETCH (UID 3)", "p7 OK FETCH completed"),
			step("p8 FETCH 2:4 UID", "p8 BAD message sequence number out of range"),
			step("p9 FETCH 0 UID", "p9 BAD FETCH: invalid sequence set: 0 is not a message number or UID"),
			step("p10 SEARCH 2,1:1,3", "* SEARCH 1 2 3", "p10 OK SEARCH completed"),
			step("p11 UID SEARCH UID 2:*", "* SEARCH 2 3", "p11 OK SEARCH completed"),
		}},
		// "$" (SEARCHRES, RFC 5182).
		probeCase{"selected SEARCHRES", "selected", []probeStep{
			step("p1 FETCH $ UID", "p1 OK FETCH completed"),
			step("p2 UID SEARCH RETURN (SAVE) UID 2:3", "p2 OK SEARCH completed, result saved"),
			step("p3 FETCH $ UID", "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "p3 OK FETCH completed"),
			step("p4 STORE 2 +FLAGS.SILENT (\\Deleted)", "p4 OK STORE completed"),
			step("p5 EXPUNGE", "* 2 EXPUNGE", "p5 OK EXPUNGE completed"),
			step("p6 UID FETCH $ UID", "* 2 FETCH (UID 3)", "p6 OK FETCH completed"),
			step("p7 UID SEARCH $", "* SEARCH 3", "p7 OK SEARCH completed"),
		}},
		// A SEARCH or SORT that saves and fails with NO leaves "$" empty
		// (RFC 5182 section 2.1; regression: an unknown charset's NO
		// kept the result saved before it).
		probeCase{"selected SEARCHRES after a failing SAVE", "selected", []probeStep{
			step("p1 SEARCH RETURN (SAVE) 1:2", "p1 OK SEARCH completed, result saved"),
			step("p2 SEARCH RETURN (SAVE) CHARSET KOI8-R ALL", "p2 NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"),
			step("p3 FETCH $ UID", "p3 OK FETCH completed"),
			step("p4 SEARCH RETURN (SAVE) 1:2", "p4 OK SEARCH completed, result saved"),
			step("p5 SORT RETURN (SAVE) (DATE) KOI8-R ALL", "p5 NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"),
			step("p6 SEARCH $", "* SEARCH", "p6 OK SEARCH completed"),
			// A search that does not save leaves "$" alone.
			step("p7 SEARCH RETURN (SAVE) 3", "p7 OK SEARCH completed, result saved"),
			step("p8 SEARCH CHARSET KOI8-R ALL", "p8 NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"),
			step("p9 FETCH $ UID", "* 3 FETCH (UID 3)", "p9 OK FETCH completed"),
		}},
		// EXPUNGE responses come in decreasing order of what is left to
		// renumber (RFC 9051 section 7.5.1), UID EXPUNGE only expunges
		// the named UIDs (RFC 4315).
		probeCase{"selected EXPUNGE", "selected", []probeStep{
			step("p1 STORE 1:3 +FLAGS.SILENT (\\Deleted)", "p1 OK STORE completed"),
			step("p2 UID EXPUNGE 2", "* 2 EXPUNGE", "p2 OK EXPUNGE completed"),
			step("p3 EXPUNGE", "* 1 EXPUNGE", "* 1 EXPUNGE", "p3 OK EXPUNGE completed"),
			// An empty mailbox has no sequence number, "*" included
			// (RFC 9051 section 9, seq-number: BAD, as Dovecot answers);
			// UID sets and SEARCH stay valid.
			step("p4 FETCH 1:* UID", "p4 BAD no message sequence numbers: the mailbox is empty"),
			step("p5 FETCH * UID", "p5 BAD no message sequence numbers: the mailbox is empty"),
			step("p6 SEARCH ALL", "* SEARCH", "p6 OK SEARCH completed"),
			step("p7 STORE 1:* +FLAGS (\\Seen)", "p7 BAD no message sequence numbers: the mailbox is empty"),
			step("p8 COPY 1:* INBOX", "p8 BAD no message sequence numbers: the mailbox is empty"),
			step("p9 MOVE * INBOX", "p9 BAD no message sequence numbers: the mailbox is empty"),
			step("p10 UID FETCH 1:* UID", "p10 OK FETCH completed"),
			step("p11 UID STORE 1:* +FLAGS (\\Seen)", "p11 OK STORE completed"),
			step("p12 SEARCH 1:*", "* SEARCH", "p12 OK SEARCH completed"),
		}},
		// STATUS of the selected mailbox answers with what the session
		// knows; an APPEND to it is announced first (RFC 9051 section 6.3.11).
		probeCase{"selected STATUS and APPEND to itself", "selected", []probeStep{
			step("p1 STATUS INBOX (MESSAGES UIDNEXT)", "* STATUS INBOX (MESSAGES 3 UIDNEXT 4)", "p1 OK STATUS completed"),
			step("p2 APPEND INBOX {3+}\r\nab4", "* 4 EXISTS", "* 1 RECENT", "p2 OK [APPENDUID {N} 4] APPEND completed"),
			step("p3 STATUS INBOX (MESSAGES UIDNEXT)", "* STATUS INBOX (MESSAGES 4 UIDNEXT 5)", "p3 OK STATUS completed"),
		}},
		// A keyword named twice in APPEND, in any case, is stored once
		// (RFC 9051 section 2.3.2; regression: "(foo FOO)" gave a
		// message both).
		probeCase{"selected APPEND with a keyword twice", "selected", []probeStep{
			step("p1 APPEND INBOX (\\Seen foo FOO $Label1 $label1 \\Seen) {3+}\r\nab4",
				"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft foo $Label1)", "* OK [PERMANENTFLAGS ...",
				"* 4 EXISTS", "* 1 RECENT", "p1 OK [APPENDUID {N} 4] APPEND completed"),
			step("p2 FETCH 4 FLAGS", "* 4 FETCH (FLAGS (\\Seen \\Recent foo $Label1))", "p2 OK FETCH completed"),
			step("p3 STORE 4 -FLAGS (Foo)", "* 4 FETCH (FLAGS (\\Seen \\Recent $Label1))", "p3 OK STORE completed"),
		}},
		probeCase{"selected COPY and MOVE codes", "selected", []probeStep{
			step("p1 COPY 1 nosuch", "p1 NO [TRYCREATE] no such mailbox"),
			step("p2 MOVE 1 nosuch", "p2 NO [TRYCREATE] no such mailbox"),
			step("p3 UID COPY 99 Trash", "p3 OK nothing to do"),
			step("p4 COPY 1 Trash", "p4 OK [COPYUID {N} 1 1] COPY completed"),
			step("p5 MOVE 1 Trash", "* OK [COPYUID {N} 1 2] moved", "* 1 EXPUNGE", "p5 OK MOVE completed"),
		}},
		probeCase{"selected ENABLE, LOGIN, STORE syntax", "selected", []probeStep{
			step("p1 ENABLE CONDSTORE", "p1 BAD command not allowed in this state: ENABLE must come before SELECT (RFC 5161); UNSELECT first"),
			step("p2 LOGIN a b", "p2 "+signedIn),
			step("p3 STORE 1 +FLAGS (\\Foo)", "p3 BAD unknown system flag"),
			// \Recent cannot be altered by the client (RFC 3501 section
			// 2.3.2): BAD, as Dovecot answers, in STORE and APPEND.
			step("p3a STORE 1 +FLAGS (\\Recent)", "p3a BAD unknown system flag"),
			step("p3b STORE 1 FLAGS (\\Seen \\Recent)", "p3b BAD unknown system flag"),
			step("p3c APPEND INBOX (\\Recent) {3+}\r\nab4", "p3c BAD unknown system flag"),
			step("p4 STORE 1 FROB (\\Seen)", "p4 BAD ..."),
		}},
		probeCase{"selected CLOSE and UNSELECT", "selected", []probeStep{
			step("p1 UNSELECT", "p1 OK mailbox closed"),
			step("p2 CLOSE", "p2 "+notSelected),
			step("p3 EXAMINE INBOX", "* FLAGS ...", "* 3 EXISTS", "* 0 RECENT", "* OK [UNSEEN 1] first unseen message", "* OK [UIDVALIDITY {N}] UIDs valid",
				"* OK [UIDNEXT 4] predicted next UID", "* OK [PERMANENTFLAGS ()] ...", "* OK [HIGHESTMODSEQ {N}] highest modseq",
				"p3 OK [READ-ONLY] mailbox selected"),
			// RFC 9051 sections 6.3.3 and 7.1: nothing of an EXAMINEd
			// mailbox changes, and READ-ONLY says why.
			step("p4 STORE 1 +FLAGS (\\Seen)", "p4 NO [READ-ONLY] mailbox is read-only (EXAMINE)"),
			step("p5 EXPUNGE", "p5 NO [READ-ONLY] mailbox is read-only (EXAMINE)"),
			step("p6 UID EXPUNGE 1", "p6 NO [READ-ONLY] mailbox is read-only (EXAMINE)"),
			step("p7 MOVE 1 Trash", "p7 NO [READ-ONLY] mailbox is read-only (EXAMINE)"),
			step("p8 CLOSE", "p8 OK mailbox closed"),
		}},
		// DELETE of the selected mailbox by the session itself (RFC 7162
		// section 3.2.11: CLOSED).
		probeCase{"selected DELETE of itself", "auth", []probeStep{
			step("p1 CREATE gone", "p1 OK CREATE completed"),
			step("p2 SELECT gone", "* FLAGS ...", "* 0 EXISTS", "* 0 RECENT", "* OK [UIDVALIDITY {N}] UIDs valid",
				"* OK [UIDNEXT 1] predicted next UID", "* OK [PERMANENTFLAGS ...", "* OK [HIGHESTMODSEQ {N}] highest modseq",
				"p2 OK [READ-WRITE] mailbox selected"),
			step("p3 DELETE gone", "* OK [CLOSED] selected mailbox deleted", "p3 OK DELETE completed..."),
			step("p4 FETCH 1 UID", "p4 "+notSelected),
		}},
	)

	// One server; each case signs in as an account of its own, whose
	// INBOX holds three messages (a server per case took minutes under
	// -race on a loaded machine).
	e := newEnv(t)
	for i, tc := range cases {
		user := fmt.Sprintf("probe%d@example.org", i)
		hash, err := auth.HashParams(testPassword, cheapParams)
		if err != nil {
			t.Fatal(err)
		}
		acct, err := e.st.CreateAccount(context.Background(), user, hash)
		if err != nil {
			t.Fatal(err)
		}
		if !acct.Enabled {
			if err := e.st.SetEnabled(context.Background(), user, true); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 3 {
			d := store.NewDelivery([]byte(msg("probe "+string(rune('a'+j)), "body")), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
			d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: store.Inbox}}
			got, err := e.st.Deliver(context.Background(), d)
			if err == nil {
				_, err = e.st.ClaimRecent(context.Background(), acct.ID, got[0].MailboxID, got[0].UID)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Run(tc.name, func(t *testing.T) {
			// One after another: each holds a connection, and the cases
			// together pass the per-IP connection limit.
			tc0, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			defer tc0.Close()
			c := &conn{t: t, c: tc0, r: bufio.NewReader(tc0)}
			if g := probeLine(t, c); !strings.HasPrefix(g, "* OK") {
				t.Fatalf("greeting %q", g)
			}
			switch tc.state {
			case "notauth":
			case "auth", "selected":
				c.ok("LOGIN " + user + ` "` + testPassword + `"`)
				if tc.state == "selected" {
					c.ok("SELECT INBOX")
				}
			default:
				t.Fatalf("state %q", tc.state)
			}
			for _, st := range tc.steps {
				c.send(st.send)
				for _, want := range st.want {
					got := probeLine(t, c)
					if !probeMatch(want, got) {
						t.Fatalf("sent %q:\n got  %q\n want %q", st.send, got, want)
					}
				}
			}
			// Nothing more came back than the transcript says.
			if last := tc.steps[len(tc.steps)-1].want; last[len(last)-1] != "<EOF>" {
				c.send("zz NOOP")
				if got := probeLine(t, c); !strings.HasPrefix(got, "zz ") {
					t.Fatalf("after the transcript: %q", got)
				}
			}
		})
	}
}

// probeLine reads one line; "<EOF>" when the server closed.
func probeLine(t *testing.T, c *conn) string {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer (after %q)", l)
		}
		if l == "" && (errors.Is(err, io.EOF) || isClosed(err)) {
			return "<EOF>"
		}
		t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// probeMatch matches a transcript's wanted line ("{N}" a number, a
// trailing "..." any rest).
func probeMatch(want, got string) bool {
	rest := strings.HasSuffix(want, "...")
	want = strings.TrimSuffix(want, "...")
	pat := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), regexp.QuoteMeta("{N}"), `[0-9]+`)
	if !rest {
		pat += "$"
	}
	return regexp.MustCompile(pat).MatchString(got)
}
