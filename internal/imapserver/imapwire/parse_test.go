package imapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/big"
	randv1 "math/rand"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readAll reads one command from in, recording continuation requests.
func readOne(t *testing.T, in string, opts Options) (*Command, error, []string) {
	t.Helper()
	var conts []string
	opts.Continue = func(text string) error {
		conts = append(conts, text)
		return nil
	}
	r := NewReader(bufio.NewReader(strings.NewReader(in)), opts)
	cmd, err := r.ReadCommand()
	return cmd, err, conts
}

func set(ranges ...uint32) NumSet {
	var s NumSet
	for i := 0; i+1 < len(ranges); i += 2 {
		s.Ranges = append(s.Ranges, NumRange{ranges[i], ranges[i+1]})
	}
	return s
}

type readCase struct {
	name string
	in   string
	want *Command
}

// readCommandCases are the commands of TestReadCommand, also the seeds of
// FuzzReadCommand.
func readCommandCases() []readCase {
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	return []readCase{
		// RFC 3501 section 8, the sample session.
		{"rfc3501 login", "a001 login mrc secret\r\n", &Command{Tag: "a001", Name: "LOGIN", Args: &Login{"mrc", "secret"}}},
		{"rfc3501 select", "a002 select inbox\r\n", &Command{Tag: "a002", Name: "SELECT", Args: &Select{Mailbox: "INBOX"}}},
		{"rfc3501 fetch full", "a003 fetch 12 full\r\n", &Command{Tag: "a003", Name: "FETCH", Args: &Fetch{Set: set(12, 12), Items: []FetchItem{
			{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}, {Kind: FetchBody}}}}},
		{"rfc3501 fetch header", "a004 fetch 12 body[header]\r\n", &Command{Tag: "a004", Name: "FETCH", Args: &Fetch{Set: set(12, 12), Items: []FetchItem{
			{Kind: FetchBodySection, Section: Section{Spec: SectionHeader}}}}}},
		{"rfc3501 store", "a005 store 12 +flags \\deleted\r\n", &Command{Tag: "a005", Name: "STORE", Args: &Store{Set: set(12, 12), Op: StoreAdd, Flags: []string{`\Deleted`}}}},
		{"rfc3501 logout", "a006 logout\r\n", &Command{Tag: "a006", Name: "LOGOUT"}},
		// RFC 3501 section 6 examples.
		{"capability", "abcd CAPABILITY\r\n", &Command{Tag: "abcd", Name: "CAPABILITY"}},
		{"noop", "a002 NOOP\r\n", &Command{Tag: "a002", Name: "NOOP"}},
		{"starttls", "a002 STARTTLS\r\n", &Command{Tag: "a002", Name: "STARTTLS"}},
		{"authenticate", "a001 AUTHENTICATE GSSAPI\r\n", &Command{Tag: "a001", Name: "AUTHENTICATE", Args: &Authenticate{Mechanism: "GSSAPI"}}},
		{"authenticate sasl-ir", "a AUTHENTICATE plain AHRlc3QAcGFzcw==\r\n", &Command{Tag: "a", Name: "AUTHENTICATE", Args: &Authenticate{Mechanism: "PLAIN", InitialResponse: []byte("\x00test\x00pass")}}},
		{"authenticate sasl-ir empty", "a AUTHENTICATE EXTERNAL =\r\n", &Command{Tag: "a", Name: "AUTHENTICATE", Args: &Authenticate{Mechanism: "EXTERNAL", InitialResponse: []byte{}}}},
		{"login quoted", "a001 LOGIN \"SMITH\" \"SE\\\"S\\\\AME\"\r\n", &Command{Tag: "a001", Name: "LOGIN", Args: &Login{"SMITH", `SE"S\AME`}}},
		{"examine", "A932 EXAMINE blurdybloop\r\n", &Command{Tag: "A932", Name: "EXAMINE", Args: &Select{Mailbox: "blurdybloop"}}},
		{"create", "A003 CREATE owatagusiam/\r\n", &Command{Tag: "A003", Name: "CREATE", Args: &Create{Mailbox: "owatagusiam/"}}},
		{"create use", "t1 CREATE \"Important Messages\" (USE (\\important \\sent))\r\n", &Command{Tag: "t1", Name: "CREATE", Args: &Create{Mailbox: "Important Messages", SpecialUse: []string{`\important`, `\Sent`}}}},
		{"delete", "A683 DELETE blurdybloop\r\n", &Command{Tag: "A683", Name: "DELETE", Args: &MailboxArgs{"blurdybloop"}}},
		{"rename", "A683 RENAME blurdybloop sarasoop\r\n", &Command{Tag: "A683", Name: "RENAME", Args: &Rename{"blurdybloop", "sarasoop"}}},
		{"subscribe", "A002 SUBSCRIBE #news.comp.mail.mime\r\n", &Command{Tag: "A002", Name: "SUBSCRIBE", Args: &MailboxArgs{"#news.comp.mail.mime"}}},
		{"unsubscribe", "A002 UNSUBSCRIBE #news.comp.mail.mime\r\n", &Command{Tag: "A002", Name: "UNSUBSCRIBE", Args: &MailboxArgs{"#news.comp.mail.mime"}}},
		{"list empty", "A101 LIST \"\" \"\"\r\n", &Command{Tag: "A101", Name: "LIST", Args: &List{Patterns: []string{""}}}},
		{"list star", "A682 LIST \"\" *\r\n", &Command{Tag: "A682", Name: "LIST", Args: &List{Patterns: []string{"*"}}}},
		{"list ref", "A202 LIST ~/Mail/ %\r\n", &Command{Tag: "A202", Name: "LIST", Args: &List{Reference: "~/Mail/", Patterns: []string{"%"}}}},
		{"lsub", "A002 LSUB \"#news.\" \"comp.mail.*\"\r\n", &Command{Tag: "A002", Name: "LSUB", Args: &List{Reference: "#news.", Patterns: []string{"comp.mail.*"}}}},
		{"status", "A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", &Command{Tag: "A042", Name: "STATUS", Args: &Status{Mailbox: "blurdybloop", Items: []StatusItem{StatusUIDNext, StatusMessages}}}},
		{"status all", "A042 STATUS INBOX (messages uidnext uidvalidity unseen deleted size recent highestmodseq)\r\n", &Command{Tag: "A042", Name: "STATUS", Args: &Status{Mailbox: "INBOX", Items: []StatusItem{
			StatusMessages, StatusUIDNext, StatusUIDValidity, StatusUnseen, StatusDeleted, StatusSize, StatusRecent, StatusHighestModSeq}}}},
		{"check", "FXXZ CHECK\r\n", &Command{Tag: "FXXZ", Name: "CHECK"}},
		{"close", "A341 CLOSE\r\n", &Command{Tag: "A341", Name: "CLOSE"}},
		{"expunge", "A202 EXPUNGE\r\n", &Command{Tag: "A202", Name: "EXPUNGE"}},
		{"search rfc3501", "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n", &Command{Tag: "A282", Name: "SEARCH", Args: &Search{Keys: []SearchKey{
			{Op: SearchFlagged}, {Op: SearchSince, Date: date(1994, 2, 1)}, {Op: SearchNot, Keys: []SearchKey{{Op: SearchFrom, Text: "Smith"}}}}}}},
		{"search text", "A283 SEARCH TEXT \"string not in mailbox\"\r\n", &Command{Tag: "A283", Name: "SEARCH", Args: &Search{Keys: []SearchKey{{Op: SearchText, Text: "string not in mailbox"}}}}},
		{"search charset literal", "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n", &Command{Tag: "A284", Name: "SEARCH", Args: &Search{Charset: "UTF-8", HasCharset: true, Keys: []SearchKey{{Op: SearchText, Text: "XXXXXX"}}}}},
		{"fetch header fields", "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n", &Command{Tag: "A654", Name: "FETCH", Args: &Fetch{Set: set(2, 4), Items: []FetchItem{
			{Kind: FetchFlags}, {Kind: FetchBodySection, Section: Section{Spec: SectionHeaderFields, Fields: []string{"DATE", "FROM"}}}}}}},
		{"store list", "A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", &Command{Tag: "A003", Name: "STORE", Args: &Store{Set: set(2, 4), Op: StoreAdd, Flags: []string{`\Deleted`}}}},
		{"store remove silent", "A004 STORE 1 -FLAGS.SILENT (\\seen $Junk)\r\n", &Command{Tag: "A004", Name: "STORE", Args: &Store{Set: set(1, 1), Op: StoreRemove, Silent: true, Flags: []string{`\Seen`, "$Junk"}}}},
		{"store empty", "A005 STORE 1:* FLAGS ()\r\n", &Command{Tag: "A005", Name: "STORE", Args: &Store{Set: set(1, Star), Flags: []string{}}}},
		{"copy", "A003 COPY 2:4 MEETING\r\n", &Command{Tag: "A003", Name: "COPY", Args: &Copy{Set: set(2, 4), Mailbox: "MEETING"}}},
		{"uid fetch", "A999 UID FETCH 4827313:4828442 FLAGS\r\n", &Command{Tag: "A999", Name: "FETCH", UID: true, Args: &Fetch{Set: set(4827313, 4828442), Items: []FetchItem{{Kind: FetchFlags}}}}},
		{"append", "A003 APPEND saved-messages (\\Seen) {5}\r\nhello\r\n", &Command{Tag: "A003", Name: "APPEND", Args: &Append{Mailbox: "saved-messages", Messages: []AppendMessage{
			{Flags: []string{`\Seen`}, Data: []byte("hello")}}}}},
		{"append date", "A003 APPEND INBOX \" 7-Feb-1994 21:52:25 -0800\" {2}\r\nhi\r\n", &Command{Tag: "A003", Name: "APPEND", Args: &Append{Mailbox: "INBOX", Messages: []AppendMessage{
			{Date: time.Date(1994, 2, 7, 21, 52, 25, 0, time.FixedZone("", -8*3600)), Data: []byte("hi")}}}}},
		// RFC 9051 and extensions.
		{"enable", "A02 ENABLE utf8=accept CONDSTORE\r\n", &Command{Tag: "A02", Name: "ENABLE", Args: &Enable{[]string{"UTF8=ACCEPT", "CONDSTORE"}}}},
		{"namespace", "A01 NAMESPACE\r\n", &Command{Tag: "A01", Name: "NAMESPACE"}},
		{"idle", "A003 IDLE\r\n", &Command{Tag: "A003", Name: "IDLE"}},
		{"unselect", "A342 UNSELECT\r\n", &Command{Tag: "A342", Name: "UNSELECT"}},
		{"uid expunge", "A003 UID EXPUNGE 3000:3002\r\n", &Command{Tag: "A003", Name: "EXPUNGE", UID: true, Args: &Expunge{set(3000, 3002)}}},
		{"uid move", "a UID MOVE 42:69 foo\r\n", &Command{Tag: "a", Name: "MOVE", UID: true, Args: &Copy{Set: set(42, 69), Mailbox: "foo"}}},
		{"move", "a MOVE 1,3:* Trash\r\n", &Command{Tag: "a", Name: "MOVE", Args: &Copy{Set: set(1, 1, 3, Star), Mailbox: "Trash"}}},
		{"esearch", "A300 SEARCH RETURN (MIN COUNT) FLAGGED\r\n", &Command{Tag: "A300", Name: "SEARCH", Args: &Search{Return: &SearchReturn{Min: true, Count: true}, Keys: []SearchKey{{Op: SearchFlagged}}}}},
		{"esearch empty", "A301 UID SEARCH RETURN () UNSEEN\r\n", &Command{Tag: "A301", Name: "SEARCH", UID: true, Args: &Search{Return: &SearchReturn{All: true}, Keys: []SearchKey{{Op: SearchUnseen}}}}},
		// RFC 5267 section 4: CONTEXT and UPDATE, CANCELUPDATE.
		{"context update", "B01 UID SEARCH RETURN (COUNT UPDATE) UNDELETED\r\n", &Command{Tag: "B01", Name: "SEARCH", UID: true, Args: &Search{Return: &SearchReturn{Count: true, Update: true}, Keys: []SearchKey{{Op: SearchUndeleted}}}}},
		{"update alone", "B02 SEARCH RETURN (UPDATE) SEEN\r\n", &Command{Tag: "B02", Name: "SEARCH", Args: &Search{Return: &SearchReturn{Update: true}, Keys: []SearchKey{{Op: SearchSeen}}}}},
		{"context hint alone is ALL", "B03 SEARCH RETURN (CONTEXT) SEEN\r\n", &Command{Tag: "B03", Name: "SEARCH", Args: &Search{Return: &SearchReturn{Context: true, All: true}, Keys: []SearchKey{{Op: SearchSeen}}}}},
		{"esort update", "C01 UID SORT RETURN (CONTEXT UPDATE) (REVERSE DATE) UTF-8 UNSEEN\r\n", &Command{Tag: "C01", Name: "SORT", UID: true, Args: &Sort{Return: &SearchReturn{Context: true, Update: true},
			Criteria: []SortCriterion{{Key: "DATE", Reverse: true}}, Charset: "UTF-8", Keys: []SearchKey{{Op: SearchUnseen}}}}},
		{"cancelupdate", "C02 CANCELUPDATE \"B01\" \"C01\"\r\n", &Command{Tag: "C02", Name: "CANCELUPDATE", Args: &CancelUpdate{Tags: []string{"B01", "C01"}}}},
		{"searchres save", "A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994\r\n", &Command{Tag: "A282", Name: "SEARCH", Args: &Search{Return: &SearchReturn{Save: true}, Keys: []SearchKey{
			{Op: SearchFlagged}, {Op: SearchSince, Date: date(1994, 2, 1)}}}}},
		{"searchres fetch", "A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)\r\n", &Command{Tag: "A283", Name: "FETCH", Args: &Fetch{Set: NumSet{Dollar: true}, Items: []FetchItem{
			{Kind: FetchUID}, {Kind: FetchInternalDate}, {Kind: FetchFlags}, {Kind: FetchRFC822Size}}}}},
		{"searchres uid", "A285 UID SEARCH UID $ SMALLER 4096\r\n", &Command{Tag: "A285", Name: "SEARCH", UID: true, Args: &Search{Keys: []SearchKey{
			{Op: SearchUID, Set: NumSet{Dollar: true}}, {Op: SearchSmaller, Number: 4096}}}}},
		{"search or nested", "a SEARCH OR (SEEN 1:3) NOT (DELETED UID 5,7) *\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{Keys: []SearchKey{
			{Op: SearchOr, Keys: []SearchKey{
				{Op: SearchAnd, Keys: []SearchKey{{Op: SearchSeen}, {Op: SearchSeqSet, Set: set(1, 3)}}},
				{Op: SearchNot, Keys: []SearchKey{{Op: SearchAnd, Keys: []SearchKey{{Op: SearchDeleted}, {Op: SearchUID, Set: set(5, 5, 7, 7)}}}}}}},
			{Op: SearchSeqSet, Set: set(Star, Star)}}}}},
		{"search header", "a SEARCH HEADER Message-ID \"<x@y>\" SENTBEFORE \"01-Jan-2020\" LARGER 100 KEYWORD $Forwarded\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{Keys: []SearchKey{
			{Op: SearchHeader, Field: "Message-ID", Text: "<x@y>"}, {Op: SearchSentBefore, Date: date(2020, 1, 1)}, {Op: SearchLarger, Number: 100}, {Op: SearchKeyword, Text: "$Forwarded"}}}}},
		{"search modseq", "a SEARCH MODSEQ 12345\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{Keys: []SearchKey{{Op: SearchModSeq, Number: 12345}}}}},
		{"search modseq entry", "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{Keys: []SearchKey{
			{Op: SearchModSeq, Number: 620162338, ModSeqEntry: `/flags/\draft`, ModSeqType: "all"}}}}},
		// RFC 7162 section 3.1 and 3.2.
		{"condstore select", "A160 SELECT INBOX (CONDSTORE)\r\n", &Command{Tag: "A160", Name: "SELECT", Args: &Select{Mailbox: "INBOX", CondStore: true}}},
		{"store unchangedsince", "a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n", &Command{Tag: "a103", Name: "STORE", UID: true, Args: &Store{
			Set: set(6, 6, 4, 4, 8, 8), Op: StoreAdd, Silent: true, Flags: []string{`\Deleted`}, UnchangedSince: 12121230045, HasUnchangedSince: true}}},
		{"store unchangedsince 0", "a STORE 7 (UNCHANGEDSINCE 0) FLAGS \\Seen $Work\r\n", &Command{Tag: "a", Name: "STORE", Args: &Store{
			Set: set(7, 7), Flags: []string{`\Seen`, "$Work"}, HasUnchangedSince: true}}},
		{"fetch changedsince", "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n", &Command{Tag: "s100", Name: "FETCH", UID: true, Args: &Fetch{Set: set(1, Star), Items: []FetchItem{{Kind: FetchFlags}}, ChangedSince: 12345}}},
		{"fetch vanished", "s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n", &Command{Tag: "s100", Name: "FETCH", UID: true, Args: &Fetch{Set: set(300, 500), Items: []FetchItem{{Kind: FetchFlags}}, ChangedSince: 12345, Vanished: true}}},
		{"fetch modseq", "a FETCH 1 (MODSEQ UID)\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(1, 1), Items: []FetchItem{{Kind: FetchModSeq}, {Kind: FetchUID}}}}},
		{"qresync", "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", &Command{Tag: "A02", Name: "SELECT", Args: &Select{Mailbox: "INBOX", QResync: &QResync{
			UIDValidity: 67890007, ModSeq: 20050715194045000, KnownUIDs: set(41, 41, 43, 211, 214, 541)}}}},
		{"qresync minimal", "A03 EXAMINE INBOX (QRESYNC (67890007 90060115194045000))\r\n", &Command{Tag: "A03", Name: "EXAMINE", Args: &Select{Mailbox: "INBOX", QResync: &QResync{
			UIDValidity: 67890007, ModSeq: 90060115194045000}}}},
		{"qresync seq match", "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
			&Command{Tag: "B04", Name: "SELECT", Args: &Select{Mailbox: "INBOX", QResync: &QResync{UIDValidity: 67890007, ModSeq: 90060115194045000, KnownUIDs: set(1, 29997),
				KnownSeqs:    set(5000, 5000, 7500, 7500, 9000, 9000, 9990, 9999),
				KnownSeqUIDs: set(15000, 15000, 22500, 22500, 27000, 27000, 29970, 29970, 29973, 29973, 29976, 29976, 29979, 29979, 29982, 29982, 29985, 29985, 29988, 29988, 29991, 29991, 29994, 29994, 29997, 29997)}}}},
		{"qresync seq match only", "B05 SELECT INBOX (CONDSTORE QRESYNC (1 2 (1:2 5:6)))\r\n", &Command{Tag: "B05", Name: "SELECT", Args: &Select{Mailbox: "INBOX", CondStore: true, QResync: &QResync{
			UIDValidity: 1, ModSeq: 2, KnownSeqs: set(1, 2), KnownSeqUIDs: set(5, 6)}}}},
		// RFC 5258, 5819, 6154: LIST-EXTENDED.
		{"list subscribed", "A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", &Command{Tag: "A02", Name: "LIST", Args: &List{Patterns: []string{"*"}, Select: ListSelect{Subscribed: true}, Extended: true}}},
		{"list return children", "A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n", &Command{Tag: "A03", Name: "LIST", Args: &List{Patterns: []string{"%"}, Return: ListReturn{Children: true}, Extended: true}}},
		{"list remote subscribed", "A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n", &Command{Tag: "A05", Name: "LIST", Args: &List{Patterns: []string{"*"}, Select: ListSelect{Remote: true, Subscribed: true}, Extended: true}}},
		{"list recursivematch", "A06 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (SUBSCRIBED)\r\n", &Command{Tag: "A06", Name: "LIST", Args: &List{Patterns: []string{"%"}, Select: ListSelect{Subscribed: true, RecursiveMatch: true}, Return: ListReturn{Subscribed: true}, Extended: true}}},
		{"list patterns", "A04 LIST \"\" (\"INBOX\" \"Drafts\" Sent/%)\r\n", &Command{Tag: "A04", Name: "LIST", Args: &List{Patterns: []string{"INBOX", "Drafts", "Sent/%"}, Extended: true}}},
		{"list status", "A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n", &Command{Tag: "A01", Name: "LIST", Args: &List{Patterns: []string{"%"}, Return: ListReturn{Status: []StatusItem{StatusMessages, StatusUnseen}}, Extended: true}}},
		{"list special-use", "t4 LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE CHILDREN)\r\n", &Command{Tag: "t4", Name: "LIST", Args: &List{Patterns: []string{"*"}, Select: ListSelect{SpecialUse: true}, Return: ListReturn{SpecialUse: true, Children: true}, Extended: true}}},
		// RFC 3516 BINARY.
		{"fetch binary", "t FETCH 1 (BINARY[1]<0.100> BINARY.PEEK[2.1] BINARY.SIZE[2] BINARY[])\r\n", &Command{Tag: "t", Name: "FETCH", Args: &Fetch{Set: set(1, 1), Items: []FetchItem{
			{Kind: FetchBinary, Section: Section{Part: []uint32{1}}, Partial: &Partial{0, 100}},
			{Kind: FetchBinary, Peek: true, Section: Section{Part: []uint32{2, 1}}},
			{Kind: FetchBinarySize, Section: Section{Part: []uint32{2}}},
			{Kind: FetchBinary}}}}},
		{"append literal8", "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) ~{5}\r\nh\x00llo\r\n", &Command{Tag: "A003", Name: "APPEND", Args: &Append{Mailbox: "Drafts", Messages: []AppendMessage{
			{Flags: []string{`\Seen`, `\Draft`, "$MDNSent"}, Data: []byte("h\x00llo"), Binary: true}}}}},
		// RFC 6855 section 4.
		{"append utf8", "A004 APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" UTF8 (~{16}\r\nSubject: \u00e9t\u00e9\r\n)\r\n", &Command{Tag: "A004", Name: "APPEND", Args: &Append{Mailbox: "INBOX", Messages: []AppendMessage{
			{Flags: []string{`\Seen`}, Date: time.Date(1994, 2, 7, 21, 52, 25, 0, time.FixedZone("", -8*3600)), Data: []byte("Subject: \u00e9t\u00e9\r\n"), Binary: true, UTF8: true}}}}},
		{"append utf8 lowercase", "a append Drafts utf8 (~{1+}\r\nx)\r\n", &Command{Tag: "a", Name: "APPEND", Args: &Append{Mailbox: "Drafts", Messages: []AppendMessage{
			{Data: []byte("x"), Binary: true, UTF8: true}}}}},
		// FETCH items.
		{"fetch all items", "a FETCH 1:2 (FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID MODSEQ)\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(1, 2), Items: []FetchItem{
			{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822}, {Kind: FetchRFC822Header}, {Kind: FetchRFC822Text}, {Kind: FetchRFC822Size},
			{Kind: FetchEnvelope}, {Kind: FetchBody}, {Kind: FetchBodyStructure}, {Kind: FetchUID}, {Kind: FetchModSeq}}}}},
		{"fetch sections", "a FETCH 1 (BODY[] BODY.PEEK[1.2.3.HEADER] BODY[1.MIME] BODY[2.TEXT]<10.20> body.peek[header.fields.not (Received \"X-Y\")] BODY[3])\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(1, 1), Items: []FetchItem{
			{Kind: FetchBodySection},
			{Kind: FetchBodySection, Peek: true, Section: Section{Part: []uint32{1, 2, 3}, Spec: SectionHeader}},
			{Kind: FetchBodySection, Section: Section{Part: []uint32{1}, Spec: SectionMIME}},
			{Kind: FetchBodySection, Section: Section{Part: []uint32{2}, Spec: SectionText}, Partial: &Partial{10, 20}},
			{Kind: FetchBodySection, Peek: true, Section: Section{Spec: SectionHeaderFieldsNot, Fields: []string{"Received", "X-Y"}}},
			{Kind: FetchBodySection, Section: Section{Part: []uint32{3}}}}}}},
		{"fetch fast", "a FETCH 1 fast\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(1, 1), Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}}}}},
		{"fetch all macro", "a FETCH 1 ALL\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(1, 1), Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}}}}},
		// RFC 2971 ID, RFC 4978 COMPRESS.
		{"id", "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)\r\n", &Command{Tag: "a023", Name: "ID", Args: &ID{Params: []IDParam{
			{Name: "name", Value: "sodr"}, {Name: "version", Value: "19.34"}, {Name: "vendor", ValueNil: true}}}}},
		{"id nil", "a ID NIL\r\n", &Command{Tag: "a", Name: "ID", Args: &ID{}}},
		{"id empty", "a ID ()\r\n", &Command{Tag: "a", Name: "ID", Args: &ID{Params: []IDParam{}}}},
		{"compress", "a COMPRESS deflate\r\n", &Command{Tag: "a", Name: "COMPRESS", Args: &Compress{"DEFLATE"}}},
		// Mailbox names.
		{"mutf7", "a SELECT \"&ZeVnLIqe-\"\r\n", &Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "日本語"}}},
		{"inbox case", "a STATUS iNbOx (MESSAGES)\r\n", &Command{Tag: "a", Name: "STATUS", Args: &Status{Mailbox: "INBOX", Items: []StatusItem{StatusMessages}}}},
		// INBOX is case-insensitive as the first level of a name too: "inbox/x"
		// is INBOX's child, not one of a second mailbox "inbox".
		{"inbox child", "a DELETE inbox/x\r\n", &Command{Tag: "a", Name: "DELETE", Args: &MailboxArgs{"INBOX/x"}}},
		{"inboxes is no inbox", "a DELETE inboxes\r\n", &Command{Tag: "a", Name: "DELETE", Args: &MailboxArgs{"inboxes"}}},
		{"ampersand", "a CREATE \"A&-B\"\r\n", &Command{Tag: "a", Name: "CREATE", Args: &Create{Mailbox: "A&B"}}},
		// Literals.
		{"sync literals", "a LOGIN {3}\r\nfoo {3}\r\nbar\r\n", &Command{Tag: "a", Name: "LOGIN", Args: &Login{"foo", "bar"}}},
		{"nonsync literals", "a LOGIN {3+}\r\nfoo {5+}\r\nb\"a r\r\n", &Command{Tag: "a", Name: "LOGIN", Args: &Login{"foo", "b\"a r"}}},
		{"zero literal", "a LOGIN {0}\r\n {0+}\r\n\r\n", &Command{Tag: "a", Name: "LOGIN", Args: &Login{"", ""}}},
		{"literal with crlf", "a SEARCH SUBJECT {4}\r\na\r\nb UNSEEN\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{Keys: []SearchKey{{Op: SearchSubject, Text: "a\r\nb"}, {Op: SearchUnseen}}}}},
		{"bare lf", "a NOOP\n", &Command{Tag: "a", Name: "NOOP"}},
		{"utf8 quoted", "a SEARCH CHARSET utf-8 SUBJECT \"Grüße\"\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{Charset: "UTF-8", HasCharset: true, Keys: []SearchKey{{Op: SearchSubject, Text: "Grüße"}}}}},
		{"tag with odd chars", "a.b-c]1 NOOP\r\n", &Command{Tag: "a.b-c]1", Name: "NOOP"}},
		{"blank lines skipped", "\r\n\r\na NOOP\r\n", &Command{Tag: "a", Name: "NOOP"}},
	}
}

