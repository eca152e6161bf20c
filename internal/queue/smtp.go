package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

// OpenBodyer opens a stored message body.
type OpenBodyer interface {
	OpenBody(ctx context.Context, accountID, bodyID int64) (io.ReadCloser, error)
}

// errRouteRefused: a route or an MX led to an address it may not reach
// (Config.RouteNetworks).
var errRouteRefused = errors.New("address refused")

// conn is an SMTP session with one remote host.
type conn struct {
	c    *smtp.Client
	raw  net.Conn
	host string // name[ip], for the log
	ext8 bool   // 8BITMIME offered
	dsn  bool   // DSN offered (RFC 3461): the sender's requests go on
	note string // an MTA-STS testing-mode report on this session
	stop func() bool
	// wire, when the server announced PIPELINING (RFC 2920), carries
	// the transactions (pipeline.go); rset says the next one must start
	// with RSET (a pooled session, or a transaction left unfinished).
	wire *wire
	rset bool
	sent int // transactions finished on the session
	// mailMax is how many transactions the session carries
	// (Config.SessionMessages, or less when the server's LIMITS says
	// MAILMAX), rcptMax how many recipients each may have (LIMITS
	// RCPTMAX; 0: no limit announced). RFC 9422.
	mailMax, rcptMax int
	// What the server announced that each message asks about, read
	// once from go-smtp's client, which looks it up anew at each call:
	// SIZE (sizeMax its fixed maximum, 0 for none) and SMTPUTF8.
	extSize, extUTF8 bool
	sizeMax          int64
	// head holds the fields written before a message's stored bytes
	// (send), reused from one message to the next.
	head []byte
	// cut ends the session when a message's lease runs low (run); one
	// timer per session, reset for each message.
	cut *time.Timer
	// pooled is the session's entry in the pool, once it was put there.
	pooled *pooled
	// rc is what every reply is read through; its quiet says whether
	// the server sent more than was asked.
	rc *replyConn
	// desync: the server sent what no command asked for after a
	// transaction's last reply (replyConn.quiet). The transaction
	// stands; the session carries no other.
	desync error
}

// reusable says whether the session may carry another transaction.
func (c *conn) reusable() bool { return c.sent < c.mailMax && c.desync == nil }

func (c *conn) close() {
	if c.desync != nil || c.rc.quiet() != nil {
		// QUIT's reply would be one sent for another command.
		c.abort()
		return
	}
	if err := c.c.Quit(); err != nil {
		c.c.Close()
	}
	c.stop()
}

// abort drops the session without a word; safe while another goroutine
// uses it (what it waits for then fails).
func (c *conn) abort() {
	c.raw.Close()
	c.stop()
}

// greetedConn replays a greeting to go-smtp's client, which expects one,
// after we read the real greeting and EHLO ourselves: go-smtp v0.25 cannot
// start TLS on a session it already greeted, and we must see the EHLO
// answer before we know whether to. What it writes, and its deadlines,
// go through the replyConn its replies are read from.
type greetedConn struct {
	*replyConn
	r io.Reader
}

func (g *greetedConn) Read(b []byte) (int, error) { return g.r.Read(b) }

// dialControl is a net.Dialer's Control that refuses an address neither
// public nor in networks (routeAllowed): checked on the address actually
// dialled, whatever the name resolved to (Config.RouteNetworks).
func dialControl(networks []netip.Prefix) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if !routeAllowed(ap.Addr(), networks) {
			return fmt.Errorf("%w: %s is not a public address nor in queue.route_networks", errRouteRefused, ap.Addr())
		}
		return nil
	}
}

// PolicyTransport is the HTTP transport for MTA-STS policy fetches
// (mtasts.NewClient). The policy host, mta-sts.<domain>, is named by
// whoever owns the recipient domain's DNS, like its MX hosts, and is
// confined the same way to public addresses and networks (Config.
// RouteNetworks): else any sender could have the queue open HTTPS
// connections inside the operator's network.
func PolicyTransport(networks []netip.Prefix) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl(networks)}).DialContext
	return tr
}

