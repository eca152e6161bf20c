package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The realistic mix (issue 11 part 9): each session leases one account,
// so that the model of its INBOX is exact, and runs LOGIN, LIST or
// STATUS, SELECT, FETCH of flags, envelopes, header fields, BODYSTRUCTURE
// and partial bodies, STORE of system flags and of keywords $Label1..5,
// APPEND of a real message, STORE \Deleted + UID EXPUNGE of it, LOGOUT.
// Every answer is checked against the model; a difference or a NO/BAD is
// a protocol error.

// mailModel is what the load tool knows an INBOX holds.
type mailModel struct {
	uidValidity uint32
	msgs        map[imap.UID]*modelMsg
}

type modelMsg struct {
	flags []imap.Flag // sorted, without \Recent
	size  int64
	msgID string // Message-ID header value, as the envelope gives it
}

// accountPool leases each account to one session at a time.
type accountPool struct {
	free   chan int
	users  []string
	models []*mailModel
}

// normFlags sorts flags and drops \Recent, which is the session's.
func normFlags(fs []imap.Flag) []imap.Flag {
	out := make([]imap.Flag, 0, len(fs))
	for _, f := range fs {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, imap.Flag(strings.ToLower(string(f))))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func addFlags(fs []imap.Flag, add ...imap.Flag) []imap.Flag {
	return normFlags(append(slices.Clone(fs), add...))
}

func removeFlags(fs []imap.Flag, rm ...imap.Flag) []imap.Flag {
	rmn := normFlags(rm)
	return slices.DeleteFunc(slices.Clone(fs), func(f imap.Flag) bool { return slices.Contains(rmn, f) })
}

// loadModel reads an account's INBOX once, before the run.
func loadModel(addr, user, password string, prefill int, msgs [][]byte) (*mailModel, error) {
	c, err := dialIMAP(addr, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return nil, err
	}
	// An external server (Dovecot) is filled over IMAP.
	for n := int(sel.NumMessages); n < prefill; n++ {
		m := withMessageID(msgs[n%len(msgs)], fmt.Sprintf("prefill-%d-%s", n, messageID()))
		ap := c.Append("INBOX", int64(len(m)), nil)
		ap.Write(m)
		ap.Close()
		if _, err := ap.Wait(); err != nil {
			return nil, fmt.Errorf("prefill %s: %w", user, err)
		}
	}
	if sel, err = c.Select("INBOX", nil).Wait(); err != nil {
		return nil, err
	}
	model := &mailModel{uidValidity: sel.UIDValidity, msgs: map[imap.UID]*modelMsg{}}
	if sel.NumMessages > 0 {
		all := imap.SeqSet{}
		all.AddRange(1, 0)
		got, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, Envelope: true}).Collect()
		if err != nil {
			return nil, err
		}
		for _, m := range got {
			model.msgs[m.UID] = &modelMsg{flags: normFlags(m.Flags), size: m.RFC822Size, msgID: m.Envelope.MessageID}
		}
	}
	return model, c.Logout().Wait()
}

// mixMessages returns the messages the mix appends: those of an mbox file
// when given, else a built-in set of real-world shapes (plain, HTML
// alternative, attachment, encoded words).
func mixMessages(mbox string) ([][]byte, error) {
	if mbox == "" {
		var out [][]byte
		for i := range 8 {
			out = append(out, []byte(sampleMessage(i)))
		}
		return out, nil
	}
	f, err := os.Open(mbox)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "From ") {
			if cur.Len() > 0 {
				out = append(out, bytes.Clone(cur.Bytes()))
			}
			cur.Reset()
			continue
		}
		if strings.HasPrefix(l, ">From ") {
			l = l[1:]
		}
		cur.WriteString(l)
		cur.WriteString("\r\n")
	}
	if cur.Len() > 0 {
		out = append(out, cur.Bytes())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no messages", mbox)
	}
	return out, sc.Err()
}

