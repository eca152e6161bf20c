package imapwire

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestClientCommands drives a real client (go-imap's imapclient) against a
// minimal server made of this package's Reader and Writer on a loopback
// socket, and checks what the Reader made of each command. The client's
// choices of quoting, literals and LITERAL+ are the "real traffic" here.
func TestClientCommands(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *Command, 100)
	go serveTest(t, ln, got)

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // no hang on a bug
	c := imapclient.New(conn, nil)
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	// expect waits for the command the server read and compares its
	// re-encoding without the tag.
	next := func() *Command {
		t.Helper()
		select {
		case cmd := <-got:
			return cmd
		case <-time.After(time.Minute):
			t.Fatalf("server read nothing")
		}
		return nil
	}
	expect := func(want string) {
		t.Helper()
		if _, rest, _ := strings.Cut(next().String(), " "); rest != want {
			t.Errorf("server read\n%q\nwant\n%q", rest, want)
		}
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	check(c.Login("joe", "pass word\"").Wait())
	expect(`LOGIN joe "pass word\""`)
	_, err = c.Select("Entwürfe", &imap.SelectOptions{CondStore: true}).Wait()
	check(err)
	expect("SELECT Entw&APw-rfe (CONDSTORE)")
	_, err = c.Fetch(imap.SeqSetNum(1, 2, 3, 7), &imap.FetchOptions{
		Flags: true, UID: true, RFC822Size: true, ModSeq: true, ChangedSince: 42, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{
			{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"From", "Subject"}, Peek: true},
			{Part: []int{1, 2}, Specifier: imap.PartSpecifierText, Partial: &imap.SectionPartial{Offset: 10, Size: 100}},
		},
		BinarySection:     []*imap.FetchItemBinarySection{{Part: []int{2}, Peek: true}},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{2}}},
	}).Collect()
	check(err)
	// The client orders simple items at random: compare them as a set.
	fetch := next().Args.(*Fetch)
	var items []string
	for _, it := range fetch.Items {
		items = append(items, it.String())
	}
	slices.Sort(items)
	if got, want := strings.Join(items, " "), "BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[HEADER.FIELDS (From Subject)] BODYSTRUCTURE BODY[1.2.TEXT]<10.100> ENVELOPE FLAGS MODSEQ RFC822.SIZE UID"; got != want || fetch.Set.String() != "1:3,7" || fetch.ChangedSince != 42 {
		t.Errorf("FETCH read as %s %s", fetch.Set, got)
	}
	_, err = c.UIDSearch(&imap.SearchCriteria{
		UID:    []imap.UIDSet{imap.UIDSetNum(5, 6, 7)},
		Since:  time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "hello world"}},
		Flag:   []imap.Flag{imap.FlagFlagged}, NotFlag: []imap.Flag{imap.FlagSeen},
		Larger: 1000,
		Or:     [][2]imap.SearchCriteria{{{Body: []string{"a"}}, {Text: []string{"b"}}}},
		ModSeq: &imap.SearchCriteriaModSeq{ModSeq: 9},
	}, &imap.SearchOptions{ReturnMin: true, ReturnCount: true}).Wait()
	check(err)
	expect(`UID SEARCH RETURN (MIN COUNT) UID 5:7 SINCE 1-Mar-2024 SUBJECT "hello world" FLAGGED UNSEEN LARGER 1000 MODSEQ 9 OR (BODY a) (TEXT b)`)
	_, err = c.Store(imap.SeqSetNum(4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted, "$Junk"}}, &imap.StoreOptions{UnchangedSince: 12}).Collect()
	check(err)
	expect(`STORE 4 (UNCHANGEDSINCE 12) +FLAGS.SILENT (\Deleted $Junk)`)
	_, err = c.Move(imap.UIDSetNum(8), "Trash").Wait()
	check(err)
	expect("UID MOVE 8 Trash")
	_, err = c.Copy(imap.SeqSetNum(1), "Archive/2024").Wait()
	check(err)
	expect("COPY 1 Archive/2024")
	_, err = c.UIDExpunge(imap.UIDSetNum(8, 9)).Collect()
	check(err)
	expect("UID EXPUNGE 8:9")
	check(c.Unselect().Wait())
	expect("UNSELECT")
	_, err = c.List("", "*", &imap.ListOptions{SelectSubscribed: true, ReturnChildren: true, ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true}}).Collect()
	check(err)
	list := next().Args.(*List)
	slices.Sort(list.Return.Status)
	if _, s, _ := strings.Cut((&Command{Tag: "x", Name: "LIST", Args: list}).String(), " "); s != `LIST (SUBSCRIBED) "" (*) RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))` {
		t.Errorf("LIST read as %s", s)
	}
	_, err = c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDValidity: true, NumUnseen: true, HighestModSeq: true}).Wait()
	check(err)
	status := next().Args.(*Status)
	slices.Sort(status.Items)
	if !slices.Equal(status.Items, []StatusItem{StatusHighestModSeq, StatusMessages, StatusUIDValidity, StatusUnseen}) || status.Mailbox != "INBOX" {
		t.Errorf("STATUS read as %v", status)
	}
	check(c.Create("Sent Items", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrSent}}).Wait())
	expect(`CREATE "Sent Items" (USE (\Sent))`)
	// After ENABLE UTF8=ACCEPT the client sends names in UTF-8.
	_, err = c.Enable(imap.CapUTF8Accept).Wait()
	check(err)
	expect("ENABLE UTF8=ACCEPT")
	check(c.Create("Grüße", nil).Wait())
	expect("CREATE Gr&APwA3w-e")
	check(c.Rename("a", "b", nil).Wait())
	expect("RENAME a b")
	check(c.Subscribe("b").Wait())
	expect("SUBSCRIBE b")
	check(c.Delete("b").Wait())
	expect("DELETE b")

	msg := "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
	ac := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	_, err = io.WriteString(ac, msg)
	check(err)
	check(ac.Close())
	_, err = ac.Wait()
	check(err)
	expect(`APPEND INBOX (\Seen) " 2-Jan-2024 03:04:05 +0000" {42+}` + "\r\n" + msg)

	_, err = c.ID(&imap.IDData{Name: "test", Version: "1.0"}).Wait()
	check(err)
	expect(`ID ("name" "test" "version" "1.0")`)
	_, err = c.Namespace().Wait()
	check(err)
	expect("NAMESPACE")

	idle, err := c.Idle()
	check(err)
	check(idle.Close())
	check(idle.Wait())
	expect("IDLE") // reported once DONE was read
	check(c.Noop().Wait())
	expect("NOOP")
	check(c.Logout().Wait())
	expect("LOGOUT")
}