// addresses returns where a target is dialled: in MX mode, the addresses
// its name has in the worker's resolver, each tried in turn; with a
// relay, its name (or a route's), which the dialler resolves.
func (w *Worker) addresses(ctx context.Context, t target) ([]string, error) {
	if w.cfg.Relay != nil {
		return []string{t.host}, nil
	}
	ips, err := w.cfg.Resolver.LookupHost(ctx, t.host)
	if err != nil {
		return nil, fmt.Errorf("address of %s: %w", t.host, err)
	}
	return ips, nil
}

// connect opens a session with a target at one of its addresses (a): a
// TCP connection, TLS as the target asks, EHLO, and AUTH for a relay.
// note carries an MTA-STS testing-mode report.
func (w *Worker) connect(ctx context.Context, t target, a string) (*conn, string, error) {
	var raw net.Conn
	var err error
	d := net.Dialer{Timeout: w.cfg.DialTimeout}
	if t.confined {
		d.Control = dialControl(w.cfg.RouteNetworks)
	}
	if raw, err = d.DialContext(ctx, "tcp", addr(a, t.port)); err != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", t.host, err)
	}
	name := t.host + "[" + raw.RemoteAddr().(*net.TCPAddr).IP.String() + "]"
	// Ending ctx (shutdown) ends the session at once, whatever it
	// waits for; go-smtp's timeouts bound each command otherwise.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	ok := false
	defer func() {
		if !ok {
			stop()
		}
	}()
	// RFC 5321 4.5.3.2: the greeting, like each reply, is waited for 5
	// minutes, and no longer: a host that accepts and says nothing must
	// not hold the attempt until its lease runs out.
	deadline := time.Now().Add(w.cfg.CommandTimeout)
	raw.SetDeadline(deadline)
	var report string
	tlsCfg := w.tlsConfig(t, &report)
	var nc *greetedConn // what the SMTP client reads and writes
	if t.implicit {
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, "", fmt.Errorf("tls with %s: %w", name, err)
		}
		// The greeting is read here, as prelude reads it in the clear:
		// a greeting that fails or never comes is the greeting's, not
		// the EHLO's go-smtp's client would say next.
		lim := &replyConn{Conn: tc, rd: deadline}
		br, read := replyReader(lim)
		if err := greet(read, lim, name); err != nil {
			raw.Close()
			return nil, "", err
		}
		if err := lim.quiet(); err != nil {
			raw.Close()
			return nil, "", fmt.Errorf("greeting of %s: %w", name, err)
		}
		nc = &greetedConn{replyConn: lim, r: io.MultiReader(strings.NewReader("220 "+t.host+" ESMTP\r\n"), br)}
	} else {
		nc, err = w.prelude(ctx, raw, deadline, t, tlsCfg, name)
		if err != nil {
			raw.Close()
			return nil, "", err
		}
	}
	raw.SetDeadline(time.Time{}) // go-smtp sets its own, per command
	c := smtp.NewClient(nc)
	c.CommandTimeout = w.cfg.CommandTimeout
	if err := c.Hello(w.cfg.Hostname); err != nil {
		c.Close()
		return nil, "", fmt.Errorf("ehlo to %s: %w", name, err)
	}
	if r := w.cfg.Relay; r != nil && r.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.Username, r.Password)); err != nil {
			c.Close()
			return nil, "", fmt.Errorf("auth to %s: %w", name, err)
		}
	}
	if err := nc.quiet(); err != nil {
		c.Close()
		return nil, "", fmt.Errorf("session with %s: %w", name, err)
	}
	ok8, _ := c.Extension("8BITMIME")
	ok = true
	dsn, _ := c.Extension("DSN")
	cn := &conn{c: c, raw: raw, rc: nc.replyConn, host: name, ext8: ok8, dsn: dsn, note: report, stop: stop, mailMax: w.cfg.SessionMessages}
	cn.extUTF8, _ = c.Extension("SMTPUTF8")
	var size string
	if cn.extSize, size = c.Extension("SIZE"); cn.extSize {
		cn.sizeMax = maxSize(size)
	}
	if ok, param := c.Extension("LIMITS"); ok {
		for _, f := range strings.Fields(param) {
			k, v, _ := strings.Cut(f, "=")
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				continue
			}
			switch strings.ToUpper(k) {
			case "MAILMAX":
				cn.mailMax = min(cn.mailMax, n)
			case "RCPTMAX":
				cn.rcptMax = n
			}
		}
	}
	if p, _ := c.Extension("PIPELINING"); p {
		cn.wire = newWire(nc)
	}
	return cn, report, nil
}

