package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// Outbound builds the queue entries and "queued" log events of a message
// from a local account to its recipients, for a store.Delivery: the caller
// (Submit) stores them with the Sent copy in one Deliver.
func Outbound(accountID, domainID int64, from string, rcpts []string, info *message.Info, size int64, now time.Time) ([]store.Outbound, []store.LogEvent) {
	var out []store.Outbound
	var events []store.LogEvent
	for _, r := range rcpts {
		out = append(out, store.Outbound{AccountID: accountID, MailFrom: from, Rcpt: r})
		events = append(events, msglog.With(msglog.Message(now, info, from, size, ""), msglog.Queued, r, domainID, ""))
	}
	return out, events
}

// notice is one recipient's line in a delivery status notification.
type notice struct {
	e      store.QueueEntry
	r      result
	action string // "failed", "delayed", "relayed" or "delivered" (RFC 3464 2.3.3)
	// expired: failed because the lifetime ran out after temporary
	// failures only, which the reader is told in those words: the
	// last reply, a 4xx, alone looks like a failure that was not one.
	expired bool
}

// wants reports whether the sender asked for a notice of this kind
// about an entry (Wants).
func wants(e store.QueueEntry, kind string) bool { return Wants(e.DSN, kind) }

// Wants reports whether a sender who asked d of notifications asked for
// a notice of this kind ("SUCCESS", "FAILURE" or "DELAY") about a
// recipient (RFC 3461 4.1): without NOTIFY, failures and delays are
// reported as usual, successes not; NOTIFY=NEVER asks for none.
func Wants(d store.DSN, kind string) bool {
	if d.Notify == "" {
		return kind != "SUCCESS"
	}
	for _, k := range strings.Split(d.Notify, ",") {
		if k == kind {
			return true
		}
	}
	return false
}

// settle records the results of one message's attempt in one durable
// store write: the queue changes, the log events and, when the sender
// must hear of it, the notification in their INBOX.
func (w *Worker) settle(ctx context.Context, m *outMsg, results []result) {
	// What a remote server acknowledged is recorded even when the
	// attempt's context ends (shutdown, the session deadline): else it
	// would be sent again.
	ctx = context.WithoutCancel(ctx)
	now := w.cfg.Now()
	var settles []store.QueueSettle
	var events []store.LogEvent
	var notices []notice
	for i, e := range m.entries {
		r := results[i]
		// Kept in the entry, the log and the notification: bounded,
		// and text (replyText).
		r.reply = replyText(r.reply)
		ev := msglog.With(msglog.Message(now, &message.Info{MessageID: e.MessageID, Subject: e.Subject}, e.MailFrom, e.Size, ""),
			"", e.Rcpt, e.DomainID, detail(r))
		st := store.QueueSettle{ID: e.ID, Outcome: r.outcome}
		switch r.outcome {
		case store.QueueDelivered:
			ev.Status = msglog.Delivered
			w.metrics.attempt("delivered")
			if !r.dsnOn && wants(e, "SUCCESS") {
				// RFC 3461 4.2: the next server does not report
				// delivery, so we say it was relayed, and no more
				// will come.
				notices = append(notices, notice{e: e, r: r, action: "relayed"})
			}
		case store.QueueFailed:
			ev.Status = msglog.Bounced
			if wants(e, "FAILURE") {
				notices = append(notices, notice{e: e, r: r, action: "failed"})
			}
			w.metrics.attempt("bounced")
		default:
			expires := e.Queued.Add(w.cfg.Lifetime)
			if !now.Before(expires) {
				st.Outcome = store.QueueFailed
				ev.Status = msglog.Expired
				ev.Detail = "gave up after " + w.cfg.Lifetime.String() + ": " + ev.Detail
				r.status = "4.4.7"
				if wants(e, "FAILURE") {
					notices = append(notices, notice{e: e, r: r, action: "failed", expired: true})
				}
				w.metrics.attempt("expired")
				break
			}
			ev.Status = msglog.Deferred
			st.Outcome = store.QueueDeferred
			st.Error = detail(r)
			// The last attempt is at the end of the lifetime, not after.
			st.Next = now.Add(w.backoff(e.Attempts))
			if st.Next.After(expires) {
				st.Next = expires
			}
			if !e.DelayNotified && now.Sub(e.Queued) >= w.cfg.DelayNotice && wants(e, "DELAY") {
				st.DelayNotified = true
				notices = append(notices, notice{e: e, r: r, action: "delayed"})
			}
			w.metrics.attempt("deferred")
		}
		settles = append(settles, st)
		events = append(events, ev)
	}
	first := m.entries[0]
	write := func(ctx context.Context) error { return w.settles.settle(ctx, w.st, settles, events) }
	if len(notices) > 0 && first.AccountID != 0 && first.MailFrom != "" {
		raw, err := w.notification(ctx, first, notices, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			w.log.Warn("no account for delivery notification", "rcpt", first.MailFrom, "err", err)
		case err != nil:
			// The leases bring the entries back; the attempt is redone.
			w.log.Error("make delivery notification", "rcpt", first.MailFrom, "err", err)
			return
		}
		settle := write
		write = func(ctx context.Context) error {
			if raw == nil {
				return settle(ctx)
			}
			d := store.NewDelivery(raw, now)
			d.Copies = []store.Copy{{AccountID: first.AccountID, Mailbox: store.Inbox, Event: noticeEvent(d, first, notices)}}
			d.Settle, d.Events = settles, events
			_, err := w.st.Deliver(ctx, d)
			if errors.Is(err, store.ErrNotFound) {
				// The sender's account is gone: settle without
				// telling anyone.
				w.log.Warn("no account for delivery notification", "rcpt", first.MailFrom, "err", err)
				return settle(ctx)
			}
			return err
		}
	}
	if err := write(ctx); err != nil {
		w.log.Error("settle queue entries; again at the next pass", "message_id", first.MessageID, "err", err)
		s := &settlement{write: write}
		for _, st := range settles {
			s.ids = append(s.ids, st.ID)
		}
		w.unsettled.keep(s)
	}
}