var testCaps = []string{"IMAP4rev1", "LITERAL+", "ENABLE", "CONDSTORE", "ESEARCH", "MOVE", "UIDPLUS", "UNSELECT",
	"ID", "IDLE", "NAMESPACE", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "BINARY", "UTF8=ACCEPT"}

// serveTest answers every command with OK after reporting what it read.
func serveTest(t *testing.T, ln net.Listener, got chan<- *Command) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	w := NewWriter(bufio.NewWriter(conn))
	r := NewReader(bufio.NewReader(conn), Options{Continue: func(text string) error {
		return w.Continuation(text).Flush()
	}})
	w.Untagged(OK, CapabilityCode(testCaps), "ready").Flush()
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			t.Errorf("server: %v", err)
			return
		}
		switch cmd.Name {
		case "CAPABILITY": // the client's own business, not reported
			w.Capability(testCaps)
			w.Tagged(cmd.Tag, OK, Code{}, "done").Flush()
			continue
		case "IDLE":
			w.Continuation("idling").Flush()
			if line, err := r.ReadLine(); err != nil || line != "DONE" {
				t.Errorf("IDLE ended with %q, %v", line, err)
			}
		case "ENABLE":
			for _, c := range cmd.Args.(*Enable).Capabilities {
				if c == "UTF8=ACCEPT" {
					r.SetUTF8(true)
					w.SetUTF8(true)
				}
			}
			w.Enabled(cmd.Args.(*Enable).Capabilities)
		case "LOGOUT":
			w.Untagged(BYE, Code{}, "")
		}
		w.Tagged(cmd.Tag, OK, Code{}, cmd.Name+" done")
		got <- cmd
		if w.Flush() != nil || cmd.Name == "LOGOUT" {
			return
		}
	}
}