// prelude reads the greeting, says EHLO and starts TLS when the target
// wants it and the server offers it (RFC 3207), then returns the
// connection to hand to go-smtp. deadline is raw's.
func (w *Worker) prelude(ctx context.Context, raw net.Conn, deadline time.Time, t target, tlsCfg *tls.Config, name string) (*greetedConn, error) {
	lim := &replyConn{Conn: raw, rd: deadline}
	br, read := replyReader(lim)
	if err := greet(read, raw, name); err != nil {
		return nil, err
	}
	if err := lim.quiet(); err != nil {
		return nil, fmt.Errorf("greeting of %s: %w", name, err)
	}
	if _, err := fmt.Fprintf(raw, "EHLO %s\r\n", w.cfg.Hostname); err != nil {
		return nil, fmt.Errorf("ehlo to %s: %w", name, err)
	}
	starttls := false
	msg, err := read(250)
	if err = smtpErr(err, msg); err == nil {
		for _, l := range strings.Split(msg, "\n")[1:] {
			if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], "STARTTLS") {
				starttls = true
			}
		}
	} else if !isSMTP(err) {
		// The connection broke, or timed out: go-smtp's client would
		// say EHLO again and wait as long once more. A refusal (HELO
		// only) is left to it.
		return nil, fmt.Errorf("ehlo to %s: %w", name, err)
	}
	if err := lim.quiet(); err != nil {
		return nil, fmt.Errorf("ehlo to %s: %w", name, err)
	}
	greeting := strings.NewReader("220 " + t.host + " ESMTP\r\n")
	mustTLS := t.tlsMode == "required" || t.sts != nil && t.sts.Mode == "enforce"
	if !starttls || t.tlsMode == "none" {
		if mustTLS {
			return nil, fmt.Errorf("%s %w, which is required", name, errNoTLS)
		}
		// Plain: go-smtp repeats EHLO, which RFC 5321 4.1.4 allows.
		return &greetedConn{replyConn: lim, r: io.MultiReader(greeting, br)}, nil
	}
	if _, err := io.WriteString(raw, "STARTTLS\r\n"); err != nil {
		return nil, fmt.Errorf("starttls to %s: %w", name, err)
	}
	if msg, err := read(220); err != nil {
		return nil, fmt.Errorf("starttls to %s: %w", name, smtpErr(err, msg))
	}
	lim.SetDeadline(time.Now().Add(w.cfg.CommandTimeout))
	if err := lim.quiet(); err != nil {
		// Anything sent before the handshake is an injection attempt
		// (CVE-2011-0411 and kin).
		return nil, fmt.Errorf("%s sent data before the TLS handshake: %w", name, err)
	}
	tc := tls.Client(raw, tlsCfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%w with %s: %w", errTLSFailed, name, err)
	}
	rc := &replyConn{Conn: tc}
	return &greetedConn{replyConn: rc, r: io.MultiReader(greeting, rc)}, nil
}