func sampleMessage(i int) string {
	head := fmt.Sprintf("From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen%d@example.de>\r\nTo: bench@bench.test\r\n"+
		"Date: Wed, 25 Nov 2026 12:%02d:00 +0100\r\nMessage-ID: <sample-%d@bench.local>\r\nMIME-Version: 1.0\r\n", i, i, i)
	text := strings.Repeat(fmt.Sprintf("Quarterly figures, part %d: revenue is up, costs are down. ", i), 20+i*10)
	switch i % 4 {
	case 0:
		return head + "Subject: Plain note " + fmt.Sprint(i) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
	case 1:
		return head + "Subject: =?ISO-8859-1?Q?R=E9union?= " + fmt.Sprint(i) + "\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n" +
			"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n" +
			"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + text + "</p></body></html>\r\n--alt--\r\n"
	case 2:
		att := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 60)
		return head + "Subject: Report with attachment\r\nContent-Type: multipart/mixed; boundary=mix\r\n\r\n" +
			"--mix\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
			"--mix\r\nContent-Type: application/pdf; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + att + "\r\n--mix--\r\n"
	default:
		return head + "Subject: Fwd: meeting\r\nContent-Type: multipart/mixed; boundary=fwd\r\n\r\n" +
			"--fwd\r\nContent-Type: text/plain\r\n\r\nForwarded below.\r\n" +
			"--fwd\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@example.org\r\nSubject: meeting\r\n\r\n" + text + "\r\n--fwd--\r\n"
	}
}

// mixStats counts what the mix did.
type mixStats struct {
	mu                 sync.Mutex
	sessions, commands int64
	protocolErrs       int64
	firstErr           error
}

func (s *mixStats) protocolError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.protocolErrs++
	if s.firstErr == nil {
		s.firstErr = err
	}
}