func TestReadCommand(t *testing.T) {
	for _, tc := range readCommandCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err, _ := readOne(t, tc.in, Options{})
			if err != nil {
				t.Fatalf("ReadCommand(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ReadCommand(%q)\n got %#v\nwant %#v\n got %s\nwant %s", tc.in, got.Args, tc.want.Args, got, tc.want)
			}
			// The re-encoding reads back to the same command.
			again, err, _ := readOne(t, got.String()+"\r\n", Options{})
			if err != nil {
				t.Fatalf("re-reading %q: %v", got.String(), err)
			}
			if !reflect.DeepEqual(again.String(), got.String()) {
				t.Fatalf("re-encoding changed:\n%s\n%s", got, again)
			}
		})
	}
}

func TestContinuations(t *testing.T) {
	tests := []struct {
		in    string
		conts int
	}{
		{"a LOGIN {3}\r\nfoo {3}\r\nbar\r\n", 2},
		{"a LOGIN {3+}\r\nfoo {3}\r\nbar\r\n", 1},
		{"a LOGIN {3+}\r\nfoo {3+}\r\nbar\r\n", 0},
		{"a APPEND INBOX {0}\r\n\r\n", 1},
		{"a APPEND INBOX ~{1}\r\nx\r\n", 1},
		{"a APPEND INBOX ~{1+}\r\nx\r\n", 0},
		{"a APPEND INBOX {5000+}\r\n" + strings.Repeat("x", 5000) + "\r\n", 0}, // LITERAL+, not LITERAL-
	}
	for _, tc := range tests {
		_, err, conts := readOne(t, tc.in, Options{})
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if len(conts) != tc.conts {
			t.Errorf("%q: %d continuations, want %d", tc.in, len(conts), tc.conts)
		}
		for _, c := range conts {
			if c != "Ready" {
				t.Errorf("continuation text %q", c)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		tag   string
		msg   string // substring of the message
		fatal bool
		code  CodeName
	}{
		{"unknown command", "a1 FROB x\r\n", "a1", "unknown command", false, ""},
		{"cancelupdate without tag", "a1 CANCELUPDATE\r\n", "a1", "expected space", false, ""},
		{"cancelupdate atom tag", "a1 CANCELUPDATE B01\r\n", "a1", "quoted", false, ""},
		{"update twice", "a1 SEARCH RETURN (UPDATE UPDATE) ALL\r\n", "a1", "unknown search return option UPDATE", false, ""},
		{"missing args", "a1 LOGIN\r\n", "a1", "expected space", false, ""},
		{"missing password", "a1 LOGIN joe\r\n", "a1", "expected space", false, ""},
		{"unbalanced open", "a1 FETCH 1 (FLAGS\r\n", "a1", "expected ')'", false, ""},
		{"unbalanced close", "a1 FETCH 1 FLAGS)\r\n", "a1", "unexpected ')'", false, ""},
		{"search unbalanced", "a1 SEARCH (SEEN (DELETED)\r\n", "a1", "expected ')'", false, ""},
		{"seq zero", "a1 FETCH 0 FLAGS\r\n", "a1", "0 is not", false, ""},
		{"append utf8 plain literal", "a1 APPEND INBOX UTF8 ({1}\r\n", "a1", "must be a literal8", false, ""},
		{"append utf8 no paren", "a1 APPEND INBOX UTF8 ~{1}\r\n", "a1", "'(' after UTF8", false, ""},
		{"append other keyword", "a1 APPEND INBOX CATENATE (TEXT {1}\r\n", "a1", "expected message literal", false, ""},
		{"seq open range", "a1 FETCH 1: FLAGS\r\n", "a1", "invalid sequence set", false, ""},
		{"seq trailing comma", "a1 FETCH 1, FLAGS\r\n", "a1", "invalid sequence set", false, ""},
		{"seq overflow", "a1 FETCH 4294967296 FLAGS\r\n", "a1", "out of range", false, ""},
		{"dollar in qresync", "a1 SELECT INBOX (QRESYNC (1 2 $))\r\n", "a1", "not allowed", false, ""},
		{"star in known uids", "a1 SELECT INBOX (QRESYNC (1 2 1:*))\r\n", "a1", "'*' is not allowed", false, ""},
		{"nul byte", "a1 LOGIN a\x00b c\r\n", "a1", "0x00", false, ""},
		{"nul in quoted", "a1 LOGIN \"a\x00\" c\r\n", "a1", "0x00", false, ""},
		{"nul in literal", "a1 LOGIN {1}\r\n\x00 c\r\n", "a1", "NUL", false, ""},
		{"8-bit atom", "a1 LOGIN j\xc3\xb6e c\r\n", "a1", "0xc3", false, ""},
		{"bad utf8 quoted", "a1 LOGIN \"\xff\" c\r\n", "a1", "UTF-8", false, ""},
		{"bad tag", "+ NOOP\r\n", "", "invalid tag", false, ""},
		{"no command", "a1\r\n", "a1", "missing command", false, ""},
		{"uid noop", "a1 UID NOOP\r\n", "a1", "not a command", false, ""},
		{"garbage", "\x01\x02\x03\r\n", "", "invalid tag", false, ""},
		{"bad escape", "a1 LOGIN \"a\\b\" c\r\n", "a1", "escape", false, ""},
		{"unterminated quote", "a1 LOGIN \"abc\r\n", "a1", "unterminated", false, ""},
		{"literal not at end", "a1 LOGIN {3}x\r\n", "a1", "must end the line", false, ""},
		{"literal8 in login", "a1 LOGIN ~{3}\r\n", "a1", "found '{'", false, ""},
		{"bad mutf7", "a1 SELECT &Jjo\r\n", "a1", "modified UTF-7", false, ""},
		{"raw utf8 mailbox", "a1 SELECT \"Entw\xc3\xbcrfe\"\r\n", "a1", "modified UTF-7", false, ""},
		{"unknown fetch item", "a1 FETCH 1 (FLAGS BOGUS)\r\n", "a1", "unknown fetch item BOGUS", false, ""},
		{"macro in list", "a1 FETCH 1 (ALL)\r\n", "a1", "macro", false, ""},
		{"bad section", "a1 FETCH 1 BODY[FOO]\r\n", "a1", "unknown section", false, ""},
		{"mime without part", "a1 FETCH 1 BODY[MIME]\r\n", "a1", "MIME needs a part", false, ""},
		{"binary header", "a1 FETCH 1 BINARY[1.HEADER]\r\n", "a1", "part numbers only", false, ""},
		{"partial zero", "a1 FETCH 1 BODY[]<0.0>\r\n", "a1", "must not be 0", false, ""},
		{"vanished without uid", "a1 FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", "a1", "VANISHED needs UID FETCH", false, ""},
		{"vanished without changedsince", "a1 UID FETCH 1:* FLAGS (VANISHED)\r\n", "a1", "VANISHED needs CHANGEDSINCE", false, ""},
		{"changedsince zero", "a1 FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", "a1", "must not be 0", false, ""},
		{"unknown search key", "a1 SEARCH FOO\r\n", "a1", "unknown search key FOO", false, ""},
		{"search missing arg", "a1 SEARCH FROM\r\n", "a1", "expected space", false, ""},
		{"search bad date", "a1 SEARCH SINCE 31-Feb-2020\r\n", "a1", "invalid day", false, ""},
		{"search bad month", "a1 SEARCH SINCE 1-Foo-2020\r\n", "a1", "invalid month", false, ""},
		{"search too deep", "a1 SEARCH " + strings.Repeat("NOT ", 100) + "SEEN\r\n", "a1", "too deeply", false, ""},
		{"or one arg", "a1 SEARCH OR SEEN\r\n", "a1", "expected space", false, ""},
		{"status unknown", "a1 STATUS INBOX (MESSAGES FOO)\r\n", "a1", "unknown status item FOO", false, ""},
		{"status empty", "a1 STATUS INBOX ()\r\n", "a1", "empty status", false, ""},
		{"list bad select opt", "a1 LIST (FOO) \"\" *\r\n", "a1", "unknown selection option", false, ""},
		{"list recursivematch alone", "a1 LIST (RECURSIVEMATCH) \"\" *\r\n", "a1", "RECURSIVEMATCH", false, ""},
		{"list bad return", "a1 LIST \"\" * RETURN (FOO)\r\n", "a1", "unknown return option", false, ""},
		{"select bad param", "a1 SELECT INBOX (FOO)\r\n", "a1", "unknown select parameter", false, ""},
		{"store bad item", "a1 STORE 1 FLAGZ (\\Seen)\r\n", "a1", "expected FLAGS", false, ""},
		{"store star flag", "a1 STORE 1 FLAGS (\\*)\r\n", "a1", "expected flag", false, ""},
		{"append no literal", "a1 APPEND INBOX hello\r\n", "a1", "expected message literal", false, ""},
		{"append bad date", "a1 APPEND INBOX \"xx\" {1}\r\n", "a1", "invalid date", false, ""},
		{"sasl-ir bad base64", "a1 AUTHENTICATE PLAIN ***\r\n", "a1", "base64", false, ""},
		{"enable nothing", "a1 ENABLE\r\n", "a1", "missing capability", false, ""},
		{"trailing space", "a1 NOOP \r\n", "a1", "unexpected", false, ""},
		{"double space", "a1 LOGIN a  b\r\n", "a1", "expected password", false, ""},
		{"create bad use", "a1 CREATE x (USE (Sent))\r\n", "a1", "special-use", false, ""},
		{"overlong line", "a1 NOOP " + strings.Repeat("x", 70<<10) + "\r\n", "a1", "line too long", true, "TOOBIG"},
		{"oversize sync literal", "a1 LOGIN {100000}\r\n", "a1", "over the limit", false, "TOOBIG"},
		{"oversize append literal", "a1 APPEND INBOX {70000000}\r\n", "a1", "over the limit", false, "TOOBIG"},
		{"oversize nonsync too big to skip", "a1 APPEND INBOX {70000000+}\r\n", "a1", "over the limit", true, "TOOBIG"},
		{"literal size overflow", "a1 LOGIN {99999999999999999999}\r\n", "a1", "out of range", true, ""},
		{"eof in literal", "a1 LOGIN {10}\r\nabc", "", "", true, ""},
		// Issue 11 part 4: sizes and numbers past 2^64 used to wrap.
		{"literal size 2^64", "a1 LOGIN {18446744073709551616}\r\n", "a1", "out of range", true, ""},
		{"append literal size 2^64", "a1 APPEND INBOX {18446744073709551616}\r\n", "a1", "out of range", true, ""},
		{"nonsync literal size 2^64", "a1 APPEND INBOX {18446744073709551616+}\r\n", "a1", "out of range", true, ""},
		{"unchangedsince 2^64", "a1 STORE 1 (UNCHANGEDSINCE 18446744073709551616) +FLAGS (\\Seen)\r\n", "a1", "out of range", false, ""},
		{"unchangedsince 2^63", "a1 STORE 1 (UNCHANGEDSINCE 9223372036854775808) +FLAGS (\\Seen)\r\n", "a1", "out of range", false, ""},
		{"changedsince 2^64+1", "a1 FETCH 1 FLAGS (CHANGEDSINCE 18446744073709551617)\r\n", "a1", "out of range", false, ""},
		{"seq 2^64+1", "a1 FETCH 18446744073709551617 FLAGS\r\n", "a1", "out of range", false, ""},
		{"partial 2^64", "a1 FETCH 1 BODY[]<18446744073709551616.1>\r\n", "a1", "out of range", false, ""},
		{"larger 2^64", "a1 SEARCH LARGER 18446744073709551616\r\n", "a1", "out of range", false, ""},
		{"qresync uidvalidity 2^64+1", "a1 SELECT INBOX (QRESYNC (18446744073709551617 1))\r\n", "a1", "out of range", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err, conts := readOne(t, tc.in, Options{})
			if tc.name == "eof in literal" {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("got %v, want unexpected EOF", err)
				}
				return
			}
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("ReadCommand(%q) = %v, want *ParseError", tc.in, err)
			}
			if perr.Tag != tc.tag || !strings.Contains(perr.Msg, tc.msg) || perr.Fatal != tc.fatal || perr.Code != tc.code {
				t.Fatalf("ReadCommand(%q) = %#v, want tag %q msg ~%q fatal %v code %q", tc.in, perr, tc.tag, tc.msg, tc.fatal, tc.code)
			}
			if strings.Contains(tc.name, "oversize") && len(conts) != 0 {
				t.Fatalf("continuation sent for a refused literal")
			}
		})
	}
}