// replyReader is a reader of replies through lim, for what is read
// before go-smtp's client takes the session, and its read: the next
// reply, which must have code; a reply cut at a bound (replyConn), which
// the reader would take for whole, fails.
func replyReader(lim *replyConn) (*bufio.Reader, func(code int) (string, error)) {
	br := bufio.NewReader(lim)
	r := textproto.NewReader(br)
	return br, func(code int) (string, error) {
		_, msg, err := r.ReadResponse(code)
		if lim.err != nil {
			return "", lim.err
		}
		return msg, err
	}
}

// greet reads a server's greeting (read). RFC 5321 3.1: a server that
// greets with 554 (or 421) waits for QUIT; it is said (to w) rather than
// the connection dropped.
func greet(read func(code int) (string, error), w io.Writer, name string) error {
	msg, err := read(220)
	if err = smtpErr(err, msg); err == nil {
		return nil
	}
	if isSMTP(err) {
		io.WriteString(w, "QUIT\r\n")
	}
	return fmt.Errorf("greeting of %s: %w", name, err)
}

// errTLSFailed marks a failed STARTTLS handshake.
var errTLSFailed = errors.New("tls handshake failed")

// errNoTLS marks a server without STARTTLS where TLS is required.
var errNoTLS = errors.New("does not offer STARTTLS")

// smtpErr turns a textproto error into go-smtp's error type, with the
// enhanced status code (RFC 2034) split off the text as go-smtp's client
// does, so that one function classifies every remote answer.
func smtpErr(err error, msg string) error {
	if err == nil {
		return nil // without the allocation errors.As costs
	}
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err
	}
	se := &smtp.SMTPError{Code: te.Code, Message: te.Msg, EnhancedCode: smtp.NoEnhancedCode}
	first, rest, ok := strings.Cut(te.Msg, " ")
	if ec, valid := parseEnhanced(first); ok && valid {
		se.EnhancedCode = ec
		// RFC 2034: every line repeats the code.
		se.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	}
	return se
}

// parseEnhanced reads an enhanced status code, class.subject.detail
// (RFC 3463 2): class 2, 4 or 5, subject and detail of 1-3 digits.
func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return smtp.EnhancedCode{}, false
		}
		n := 0
		for _, d := range p {
			if d < '0' || d > '9' {
				return smtp.EnhancedCode{}, false
			}
			n = n*10 + int(d-'0')
		}
		ec[i] = n
	}
	if ec[0] != 2 && ec[0] != 4 && ec[0] != 5 {
		return smtp.EnhancedCode{}, false
	}
	return ec, true
}