// noticeEvent is the message log's record of a notification stored in
// the sender's INBOX, under the notification's own Message-ID and naming
// the message it is about: without it, a sender asking whether they were
// told of a delay found nothing, and the message's timeline showed only
// its deferrals.
func noticeEvent(d *store.Delivery, e store.QueueEntry, notices []notice) store.LogEvent {
	var actions []string
	for _, n := range notices {
		if !slices.Contains(actions, n.action) {
			actions = append(actions, n.action)
		}
	}
	return msglog.With(msglog.Message(d.Received, d.Info, "", d.Size, ""), msglog.Stored, e.MailFrom, e.DomainID,
		store.Inbox+": delivery notice ("+strings.Join(actions, ", ")+") about <"+e.MessageID+">")
}

// detail is what the entry and the log keep of a result: the host, the
// reply and the note, within maxReplyText.
func detail(r result) string {
	s := r.reply
	if r.host != "" {
		s = r.host + ": " + s
	}
	if r.note != "" {
		s += " (" + r.note + ")"
	}
	return store.ClipText(s, maxReplyText)
}

// maxOriginalHeaders bounds the original header returned in a
// notification.
const maxOriginalHeaders = 64 << 10

// originalHeaders reads the header of a queued body, up to the blank line.
func (w *Worker) originalHeaders(ctx context.Context, accountID, bodyID int64) []byte {
	rc, err := w.st.OpenBody(ctx, accountID, bodyID)
	if err != nil {
		w.log.Warn("read original header for notification", "body", bodyID, "err", err)
		return nil
	}
	defer rc.Close()
	br := bufio.NewReader(io.LimitReader(rc, maxOriginalHeaders))
	var out bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimRight(line, "\r\n")) == 0 && err == nil || err != nil {
			// The last line without its end is the body's own last
			// line, or where the bound cut a line, maybe within a
			// character: the header returned ends at the line before.
			if err != nil && out.Len()+len(line) < maxOriginalHeaders {
				out.Write(line)
			}
			break
		}
		out.Write(line)
	}
	return out.Bytes()
}

// maxReturnedMessage bounds the original message a failure notification
// returns whole (RET=FULL); a larger one has its header returned.
const maxReturnedMessage = 2 << 20