// TestResync checks that after a bad command the next one reads correctly:
// the rest of the broken command, including literals sent without waiting,
// is skipped.
func TestResync(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"syntax error", "a1 FETCH 1 (FLAGS\r\n"},
		{"unknown command", "a1 FROB 1 2 3\r\n"},
		{"error before nonsync literal", "a1 FROB {5+}\r\nab\r\nc\r\n"},
		{"error before two nonsync literals", "a1 FROB {5+}\r\nab\r\nc {3+}\r\nxyz\r\n"},
		{"error before sync literal", "a1 FROB {5}\r\n"}, // client waits for "+", gets BAD
		{"error after literal", "a1 LOGIN {3}\r\nfoo bar baz\r\n"},
		{"nul in literal", "a1 LOGIN {1+}\r\n\x00 c\r\n"},
		{"oversize sync literal", "a1 LOGIN {100000}\r\n"},
		{"oversize nonsync literal discarded", "a1 LOGIN {100000+}\r\n" + strings.Repeat("z", 100000) + " x\r\n"},
		{"multiappend refused", "a1 APPEND INBOX {1+}\r\nx {2+}\r\nyz\r\n"},
		{"multiappend refused sync", "a1 APPEND INBOX {1}\r\nx (\\Seen) {2}\r\n"},
		{"literal8 where not allowed", "a1 LOGIN ~{3+}\r\nabc x\r\n"},
		{"bad tag", "\x01 NOOP\r\n"},
		{"empty tag", " NOOP\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in + "b2 NOOP\r\n"
			r := NewReader(bufio.NewReader(strings.NewReader(in)), Options{})
			_, err := r.ReadCommand()
			var perr *ParseError
			if !errors.As(err, &perr) || perr.Fatal {
				t.Fatalf("first command: %v (%#v), want non-fatal ParseError", err, perr)
			}
			cmd, err := r.ReadCommand()
			if err != nil || cmd.Tag != "b2" || cmd.Name != "NOOP" {
				t.Fatalf("second command: %v %v", cmd, err)
			}
			if _, err := r.ReadCommand(); err != io.EOF {
				t.Fatalf("after: %v, want EOF", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	opts := Options{MaxLine: 100, MaxStringLiteral: 10, MaxLiteral: 1000, MaxCommand: 1200}
	ok := []string{
		"a LOGIN " + strings.Repeat("x", 40) + " " + strings.Repeat("y", 40) + "\r\n",
		"a LOGIN {10}\r\n0123456789 {10}\r\n0123456789\r\n",
		"a APPEND INBOX {1000}\r\n" + strings.Repeat("m", 1000) + "\r\n",
	}
	for _, in := range ok {
		if _, err, _ := readOne(t, in, opts); err != nil {
			t.Errorf("%.40q: %v", in, err)
		}
	}
	bad := []string{
		"a LOGIN " + strings.Repeat("x", 100) + " y\r\n",
		"a LOGIN {11}\r\n",
		"a APPEND INBOX {1001}\r\n",
		// Line segments each under MaxLine, but the command over MaxCommand.
		"a APPEND INBOX {1000}\r\n" + strings.Repeat("m", 1000) + strings.Repeat(" (\\Seen) {10+}\r\n0123456789", 20) + "\r\n",
	}
	for _, in := range bad {
		if _, err, _ := readOne(t, in, opts); err == nil {
			t.Errorf("%.40q: no error", in)
		}
	}
}

// TestNonSyncLiteralLimit: with LITERAL- (MaxNonSyncLiteral 4096) a
// non-synchronising literal over 4096 bytes is BAD [TOOBIG], read and
// thrown away so that the next command reads (RFC 7888 section 4); a
// synchronising one of the same size, and one of 4096 "+", are taken.
func TestNonSyncLiteralLimit(t *testing.T) {
	opts := Options{MaxNonSyncLiteral: 4096, MaxLiteral: 64 << 10, MaxStringLiteral: 64 << 10}
	for _, in := range []string{
		"a LOGIN {4096+}\r\n" + strings.Repeat("u", 4096) + " p\r\n",
		"a LOGIN {5000}\r\n" + strings.Repeat("u", 5000) + " p\r\n",
	} {
		if _, err, _ := readOne(t, in, opts); err != nil {
			t.Errorf("%.30q: %v", in, err)
		}
	}
	in := "a LOGIN {4097+}\r\n" + strings.Repeat("u", 4097) + " {3+}\r\npwd\r\nb NOOP\r\n"
	r := NewReader(bufio.NewReader(strings.NewReader(in)), opts)
	_, err := r.ReadCommand()
	var perr *ParseError
	if !errors.As(err, &perr) || perr.Fatal || perr.Code != CodeTooBig || perr.Tag != "a" {
		t.Fatalf("over the limit: %v (%#v), want a non-fatal BAD [TOOBIG]", err, perr)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" || cmd.Name != "NOOP" {
		t.Fatalf("next command: %v %v", cmd, err)
	}
}

func TestMultiAppend(t *testing.T) {
	in := "a APPEND INBOX (\\Seen) {1}\r\nx ~{2}\r\nyz \"01-Jan-2020 00:00:00 +0000\" {0}\r\n\r\n"
	cmd, err, conts := readOne(t, in, Options{MultiAppend: true})
	if err != nil {
		t.Fatal(err)
	}
	a := cmd.Args.(*Append)
	if len(a.Messages) != 3 || string(a.Messages[1].Data) != "yz" || !a.Messages[1].Binary || a.Messages[2].Date.Year() != 2020 || len(conts) != 3 {
		t.Fatalf("got %s (%d continuations)", cmd, len(conts))
	}
	_, err, _ = readOne(t, in, Options{})
	var perr *ParseError
	if !errors.As(err, &perr) || !strings.Contains(perr.Msg, "MULTIAPPEND") {
		t.Fatalf("without MultiAppend: %v", err)
	}
}

func TestUTF8Mailboxes(t *testing.T) {
	r := NewReader(bufio.NewReader(strings.NewReader("a SELECT \"Entwürfe\"\r\nb SELECT &ZeVnLIqe-\r\nc CREATE {2+}\r\na\x01\r\n")), Options{})
	r.SetUTF8(true)
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Args.(*Select).Mailbox != "Entwürfe" {
		t.Fatalf("%v %v", cmd, err)
	}
	cmd, err = r.ReadCommand()
	if err != nil || cmd.Args.(*Select).Mailbox != "&ZeVnLIqe-" {
		t.Fatalf("UTF-8 mode must not decode modified UTF-7: %v %v", cmd, err)
	}
	if _, err = r.ReadCommand(); err == nil {
		t.Fatalf("control character accepted")
	}
}

func TestReadLine(t *testing.T) {
	r := NewReader(bufio.NewReader(strings.NewReader("a AUTHENTICATE PLAIN\r\nAHRlc3QAcGFzcw==\r\n*\r\nDONE\r\n"+strings.Repeat("x", 200)+"\r\n")), Options{MaxLine: 100})
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Args.(*Authenticate).InitialResponse != nil {
		t.Fatalf("%v %v", cmd, err)
	}
	line, err := r.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := DecodeSASL(line); err != nil || string(b) != "\x00test\x00pass" {
		t.Fatalf("DecodeSASL(%q) = %q, %v", line, b, err)
	}
	line, _ = r.ReadLine()
	if _, err := DecodeSASL(line); err != ErrSASLCancelled {
		t.Fatalf("cancel: %v", err)
	}
	if line, _ = r.ReadLine(); line != "DONE" {
		t.Fatalf("got %q", line)
	}
	var perr *ParseError
	if _, err = r.ReadLine(); !errors.As(err, &perr) || !perr.Fatal {
		t.Fatalf("overlong: %v", err)
	}
	if _, err := DecodeSASL("!!"); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

func TestEOF(t *testing.T) {
	for in, want := range map[string]error{
		"":            io.EOF,
		"\r\n":        io.EOF,
		"a NOOP":      io.ErrUnexpectedEOF,
		"a LOGIN {3}": io.ErrUnexpectedEOF,
	} {
		if _, err, _ := readOne(t, in, Options{}); err != want {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
}

// TestAnnouncedLiteralMemory checks that announcing a large literal and not
// sending it costs memory in proportion to what arrives, not to the
// announcement.
func TestAnnouncedLiteralMemory(t *testing.T) {
	in := "a APPEND INBOX {60000000+}\r\n" + strings.Repeat("x", 1000)
	before := heapAllocs()
	_, err, _ := readOne(t, in, Options{})
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v", err)
	}
	if used := heapAllocs() - before; used > 1<<20 {
		t.Fatalf("allocated %d bytes", used)
	}
}

func TestContinueError(t *testing.T) {
	boom := errors.New("write failed")
	r := NewReader(bufio.NewReader(strings.NewReader("a LOGIN {3}\r\nfoo bar\r\n")), Options{Continue: func(string) error { return boom }})
	if _, err := r.ReadCommand(); err != boom {
		t.Fatalf("got %v", err)
	}
}

func TestParseErrorText(t *testing.T) {
	e := &ParseError{Tag: "a", Msg: "literal too big", Code: CodeTooBig}
	if e.Error() != "[TOOBIG] literal too big" {
		t.Fatal(e.Error())
	}
}

func TestFetchItemHelpers(t *testing.T) {
	cmd, err, _ := readOne(t, "a FETCH 1 (RFC822 RFC822.TEXT RFC822.HEADER BODY[] BODY.PEEK[] BINARY[1] BINARY.PEEK[1] FLAGS)\r\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []bool
	for _, it := range cmd.Args.(*Fetch).Items {
		seen = append(seen, it.SetsSeen())
	}
	if want := []bool{true, true, false, true, false, true, false, false}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("SetsSeen = %v, want %v", seen, want)
	}
	it := cmd.Args.(*Fetch).Items[4]
	if it.String() != "BODY.PEEK[]" || it.ResponseName() != "BODY[]" {
		t.Fatalf("%s %s", it.String(), it.ResponseName())
	}
	s := &Search{Keys: []SearchKey{{Op: SearchNot, Keys: []SearchKey{{Op: SearchUID, Set: NumSet{Dollar: true}}}}}}
	if !s.UsesDollar() || (&Search{Keys: []SearchKey{{Op: SearchAll}}}).UsesDollar() {
		t.Fatal("UsesDollar")
	}
}

// No number the parser reads wraps: for every place a number appears,
// values from 2^63 up past 2^64 are refused, never read as a small number
// (issue 11 part 4).
func TestNumbersDoNotWrap(t *testing.T) {
	templates := []string{
		"a FETCH %s FLAGS", "a FETCH 1:%s FLAGS", "a UID FETCH 1 FLAGS (CHANGEDSINCE %s)",
		"a FETCH 1 BODY[]<%s.10>", "a FETCH 1 BODY[]<0.%s>", "a FETCH 1 BODY[%s]", "a FETCH 1 BINARY[1.%s]",
		"a STORE 1 (UNCHANGEDSINCE %s) FLAGS (x)", "a SEARCH LARGER %s", "a SEARCH SMALLER %s",
		"a SEARCH MODSEQ %s", "a SEARCH UID %s", "a SELECT INBOX (QRESYNC (%s 1))", "a SELECT INBOX (QRESYNC (1 %s))",
		"a SELECT INBOX (QRESYNC (1 1 1:%s))", "a UID EXPUNGE %s", "a COPY %s INBOX", "a LOGIN {%s}", "a APPEND INBOX {%s+}",
	}
	rng := rand.New(rand.NewPCG(64, 64))
	for _, tpl := range templates {
		for range 50 {
			// 2^63 <= v < 2^64 * 10^k: over every bound the parser uses.
			v := new(big.Int).Lsh(big.NewInt(1), 63)
			v.Add(v, new(big.Int).Rand(rng2big(rng), new(big.Int).Lsh(big.NewInt(1), 63)))
			if rng.IntN(2) == 0 {
				v.Lsh(v, uint(1+rng.IntN(8)))
				v.Add(v, big.NewInt(rng.Int64N(1000)))
			}
			in := fmt.Sprintf(tpl, v.String()) + "\r\n"
			cmd, err, _ := readOne(t, in, Options{})
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("%q: got %+v, %v; want a ParseError", in, cmd, err)
			}
		}
	}
}

// rng2big adapts a math/rand/v2 source for math/big.
func rng2big(r *rand.Rand) *randv1.Rand { return randv1.New(randv1.NewSource(r.Int64())) }

func TestParseBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	maxes := []uint64{0, 9, 10, 1<<32 - 1, 1 << 62, 1<<63 - 1, 1<<64 - 1}
	for range 20000 {
		digits := make([]byte, 1+rng.IntN(25))
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		max := maxes[rng.IntN(len(maxes))]
		want, ok := new(big.Int).SetString(string(digits), 10)
		if !ok {
			t.Fatal("bad test input")
		}
		fits := want.Cmp(new(big.Int).SetUint64(max)) <= 0
		got, gotOK := parseBounded(digits, max)
		if gotOK != fits || (fits && got != want.Uint64()) {
			t.Fatalf("parseBounded(%s, %d) = %d, %v; want %s, %v", digits, max, got, gotOK, want, fits)
		}
	}
}

// A command refused by Options.Commands is answered before any of its
// literals is read: no "+" for a synchronising literal, a
// non-synchronising one skipped, and the next command reads in step
// (issue 11 part 4).
func TestPermitBeforeLiteral(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"sync literal", "a1 APPEND INBOX {52428800}\r\n"},
		{"nonsync literal", "a1 APPEND INBOX {5+}\r\nhello\r\n"},
		{"uid form", "a1 UID FETCH 1 FLAGS\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conts int
			var asked []string
			r := NewReader(bufio.NewReader(strings.NewReader(tc.in+"b2 NOOP\r\n")), Options{
				Continue: func(string) error { conts++; return nil },
				Commands: func(name string, uid bool) (ParseFunc, error) {
					asked = append(asked, name)
					if name == "NOOP" {
						return StandardCommands(name, uid)
					}
					return nil, errors.New("sign in first")
				},
			})
			_, err := r.ReadCommand()
			var perr *ParseError
			if !errors.As(err, &perr) || perr.Fatal || perr.Msg != "sign in first" || perr.Tag != "a1" {
				t.Fatalf("got %v (%#v), want a non-fatal BAD with the refusal's text", err, perr)
			}
			if conts != 0 {
				t.Errorf("%d continuation requests sent for a refused command", conts)
			}
			cmd, err := r.ReadCommand()
			if err != nil || cmd.Name != "NOOP" {
				t.Fatalf("next command: %v, %v", cmd, err)
			}
			if asked[0] == "UID" || len(asked) != 2 {
				t.Errorf("Commands asked for %q", asked)
			}
		})
	}
}