// send runs one SMTP transaction for a message: MAIL, a RCPT per entry,
// DATA. It returns a result per entry, or connErr when the session broke
// before the outcome was known (the message is then tried elsewhere or
// later).
func (w *Worker) send(ctx context.Context, c *conn, t target, m *outMsg) ([]result, error) {
	first := m.entries[0]
	open, size, bad := w.bodyFor(ctx, c, first)
	if bad != nil {
		return uniform(m, *bad), nil
	}
	// Signed after any conversion: over the bytes that go out. A body
	// going as stored is checked for long lines on the same read, unless
	// hops found what its lines are.
	var long longLines
	var scan io.Writer // nil: bodyFor converted what is sent already, or hops looked
	if c.ext8 && m.lines == linesUnknown {
		scan = &long
	}
	sig, err := w.sign(ctx, first, open, scan)
	if err == nil && (long.found || c.ext8 && m.lines == linesLong) {
		if open, size, bad = w.shortened(ctx, c, first, open); bad != nil {
			return uniform(m, *bad), nil
		}
		sig, err = w.sign(ctx, first, open, nil)
	}
	if err != nil {
		// Our own failure: retry later rather than send unsigned.
		return uniform(m, result{outcome: store.QueueDeferred, reply: err.Error(), status: "4.3.0"}), nil
	}
	// Fields written before the stored message: ours come first. The
	// session's buffer holds them until the message is sent.
	head := append(w.appendReceived(c.head[:0], first, len(m.entries)), sig...)
	c.head = head
	// RFC 1870 6.1: a client must not send a message larger than the
	// fixed maximum the server announced. That limit does not change
	// with retries, so the message fails for every recipient at once,
	// as 5.3.4 (RFC 3463: message too big for system), and the sender
	// gets a failure DSN; nothing goes out, so nothing is sent twice.
	total := size + int64(len(head))
	if max := c.sizeMax; max > 0 && total > max {
		return uniform(m, result{outcome: store.QueueFailed, status: "5.3.4", host: c.host,
			reply: fmt.Sprintf("the message (%d bytes) is over the %d-byte limit %s announces (SIZE, RFC 1870)", total, max, c.host)}), nil
	}
	opts := &smtp.MailOptions{Size: total}
	if c.ext8 {
		opts.Body = smtp.Body8BitMIME
	}
	if c.dsn {
		// RFC 3461 4: a server with DSN takes the sender's requests on,
		// and reports success itself.
		opts.Return, opts.EnvelopeID = smtp.DSNReturn(first.DSN.Ret), first.DSN.EnvID
	}
	if !ascii(first.MailFrom) || slices.ContainsFunc(m.entries, func(e store.QueueEntry) bool { return !ascii(e.Rcpt) }) {
		// RFC 6531 3.2: addresses in UTF-8 need SMTPUTF8; a server
		// without it cannot take them at all.
		if !c.extUTF8 {
			return uniform(m, result{outcome: store.QueueFailed, status: "5.6.7", host: c.host,
				reply: "the server does not support SMTPUTF8, which these UTF-8 addresses need (RFC 6531)"}), nil
		}
		opts.UTF8 = true
	}
	if c.wire != nil {
		return w.sendPipelined(c, m, opts, open, head)
	}
	results := make([]result, len(m.entries))
	// Before each command, the server must have sent nothing past the
	// last reply (replyConn.quiet): else each reply from then on would
	// be taken for the next command's. A reply that came with more is
	// in doubt, as is the transaction: it ends as a protocol error, and
	// its entries are deferred.
	if err := c.rc.quiet(); err != nil {
		return nil, err
	}
	if err := sessionErr(c.c.Mail(first.MailFrom, opts)); err != nil {
		if !isSMTP(err) {
			return nil, err
		}
		if err := c.rc.quiet(); err != nil {
			return nil, err
		}
		c.c.Reset()
		return uniform(m, failure(err, c.host)), nil
	}
	var accepted []int
	for i, e := range m.entries {
		if err := c.rc.quiet(); err != nil {
			return nil, err
		}
		if err := sessionErr(c.c.Rcpt(e.Rcpt, rcptOptions(c, e))); err != nil {
			if !isSMTP(err) {
				return nil, err
			}
			results[i] = failure(err, c.host)
			continue
		}
		accepted = append(accepted, i)
	}
	if err := c.rc.quiet(); err != nil {
		return nil, err
	}
	if len(accepted) == 0 {
		c.c.Reset()
		return results, nil
	}
	setAll := func(r result) {
		for _, i := range accepted {
			results[i] = r
		}
	}
	wc, err := c.c.Data()
	if err = sessionErr(err); err != nil {
		if !isSMTP(err) {
			return nil, err
		}
		if err := c.rc.quiet(); err != nil {
			return nil, err
		}
		setAll(failure(err, c.host))
		return results, nil
	}
	if err := c.rc.quiet(); err != nil {
		// Nothing of the message went: the session is dropped.
		return nil, err
	}
	body, err := open()
	if err != nil {
		// The DATA cannot be finished cleanly: drop the session.
		return nil, fmt.Errorf("open queued body %d: %w", first.BodyID, err)
	}
	_, err = io.Copy(wc, io.MultiReader(bytes.NewReader(head), body))
	body.Close()
	if err != nil {
		return nil, fmt.Errorf("send body to %s: %w", c.host, err)
	}
	resp, err := wc.CloseWithResponse()
	if err = sessionErr(err); err != nil {
		if !isSMTP(err) {
			var ce *closedError
			if errors.As(err, &ce) {
				// A 421 to the data: not delivered.
				return nil, err
			}
			return nil, &afterDataError{err: err}
		}
		if stray := c.rc.quiet(); stray != nil {
			return nil, doubtful(stray, err)
		}
		setAll(failure(err, c.host))
		return results, nil
	}
	// The server took the message; what it sent past its 250 only ends
	// the session (run).
	c.desync = c.rc.quiet()
	setAll(result{outcome: store.QueueDelivered, reply: "250 " + resp.StatusText, status: "2.0.0", host: c.host, dsnOn: c.dsn})
	return results, nil
}