// mixSession runs one session of the mix on a leased account and checks
// every answer against the model. It returns the commands completed and
// the first protocol error.
func mixSession(addr, password string, pool *accountPool, r *rand.Rand, msgs [][]byte, tickets tls.ClientSessionCache, lat *latencies) (int, error) {
	acct := <-pool.free
	defer func() { pool.free <- acct }()
	model := pool.models[acct]
	c, err := connectIMAP(addr, tickets, lat)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var t time.Time
	n := 0
	step := func(name string, err error) error {
		if err == nil {
			lat.add(name, time.Since(t))
			n++
		}
		t = time.Now()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	check := func(name string, ok bool, format string, args ...any) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	t = time.Now()
	if err := step("login", c.Login(pool.users[acct], password).Wait()); err != nil {
		return n, err
	}
	unseen := 0
	for _, m := range model.msgs {
		if !slices.Contains(m.flags, imap.Flag(`\seen`)) {
			unseen++
		}
	}
	if r.IntN(2) == 0 {
		list, err := c.List("", "*", nil).Collect()
		if err := step("list", err); err != nil {
			return n, err
		}
		if err := check("list", slices.ContainsFunc(list, func(l *imap.ListData) bool { return l.Mailbox == "INBOX" }), "no INBOX in %d mailboxes", len(list)); err != nil {
			return n, err
		}
	} else {
		st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true}).Wait()
		if err := step("status", err); err != nil {
			return n, err
		}
		if err := check("status", st.NumMessages != nil && int(*st.NumMessages) == len(model.msgs) && st.NumUnseen != nil && int(*st.NumUnseen) == unseen,
			"MESSAGES %v UNSEEN %v, model %d %d", ptrVal(st.NumMessages), ptrVal(st.NumUnseen), len(model.msgs), unseen); err != nil {
			return n, err
		}
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err := step("select", err); err != nil {
		return n, err
	}
	if err := check("select", int(sel.NumMessages) == len(model.msgs) && sel.UIDValidity == model.uidValidity,
		"EXISTS %d UIDVALIDITY %d, model %d %d", sel.NumMessages, sel.UIDValidity, len(model.msgs), model.uidValidity); err != nil {
		return n, err
	}
	uids := make([]imap.UID, 0, len(model.msgs))
	for u := range model.msgs {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	if len(uids) > 0 {
		all := imap.SeqSet{}
		all.AddRange(1, 0)
		got, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err := step("fetch-flags", err); err != nil {
			return n, err
		}
		if err := check("fetch-flags", len(got) == len(uids), "%d messages, model %d", len(got), len(uids)); err != nil {
			return n, err
		}
		for _, m := range got {
			mm := model.msgs[m.UID]
			if err := check("fetch-flags", mm != nil && slices.Equal(normFlags(m.Flags), mm.flags), "UID %d flags %v, model %v", m.UID, m.Flags, mm); err != nil {
				return n, err
			}
		}
		// The newest 20 envelopes, as a client listing the mailbox.
		newest := uids[max(0, len(uids)-20):]
		got, err = c.Fetch(imap.UIDSetNum(newest...), &imap.FetchOptions{UID: true, Flags: true, Envelope: true, RFC822Size: true}).Collect()
		if err := step("fetch-envelope", err); err != nil {
			return n, err
		}
		for _, m := range got {
			mm := model.msgs[m.UID]
			if err := check("fetch-envelope", mm != nil && m.Envelope != nil && m.Envelope.MessageID == mm.msgID && m.RFC822Size == mm.size,
				"UID %d envelope/size differ from the model", m.UID); err != nil {
				return n, err
			}
		}
		pick := func(k int) []imap.UID {
			var out []imap.UID
			for range k {
				out = append(out, uids[r.IntN(len(uids))])
			}
			slices.Sort(out)
			return slices.Compact(out)
		}
		hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"From", "To", "Subject", "Date", "Message-ID"}, Peek: true}
		sel := pick(10)
		got, err = c.Fetch(imap.UIDSetNum(sel...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
		if err := step("fetch-headers", err); err != nil {
			return n, err
		}
		for _, m := range got {
			mm := model.msgs[m.UID]
			ok := mm != nil && len(m.BodySection) == 1 && (mm.msgID == "" || bytes.Contains(m.BodySection[0].Bytes, []byte(mm.msgID)))
			if err := check("fetch-headers", ok, "UID %d header fields lack the Message-ID", m.UID); err != nil {
				return n, err
			}
		}
		sel = pick(5)
		got, err = c.Fetch(imap.UIDSetNum(sel...), &imap.FetchOptions{UID: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}).Collect()
		if err := step("fetch-bodystructure", err); err != nil {
			return n, err
		}
		for _, m := range got {
			if err := check("fetch-bodystructure", m.BodyStructure != nil, "UID %d without BODYSTRUCTURE", m.UID); err != nil {
				return n, err
			}
		}
		part := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: 2048}}
		sel = pick(3)
		got, err = c.Fetch(imap.UIDSetNum(sel...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{part}}).Collect()
		if err := step("fetch-partial", err); err != nil {
			return n, err
		}
		for _, m := range got {
			mm := model.msgs[m.UID]
			ok := mm != nil && len(m.BodySection) == 1 && int64(len(m.BodySection[0].Bytes)) == min(2048, mm.size)
			if err := check("fetch-partial", ok, "UID %d partial body of the wrong length", m.UID); err != nil {
				return n, err
			}
		}
		// STORE of a system flag and of keywords, answered with the new
		// flags (not silent): checked against the model.
		u := uids[r.IntN(len(uids))]
		sys := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered}[r.IntN(3)]
		op := imap.StoreFlagsAdd
		if r.IntN(3) == 0 {
			op = imap.StoreFlagsDel
		}
		if err := storeChecked(c, model, u, op, []imap.Flag{sys}, step, check); err != nil {
			return n, err
		}
		kw := imap.Flag(fmt.Sprintf("$Label%d", 1+r.IntN(5)))
		op = imap.StoreFlagsAdd
		if r.IntN(2) == 0 {
			op = imap.StoreFlagsDel
		}
		if err := storeChecked(c, model, uids[r.IntN(len(uids))], op, []imap.Flag{kw}, step, check); err != nil {
			return n, err
		}
	}
	// A new message each time, as a client saving a draft or a sent
	// copy: the same bytes again would be a duplicate, which xtramail
	// answers with the stored copy's UID.
	msg := withMessageID(msgs[r.IntN(len(msgs))], fmt.Sprintf("mix-%d-%s", r.Uint64(), messageID()))
	ap := c.Append("INBOX", int64(len(msg)), nil)
	ap.Write(msg)
	ap.Close()
	data, err := ap.Wait()
	if err := step("append", err); err != nil {
		return n, err
	}
	if err := check("append", data.UID != 0 && model.msgs[data.UID] == nil, "APPENDUID %d", data.UID); err != nil {
		return n, err
	}
	// Whatever a client did with it, the message is deleted again so the
	// mailbox keeps its size.
	set := imap.UIDSetNum(data.UID)
	if err := step("store-deleted", c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()); err != nil {
		return n, err
	}
	exp, err := c.UIDExpunge(set).Collect()
	if err := step("uid-expunge", err); err != nil {
		return n, err
	}
	if err := check("uid-expunge", len(exp) == 1, "%d expunged, want 1", len(exp)); err != nil {
		return n, err
	}
	if err := step("logout", c.Logout().Wait()); err != nil {
		return n, err
	}
	return n, nil
}