// testBudget is a Budget of limit bytes.
type testBudget struct{ limit, used int64 }

func (b *testBudget) Reserve(n int64) bool {
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}
func (b *testBudget) Release(n int64) { b.used -= n }

// Literals take their size from the Budget before "+" is sent; over it a
// command is refused with NO [UNAVAILABLE] and no "+", and what a refused
// or broken command took is given back.
func TestLiteralBudget(t *testing.T) {
	b := &testBudget{limit: 100}
	var conts int
	opts := Options{Budget: b, Continue: func(string) error { conts++; return nil }}
	read := func(in string) (*Command, error) {
		t.Helper()
		return NewReader(bufio.NewReader(strings.NewReader(in)), opts).ReadCommand()
	}
	cmd, err := read("a APPEND INBOX {60}\r\n" + strings.Repeat("x", 60) + "\r\n")
	if err != nil || cmd.Reserved != 60 || b.used != 60 || conts != 1 {
		t.Fatalf("within budget: %v reserved %d used %d conts %d", err, cmd.Reserved, b.used, conts)
	}
	_, err = read("b APPEND INBOX {41}\r\n")
	var perr *ParseError
	if !errors.As(err, &perr) || !perr.No || perr.Code != CodeUnavailable || perr.Fatal || conts != 1 {
		t.Fatalf("over budget: %v (%#v), %d continuations; want NO [UNAVAILABLE] without +", err, perr, conts)
	}
	if b.used != 60 {
		t.Fatalf("after a refused literal %d bytes are in use, want 60", b.used)
	}
	b.Release(cmd.Reserved)
	// Two literals, the second refused: the first is given back.
	_, err = read("c LOGIN {30+}\r\n" + strings.Repeat("u", 30) + " {80}\r\n")
	if !errors.As(err, &perr) || !perr.No {
		t.Fatalf("second literal over budget: %v", err)
	}
	// A syntax error after a literal gives it back too.
	_, err = read("d LOGIN {3}\r\nabc\r\n")
	if !errors.As(err, &perr) || perr.No {
		t.Fatalf("syntax error: %v", err)
	}
	if b.used != 0 {
		t.Errorf("%d bytes still reserved after refused commands", b.used)
	}
}