// doubtfulError is a transaction whose reply to the data refused it
// (refused) and came with more that no command asked for (stray,
// replyConn.quiet): which of them answered the data is in doubt, and
// the message may have been taken. It is deferred, as a protocol error
// (4.5.0), and sent again, rather than bounced for a refusal that may
// be another command's; it may then arrive twice (RFC 5321 6.1 prefers
// that to a loss).
type doubtfulError struct{ stray, refused error }

func doubtful(stray, refused error) error { return &doubtfulError{stray: stray, refused: refused} }

func (e *doubtfulError) Error() string {
	text := e.refused.Error()
	var se *smtp.SMTPError
	if errors.As(e.refused, &se) {
		text = remoteReply(se)
	}
	return fmt.Sprintf("%v, after %q as the reply to the message: it may have been delivered, and is sent again, so it may arrive twice", e.stray, text)
}

func (e *doubtfulError) Unwrap() error { return errProtocol }

// rcptOptions are the RCPT parameters of an entry for a server that
// announced DSN: the sender's NOTIFY and ORCPT, as they were given.
func rcptOptions(c *conn, e store.QueueEntry) *smtp.RcptOptions {
	if !c.dsn || e.DSN.Notify == "" && e.DSN.ORcpt == "" {
		return nil
	}
	o := &smtp.RcptOptions{}
	if e.DSN.Notify != "" {
		for _, n := range strings.Split(e.DSN.Notify, ",") {
			o.Notify = append(o.Notify, smtp.DSNNotify(n))
		}
	}
	if typ, addr, ok := strings.Cut(e.DSN.ORcpt, ";"); ok && addr != "" {
		o.OriginalRecipientType, o.OriginalRecipient = smtp.DSNAddressType(strings.ToUpper(typ)), addr
		if o.OriginalRecipientType == smtp.DSNAddressTypeRFC822 && !ascii(addr) {
			o.OriginalRecipientType = smtp.DSNAddressTypeUTF8
		}
	}
	return o
}