// storeChecked runs a non-silent UID STORE and checks the flags it
// answers against the model, which it updates.
func storeChecked(c *imapclient.Client, model *mailModel, u imap.UID, op imap.StoreFlagsOp, flags []imap.Flag,
	step func(string, error) error, check func(string, bool, string, ...any) error) error {
	mm := model.msgs[u]
	got, err := c.Store(imap.UIDSetNum(u), &imap.StoreFlags{Op: op, Flags: flags}, nil).Collect()
	if err := step("store", err); err != nil {
		return err
	}
	if op == imap.StoreFlagsAdd {
		mm.flags = addFlags(mm.flags, flags...)
	} else {
		mm.flags = removeFlags(mm.flags, flags...)
	}
	for _, m := range got {
		if m.UID == u || m.UID == 0 {
			return check("store", slices.Equal(normFlags(m.Flags), mm.flags), "UID %d flags %v, model %v", u, m.Flags, mm.flags)
		}
	}
	// No FETCH answer: the flags did not change, which the model must
	// agree with on the next FETCH FLAGS.
	return nil
}

func ptrVal(p *uint32) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// runMix runs the realistic mix with clients sessions at a time on the
// accounts of users until the deadline, and prints what it measured.
// pid, when not 0, is the server's process: its CPU time (with its
// children's, Dovecot's imap and imap-login processes) over the timed run
// is reported per 1,000 commands.
func runMix(addr, password string, users []string, clients, prefill int, msgs [][]byte, duration time.Duration, resume bool, pid int) error {
	pool := &accountPool{free: make(chan int, len(users)), users: users, models: make([]*mailModel, len(users))}
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	sem := make(chan struct{}, 8)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := loadModel(addr, users[i], password, prefill, msgs)
			if err != nil {
				errs <- err
				return
			}
			pool.models[i] = m
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for i := range users {
		pool.free <- i
	}
	var st mixStats
	var lat latencies
	var cpu0 float64
	if pid != 0 {
		var err error
		if cpu0, err = treeCPU(pid); err != nil {
			return fmt.Errorf("server CPU: %w", err)
		}
	}
	deadline := time.Now().Add(duration)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			var tickets tls.ClientSessionCache
			if resume {
				tickets = tls.NewLRUClientSessionCache(4)
			}
			for time.Now().Before(deadline) {
				n, err := mixSession(addr, password, pool, r, msgs, tickets, &lat)
				st.mu.Lock()
				st.commands += int64(n)
				if err == nil {
					st.sessions++
				}
				st.mu.Unlock()
				if err != nil {
					st.protocolError(err)
					// The model may now be wrong: read the account again.
					acct := <-pool.free
					if m, lerr := loadModel(addr, pool.users[acct], password, 0, msgs); lerr == nil {
						pool.models[acct] = m
					}
					pool.free <- acct
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("imap mix: %d clients on %d accounts for %.1fs over TLS\n", clients, len(users), el)
	fmt.Printf("  %.1f logins/s (whole sessions), %.0f commands/s, %d protocol errors\n",
		float64(st.sessions)/el, float64(st.commands)/el, st.protocolErrs)
	if pid != 0 {
		cpu1, err := treeCPU(pid)
		if err != nil {
			return fmt.Errorf("server CPU: %w", err)
		}
		used := cpu1 - cpu0
		fmt.Printf("  server CPU (pid %d and children): %.2f s, %.1f ms per 1,000 commands, %.2f ms per session\n",
			pid, used, 1e6*used/max(float64(st.commands), 1), 1e3*used/max(float64(st.sessions), 1))
	}
	if st.firstErr != nil {
		fmt.Printf("  first error: %v\n", st.firstErr)
	}
	lat.print()
	return nil
}

// withMessageID returns raw with its Message-ID header (folded lines
// included) replaced by <id>, or with one added when it has none.
func withMessageID(raw []byte, id string) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(raw)
	} else {
		end += 2
	}
	head, body := raw[:end], raw[end:]
	var out bytes.Buffer
	out.Grow(len(raw) + len(id) + 16)
	fmt.Fprintf(&out, "Message-ID: <%s>\r\n", id)
	skipping := false
	for len(head) > 0 {
		i := bytes.Index(head, []byte("\r\n"))
		line := head
		if i >= 0 {
			line = head[:i+2]
		}
		head = head[len(line):]
		folded := len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		if !folded {
			skipping = len(line) >= 11 && strings.EqualFold(string(line[:11]), "Message-ID:")
		}
		if !skipping {
			out.Write(line)
		}
	}
	out.Write(body)
	return out.Bytes()
}