// originalMessage appends the queued body of e to b, ending in CRLF.
func (w *Worker) originalMessage(ctx context.Context, b *bytes.Buffer, e store.QueueEntry) error {
	rc, err := w.st.OpenBody(ctx, e.AccountID, e.BodyID)
	if err != nil {
		return fmt.Errorf("read original message for notification: %w", err)
	}
	defer rc.Close()
	if _, err := io.Copy(b, io.LimitReader(rc, maxReturnedMessage)); err != nil {
		return fmt.Errorf("read original message for notification: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return nil
}

// notification builds a delivery status notification of the worker
// (buildNotification), the original read from the store.
func (w *Worker) notification(ctx context.Context, e store.QueueEntry, notices []notice, now time.Time) ([]byte, error) {
	return buildNotification(w.cfg.Hostname, e.Queued.Add(w.cfg.Lifetime), e, notices, now, func(b *bytes.Buffer, full bool) error {
		if full {
			return w.originalMessage(ctx, b, e)
		}
		b.Write(w.originalHeaders(ctx, e.AccountID, e.BodyID))
		return nil
	})
}

// Delivered builds the delivery status notification (RFC 3464) that a
// final delivery agent sends for recipients whose sender asked for
// success reports (NOTIFY=SUCCESS, RFC 3461 4.1): Action delivered, for
// each of rcpts, delivered at once where host keeps their mail (Submit's
// recipients at a continuity-only domain, whose continuity INBOX is
// their mailbox). e gives the message (MailFrom, MessageID, Subject,
// Queued as its arrival, DSN's ENVID), dsn each recipient's ORCPT, and
// header the header section returned (RFC 3461 4.3: never the whole
// message for a success).
func Delivered(host string, e store.QueueEntry, rcpts []string, dsn map[string]store.DSN, header []byte, now time.Time) ([]byte, error) {
	notices := make([]notice, len(rcpts))
	for i, r := range rcpts {
		ne := e
		ne.Rcpt, ne.DSN.ORcpt = r, dsn[r].ORcpt
		notices[i] = notice{e: ne, r: result{outcome: store.QueueDelivered, status: "2.0.0",
			reply: "delivered to the continuity mailbox"}, action: "delivered"}
	}
	return buildNotification(host, time.Time{}, e, notices, now, func(b *bytes.Buffer, _ bool) error {
		b.Write(header)
		return nil
	})
}

// buildNotification builds a delivery status notification (RFC 3464)
// from host, the Reporting-MTA: a multipart/report (RFC 6522) with a
// human part, the machine-readable delivery-status, and the original
// message's header, or the whole message for a failure the sender asked
// it for, which original appends to b. retryUntil is when delayed
// recipients are given up.
func buildNotification(host string, retryUntil time.Time, e store.QueueEntry, notices []notice, now time.Time,
	original func(b *bytes.Buffer, full bool) error) ([]byte, error) {
	var rb [12]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, fmt.Errorf("notification id: %w", err)
	}
	id := hex.EncodeToString(rb[:])
	boundary := "=_" + id
	// count holds the notices of each action; told, those of each
	// paragraph of the human part: a failure or a delay of a copy for
	// a primary mailbox is told apart from one that did not reach the
	// recipient at all.
	count, told := map[string]int{}, map[string]int{}
	for _, n := range notices {
		count[n.action]++
		told[n.action]++
		if n.e.Continuity && (n.action == "failed" || n.action == "delayed") {
			told["continuity"]++
			if n.action == "failed" {
				told["failed"]--
			}
		}
		if n.expired {
			told["gave up"]++
		}
	}
	// The subject is that of the gravest action, in words for the
	// primary mailbox when every notice of it is about a copy for one.
	var subject string
	switch {
	case told["failed"] > 0:
		subject = "Undelivered Mail Returned to Sender"
	case count["failed"] > 0:
		subject = "Copy for Primary Mailbox Undelivered (delivered to continuity mailbox)"
	case count["delayed"] > told["continuity"]:
		subject = "Delayed Mail (still being retried)"
	case count["delayed"] > 0:
		subject = "Copy for Primary Mailbox Delayed (delivered to continuity mailbox)"
	default:
		subject = "Successful Mail Delivery Report"
	}
	human := "This is the mail system at " + host + ".\r\n"
	// Every line of the notification we write is folded (fold).
	for _, a := range []struct{ key, text string }{
		{"failed", "Your message could not be delivered to the recipients below marked failed."},
		{"continuity", `Your message was delivered to the continuity mailbox of the recipients below marked ` +
			`"continuity mailbox: delivered": they are protected by this service and can read it there now ` +
			"through xtramail. Only the copy for their primary mailbox failed or is delayed, as said after each."},
		{"gave up", `Delivery to the recipients below marked "gave up" failed only temporarily each time (their mail ` +
			"systems answered with temporary errors or could not be reached): this mail system kept retrying for " + lifetimeText(retryUntil.Sub(e.Queued)) + ", since " +
			e.Queued.UTC().Format(time.RFC1123Z) + ", and has given up. After each is the last answer it got."},
		{"delayed", "Your message could not be delivered yet to the recipients below marked delayed. " +
			"It will be retried until " + retryUntil.UTC().Format(time.RFC1123Z) + "; you need not send it again."},
		{"delivered", "Your message was delivered to the recipients below marked delivered."},
		{"relayed", "Your message was relayed to the recipients below marked relayed. The next mail system does not " +
			"report delivery, so you will hear nothing more from it unless it fails there."},
	} {
		if told[a.key] == 0 {
			continue
		}
		human += "\r\n" + fold("", a.text, "") + "\r\n"
	}
	// RFC 3461 4.3: the whole message only for a failure, and only when
	// the sender asked for it (RET=FULL); never more than
	// maxReturnedMessage, so that a notification stays small in memory.
	full := count["failed"] > 0 && e.DSN.Ret == "FULL"
	if full && e.Size > maxReturnedMessage {
		full = false
		human += "\r\n" + fold("", fmt.Sprintf("Your message was larger than %d MiB: only its header is returned below.", maxReturnedMessage>>20), "") + "\r\n"
	}
	ret, err := returned(original, full)
	if err != nil {
		return nil, err
	}
	retScan := scanContent(ret)
	if full && retScan.encoding() == "binary" {
		// message/rfc822 is 7bit, 8bit or binary (RFC 2046 5.2.1), and
		// a binary part makes the whole notice binary: relays without
		// BINARYMIME (RFC 3030) refuse or break it when the user
		// forwards it or copies it to another server, and IMAP gives
		// a NUL only to BINARY (RFC 3516). A body line over maxLine
		// cannot be folded as a header's can, nor a NUL or a lone CR
		// or LF be changed, without changing the message returned:
		// its header stands for it, as for one too large.
		full = false
		why := fmt.Sprintf("Your message has lines longer than %d octets", maxLine)
		if !retScan.long {
			why = "Your message has NUL octets or line breaks other than CRLF"
		}
		human += "\r\n" + fold("", why+", which this report cannot carry: only its header is returned below.", "") + "\r\n"
		if ret, err = returned(original, false); err != nil {
			return nil, err
		}
		retScan = scanContent(ret)
	}
	if e.Subject != "" {
		subject += ": " + e.Subject
	}

	text := []byte(human + "\r\n")
	for _, n := range notices {
		label, why := n.action, detail(n.r)
		if n.expired {
			label, why = n.action+", gave up", "last answer: "+why
		}
		if n.e.Continuity && (n.action == "failed" || n.action == "delayed") {
			label = "continuity mailbox: delivered; primary mailbox: " + label
		}
		text = fmt.Appendf(text, "%s\r\n", fold(fmt.Sprintf("<%s> (%s):", n.e.Rcpt, label), why, "    "))
	}
	status := deliveryStatus(host, retryUntil, e, notices, now)
	retType := "message/rfc822"
	if !full {
		retType = "text/rfc822-headers"
		if retScan.eight && utf8.Valid(ret) {
			// RFC 2046 4.1.2: text without a charset is US-ASCII;
			// a header of UTF-8 (RFC 6532) says so, for the clients
			// that show this part as text.
			retType += "; charset=utf-8"
		}
	}
	parts := []struct {
		typ     string
		content []byte
		scan    content
	}{
		{"text/plain; charset=utf-8", text, scanContent(text)},
		{"message/delivery-status", status, scanContent(status)},
		{retType, ret, retScan},
	}
	// RFC 2045 6.4: a multipart is 7bit, 8bit or binary as the widest
	// of what it holds.
	var all content
	for _, p := range parts {
		all = all.or(p.scan)
	}

	var b bytes.Buffer
	b.Grow(len(text) + len(status) + len(ret) + 4<<10)
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", host)
	fmt.Fprintf(&b, "To: <%s>\r\n", e.MailFrom)
	// The encoded words (RFC 2047 2: at most 75 octets each) are apart,
	// for fold.
	fmt.Fprintf(&b, "%s\r\n", fold("Subject:", mime.QEncoding.Encode("utf-8", subject), " "))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", id, host)
	// The original's Message-ID is as long as its sender made it: one
	// that does not fit on a line of its own (folded) cannot be named
	// without cutting it, and these fields are left out rather than
	// name another.
	if id := "<" + e.MessageID + ">"; e.MessageID != "" && len(" "+id) <= maxLine {
		fmt.Fprintf(&b, "%s\r\n%s\r\n", fold("In-Reply-To:", id, " "), fold("References:", id, " "))
	}
	// RFC 3834 5: automatic answers say so, so that nobody answers them.
	b.WriteString("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary)
	fmt.Fprintf(&b, "Content-Transfer-Encoding: %s\r\n\r\n", all.encoding())
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: %s\r\n\r\n", boundary, p.typ, p.scan.encoding())
		b.Write(p.content)
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// lifetimeText is how a notification's reader is told the lifetime:
// "5 days" rather than Go's "120h0m0s".
func lifetimeText(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if n := d / u.d; n > 0 && d%u.d == 0 {
			if n == 1 {
				return "1 " + u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}

// returned is what a notification returns of the original, as original
// gives it (the whole message when full, else its header) and as
// writeOriginal bounds its lines.
func returned(original func(b *bytes.Buffer, full bool) error, full bool) ([]byte, error) {
	var orig, ret bytes.Buffer
	if err := original(&orig, full); err != nil {
		return nil, err
	}
	ret.Grow(orig.Len() + orig.Len()/64)
	writeOriginal(&ret, orig.Bytes())
	return ret.Bytes(), nil
}

// deliveryStatus is the content of a notification's message/delivery-
// status part (RFC 3464 2.2): the per-message fields, then a block per
// recipient; US-ASCII (2.1.1) and folded, as the rest.
func deliveryStatus(host string, retryUntil time.Time, e store.QueueEntry, notices []notice, now time.Time) []byte {
	var b bytes.Buffer
	if e.DSN.EnvID != "" {
		// 2.2.1: the sender's ENVID, as given (xtext, RFC 3461 4.4).
		fmt.Fprintf(&b, "Original-Envelope-Id: %s\r\n", oneLine(e.DSN.EnvID))
	}
	fmt.Fprintf(&b, "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n", host, e.Queued.Format(time.RFC1123Z))
	for _, n := range notices {
		b.WriteString("\r\n")
		if typ, addr, ok := strings.Cut(n.e.DSN.ORcpt, ";"); ok {
			// 2.3.1: the sender's ORCPT, its address type and address.
			fmt.Fprintf(&b, "%s\r\n", fold("Original-Recipient:", statusAddress(strings.ToLower(typ), oneLine(addr)), " "))
		}
		fmt.Fprintf(&b, "%s\r\nAction: %s\r\nStatus: %s\r\n", fold("Final-Recipient:", statusAddress("rfc822", n.e.Rcpt), " "), n.action, statusFor(n))
		if n.r.host != "" {
			fmt.Fprintf(&b, "Remote-MTA: dns; %s\r\n", hostName(n.r.host))
		}
		if n.r.reply != "" {
			kind := "smtp"
			if n.r.host == "" {
				kind = "x-xtramail"
			}
			// RFC 3464 2.3.6: text, US-ASCII in message/delivery-status.
			fmt.Fprintf(&b, "%s\r\n", fold("Diagnostic-Code: "+kind+";", ascii7(n.r.reply), " "))
		}
		fmt.Fprintf(&b, "Last-Attempt-Date: %s\r\n", now.Format(time.RFC1123Z))
		if n.action == "delayed" {
			fmt.Fprintf(&b, "Will-Retry-Until: %s\r\n", retryUntil.Format(time.RFC1123Z))
		}
	}
	return b.Bytes()
}

// statusAddress is the value of an address field of message/delivery-
// status (Final-Recipient, Original-Recipient: RFC 3464 2.3.1, 2.3.2),
// "type; address". Those fields are US-ASCII (RFC 3464 2.1.1), so an
// address beyond it (SMTPUTF8, RFC 6531) cannot go in raw: RFC 6533 3 has
// it written with the type utf-8 as utf-8-addr-xtext, each character beyond
// ASCII, and "\", "+", "=", space and controls, as \x{HEX}. That keeps
// the notice message/delivery-status, which every receiver reads, rather
// than message/global-delivery-status (RFC 6533 6), which few do. An
// address given as utf-8 (an ORCPT) is written so even when it is
// ASCII, as the type says how to decode it.
func statusAddress(typ, addr string) string {
	if typ == "utf-8" || !ascii(addr) {
		return "utf-8; " + xtext(addr, true)
	}
	return typ + "; " + addr
}

// statusFor is the RFC 3463 status of a notice: 5.x.x for failures, 4.x.x
// for delays (RFC 3464 2.3.4), 2.0.0 for a success. A result's status has
// its reply's class, and a deferral past the lifetime fails: the class
// is the action's whatever the status.
func statusFor(n notice) string {
	s := n.r.status
	if s == "" {
		s = "4.0.0"
	}
	switch n.action {
	case "relayed", "delivered":
		return "2.0.0"
	case "failed":
		return "5" + s[1:]
	case "delayed":
		return "4" + s[1:]
	}
	return s
}

// hostName drops the [ip] our log adds to a host name.
func hostName(h string) string {
	if i := strings.IndexByte(h, '['); i > 0 {
		return h[:i]
	}
	return h
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// writeOriginal appends to b the original message or its header as
// original gave it, each line of its header within the bounds of a line
// (foldLine), without NUL or CR (headerText) and ending in CRLF; a body,
// after the blank line, as it is (buildNotification returns the header
// instead of one it cannot carry). The header is copied as stored: a
// captured or submitted message may have lines over maxLine, which the
// notification must not carry (relays refuse or cut them).
func writeOriginal(b *bytes.Buffer, orig []byte) {
	for rest := orig; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			b.WriteString("\r\n")
			b.Write(rest)
			return
		}
		b.WriteString(foldLine(headerText(line)))
		b.WriteString("\r\n")
	}
}

// headerText is a line of an original's header with each NUL and each
// CR (the one that ended it is gone) as a space: RFC 5322 2.2 allows
// neither in a field, a captured message may have them, and they would
// make the notification binary (content), which relays without
// BINARYMIME refuse and IMAP gives only to BINARY. Other octets stay as
// they are, not UTF-8 ones too.
func headerText(line []byte) string {
	s := string(line)
	if !strings.ContainsAny(s, "\x00\r") {
		return s
	}
	return strings.NewReplacer("\x00", " ", "\r", " ").Replace(s)
}

// foldLine is a line of an original's header within the bounds of a
// notification's lines: as it is when within foldAt, else folded at its
// white space (fold), a continuation line staying one. A word longer than
// maxLine (a field without white space where it would need some) is cut
// on a continuation line, which unfolds with a space in it: the header is
// changed, but it is a copy for the sender to recognise their message by,
// not one to be used again, and whole it could not be carried at all.
func foldLine(line string) string {
	if len(line) <= foldAt {
		return line
	}
	if line[0] == ' ' || line[0] == '\t' {
		return fold(" ", line, " ")
	}
	return fold("", line, " ")
}

// content is what a part's octets hold that its transfer encoding must
// allow (RFC 2045 2.7-2.9, 6.2): 7bit data is lines of at most maxLine
// octets of US-ASCII without NUL, CR and LF only as CRLF; 8bit data may
// also hold octets over 127; anything else is binary. Without a
// Content-Transfer-Encoding a part is 7bit (6.1), and the returned
// original of an 8-bit message or a UTF-8 header (RFC 6532) said so.
type content struct {
	eight bool // an octet over 127
	nul   bool
	bare  bool // a CR or LF that is not in a CRLF
	long  bool // a line over maxLine octets before its CRLF
}

// scanContent reads p once for what its encoding must allow.
func scanContent(p []byte) content {
	var c content
	line := 0 // octets of the current line so far
	for i := 0; i < len(p); i++ {
		switch ch := p[i]; {
		case ch == '\r' && i+1 < len(p) && p[i+1] == '\n':
			c.long = c.long || line > maxLine
			line = 0
			i++
			continue
		case ch == '\r' || ch == '\n':
			c.bare = true
		case ch == 0:
			c.nul = true
		case ch > 127:
			c.eight = true
		}
		line++
	}
	c.long = c.long || line > maxLine
	return c
}

// or is what a body holding both c and d holds.
func (c content) or(d content) content {
	return content{c.eight || d.eight, c.nul || d.nul, c.bare || d.bare, c.long || d.long}
}

// encoding is the narrowest identity Content-Transfer-Encoding that
// allows c: the one a part must declare (RFC 2045 6.2), and the only
// kinds a multipart or message/rfc822 may have (RFC 2045 6.4, RFC 2046
// 5.2.1).
func (c content) encoding() string {
	switch {
	case c.nul || c.bare || c.long:
		return "binary"
	case c.eight:
		return "8bit"
	}
	return "7bit"
}

// The bounds of a line of a notification (RFC 5322 2.1.1): 78 octets
// where the text allows, and 998 in any case.
const (
	foldAt  = 78
	maxLine = 998
)

// fold returns head and text's words (split at white space, as oneLine)
// on lines of at most foldAt octets, the lines after the first starting
// with indent: a word that does not fit goes on the next line, alone if
// it is longer than foldAt, and a word too long for any line (maxLine) is
// cut, between characters where it is UTF-8. The first word follows head
// after a space, unless head is empty or ends in one. With indent " ",
// it folds a header field (RFC 5322 2.2.3), which unfolds to head and
// the words one space apart; a cut word unfolds with a space in it, the
// only way to keep its line within the bound.
// Remote replies (50 lines of 500 octets, or one of a megabyte) went
// into the notification as one line.
func fold(head, text, indent string) string {
	var b strings.Builder
	b.WriteString(head)
	n := len(head) // octets on the current line
	// Nothing on the line yet that a word must be apart from.
	bare := n == 0 || strings.HasSuffix(head, " ")
	newLine := func() {
		b.WriteString("\r\n")
		b.WriteString(indent)
		n, bare = len(indent), true
	}
	for _, word := range strings.Fields(text) {
		if !bare {
			if n+1+len(word) > foldAt {
				newLine()
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		for n+len(word) > maxLine {
			k := maxLine - n
			// Back to the start of a character, at most UTFMax-1
			// octets: bytes that are not UTF-8 are cut where they
			// reach the bound.
			for j := k; j > 0 && j > k-utf8.UTFMax; j-- {
				if utf8.RuneStart(word[j]) {
					k = j
					break
				}
			}
			if k > 0 {
				b.WriteString(word[:k])
				word = word[k:]
			}
			newLine()
		}
		b.WriteString(word)
		n += len(word)
		bare = false
	}
	return b.String()
}

// replyText is what is kept of a reply or a reason (result.reply): as
// the message log keeps it (store.LogText), within maxReplyText; valid
// UTF-8 on one line, without control characters (ESC, BEL and the rest
// from a remote reached a terminal, the console and the notification's
// text/plain, which says it is UTF-8).
func replyText(s string) string { return store.LogText(s, maxReplyText) }

// ascii7 is s with each character beyond US-ASCII, or a control
// character, as "?": for the fields of message/delivery-status, which
// are US-ASCII (RFC 3464 2.1.1).
func ascii7(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f {
			return '?'
		}
		return r
	}, s)
}