// maxSize is the fixed maximum message size a server announced with
// SIZE's param (RFC 1870 4), 0 for no fixed one ("SIZE" or "SIZE 0") or
// one that does not parse.
func maxSize(param string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(param), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isSMTP(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

// closedError is a 421 reply: the server is closing the session (RFC
// 5321 3.8), and the replies still due in it are lost. It ends the
// session like a broken connection, and what is logged and kept as the
// entries' last error is the server's reply, not the EOF that follows it.
type closedError struct{ reply *smtp.SMTPError }

func (e *closedError) Error() string {
	return fmt.Sprintf("the server closed the session: %d %s", e.reply.Code, e.reply.Message)
}

// unexpectedReply is a reply that says neither that a command failed
// (4xx, 5xx) nor what was due: a code RFC 5321 4.2.1 does not have
// (999, 699, 199), or a 1xx, 2xx or 3xx where another was due (354 to
// RCPT). The server's state is not what ours is (a 354 to RCPT may have
// it take what we send next for a message's text), so the session ends
// like a broken one, and as it says nothing of the recipient the entries
// are deferred, as a protocol error (4.5.0, failure).
type unexpectedReply struct{ reply *smtp.SMTPError }

func (e *unexpectedReply) Error() string {
	return fmt.Sprintf("%v: unexpected reply: %s", errProtocol, remoteReply(e.reply))
}

func (e *unexpectedReply) Unwrap() error { return errProtocol }

// sessionErr turns a 421 reply into a closedError, and a reply with an
// unexpected code into an unexpectedReply: both end the session.
func sessionErr(err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	switch {
	case !errors.As(err, &se):
	case se.Code == 421:
		return &closedError{reply: se}
	case se.Code/100 != 4 && se.Code/100 != 5:
		return &unexpectedReply{reply: se}
	}
	return err
}

// remoteReply is a reply as the server gave it: its code, the enhanced
// code it sent (RFC 2034) if any, and its text. None is made up.
func remoteReply(se *smtp.SMTPError) string {
	if ec := se.EnhancedCode; ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, ec[0], ec[1], ec[2], se.Message)
	}
	return fmt.Sprintf("%d %s", se.Code, se.Message)
}

// afterDataError is a session that broke once the whole message was sent
// and before the server's reply to it: the server may have accepted it.
// The entries are deferred and sent again, so the recipients may get it
// twice (RFC 5321 6.1 prefers that to a loss); the log says so.
type afterDataError struct{ err error }

func (e *afterDataError) Error() string {
	return fmt.Sprintf("connection lost after the message was sent, before the server's reply (%v): it may have been delivered, and is sent again, so it may arrive twice", e.err)
}

func (e *afterDataError) Unwrap() error { return e.err }

// failure classifies an error of an attempt: a remote 5xx fails the
// entry, a 4xx and anything else defers it.
func failure(err error, host string) result {
	var ce *closedError
	var ad *afterDataError
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &ce):
		err = ce.reply
	case errors.As(err, &ad):
		// RFC 3463 4.4.2: bad connection.
		return result{outcome: store.QueueDeferred, reply: err.Error(), status: "4.4.2", host: host}
	case errors.As(err, &se) && se.Code/100 != 4 && se.Code/100 != 5:
		// Where the session was being opened (the greeting, EHLO).
		err = &unexpectedReply{reply: se}
	}
	var pe textproto.ProtocolError
	switch {
	case errors.Is(err, errProtocol) || errors.As(err, &pe):
		// RFC 3463 4.5.0: other or undefined protocol status; deferred,
		// as the server may be mended by the next attempt.
		return result{outcome: store.QueueDeferred, reply: err.Error(), status: "4.5.0", host: host}
	case !errors.As(err, &se):
		return result{outcome: store.QueueDeferred, reply: err.Error(), status: "4.4.1", host: host}
	}
	r := result{outcome: store.QueueDeferred, host: host, code: se.Code, reply: remoteReply(se)}
	class := se.Code / 100
	if class == 5 {
		r.outcome = store.QueueFailed
	}
	// RFC 3463 2: the enhanced code's class says what the reply code's
	// does; a server that says 450 5.1.1 or 451 2.0.0 has its detail
	// kept under its reply's class (4.1.1, 4.0.0), so that a deferral is
	// never reported as a failure or a success.
	ec := se.EnhancedCode
	if ec[0] != 2 && ec[0] != 4 && ec[0] != 5 || ec[1] < 0 || ec[1] > 999 || ec[2] < 0 || ec[2] > 999 {
		ec = smtp.EnhancedCode{class, 0, 0}
	}
	r.status = fmt.Sprintf("%d.%d.%d", class, ec[1], ec[2])
	return r
}

// appendReceived appends the trace field (RFC 5321 4.4: a server that takes a
// message for further delivery inserts one) put at the top of what goes
// out, a Stamp as 4.4 has it: where the message came from (the FROM
// clause is required), our name, the protocol when one fits, the entry's
// queue id, the recipient when there is one, and the time it was
// accepted. The submitting client's address is left out on purpose (only
// the message log keeps it): the FROM clause names the client by its
// EHLO name, or the webmail, and says it signed in. Neither the DKIM
// signature (which never covers Received) depends on the field, nor the
// duplicate rule, which digests bodies only (store/dedup.go), so a copy
// journaled back is still known.
func (w *Worker) appendReceived(b []byte, e store.QueueEntry, recipients int) []byte {
	b = append(b, "Received: from "...)
	if e.Origin.Client == "" {
		// The service made the message itself (store.Origin).
		b = append(b, w.cfg.Hostname...)
		b = append(b, " (local)"...)
	} else {
		b = append(b, traceDomain(e.Origin.Client)...)
		b = append(b, " (authenticated sender)"...)
	}
	b = append(b, "\r\n\tby "...)
	b = append(b, w.cfg.Hostname...)
	b = append(b, " (xtramail)"...)
	if isAtom(e.Origin.With) {
		b = append(b, " with "...)
		b = append(b, e.Origin.With...)
	}
	b = append(b, " id "...)
	b = strconv.AppendInt(b, e.ID, 10)
	if recipients == 1 && ascii(e.Rcpt) {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, e.Rcpt...)
		b = append(b, '>')
	}
	b = append(b, "; "...)
	b = e.Queued.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// traceDomain is the name a client gave in EHLO when it is a domain as
// the FROM clause of a Received field takes it (RFC 5321 4.1.2 Domain:
// letters, digits and hyphens in dot-separated labels), else "unknown".
// An address literal ("[127.0.0.1]", what Thunderbird gives) is allowed
// there only with the connection's address (TCP-info), which we do not
// write.
func traceDomain(name string) string {
	if len(name) == 0 || len(name) > 255 {
		return "unknown"
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "unknown"
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "unknown"
			}
		}
	}
	return name
}

// isAtom reports whether s is a protocol name the WITH clause takes:
// letters, digits and hyphens (RFC 5321 4.4 Attdl-Protocol, as IANA's
// Mail Transmission Types are written).
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// sign returns the DKIM-Signature field for an entry's body when its
// sender's domain has a key and its header is not too large to sign
// (dkim.ErrHeaderTooLarge), else "". With scan, the body is read
// whatever the key, and written to scan on the way.
func (w *Worker) sign(ctx context.Context, e store.QueueEntry, open opener, scan io.Writer) (string, error) {
	var signer *dkim.Signer
	if e.MailFrom != "" {
		var err error
		if signer, err = w.keys.Signer(ctx, store.DomainOf(e.MailFrom)); err != nil {
			return "", err
		}
	}
	if signer == nil && scan == nil {
		return "", nil
	}
	body, err := open()
	if err != nil {
		return "", fmt.Errorf("open queued body %d: %w", e.BodyID, err)
	}
	defer body.Close()
	var r io.Reader = body
	if scan != nil {
		r = io.TeeReader(body, scan)
	}
	if signer != nil {
		sig, err := signer.Sign(r)
		if !errors.Is(err, dkim.ErrHeaderTooLarge) {
			return sig, err
		}
		// Submission refuses a header over 256 KiB, but one of many
		// short lines, or a captured message an administrator
		// redelivers, may come here: it is sent unsigned rather than
		// held (dkim.MaxHeaderBytes).
		w.log.Warn("message sent without DKIM signature: its header is too large to sign",
			"message_id", e.MessageID, "queue_id", e.ID, "domain", store.DomainOf(e.MailFrom), "err", err)
	}
	// What is left of the body, for scan.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", fmt.Errorf("read queued body %d: %w", e.BodyID, err)
	}
	return "", nil
}
