package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/service"
)

// imapMode measures whole IMAP sessions over TLS. The default "realistic"
// mix is issue 11 part 9's: 20 clients on 100 accounts, each session
// LOGIN, LIST or STATUS, SELECT, FETCH of flags, envelopes, header
// fields, BODYSTRUCTURE and partial bodies, STORE of flags and keywords,
// APPEND, STORE \Deleted + UID EXPUNGE, LOGOUT, every answer checked
// against a model of the mailbox (see imapmix.go). The "simple" mix loops
// on login, select, fetch flags, store, append, expunge, logout.
func imapMode(args []string) error {
	fs := flag.NewFlagSet("imap", flag.ExitOnError)
	addr := fs.String("addr", "", "IMAP TLS listener; empty starts an embedded server")
	user := fs.String("user", "", "user for every client with --addr (default: bench1..N on the embedded server)")
	password := fs.String("password", benchPassword, "password")
	clients := fs.Int("clients", 20, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	prefill := fs.Int("messages", 50, "messages captured into each embedded account first")
	embedded := embeddedServerFlags(fs)
	resume := fs.Bool("resume", true, "resume TLS sessions (session tickets), as mail clients do")
	mix := fs.String("mix", "realistic", "realistic (checked against a model) or simple")
	accounts := fs.Int("accounts", 100, "accounts of the realistic mix (bench1..N; with --addr they must exist)")
	mbox := fs.String("mbox", "", "mbox file whose messages the realistic mix appends (default: built-in samples)")
	pid := fs.Int("pid", 0, "with --addr: the server's process id, to report its CPU time (and its children's) per 1,000 commands")
	fs.Parse(args)

	if *mix == "realistic" {
		users := make([]string, *accounts)
		for i := range users {
			users[i] = benchUser(i + 1)
		}
		msgs, err := mixMessages(*mbox)
		if err != nil {
			return err
		}
		if *addr == "" {
			srv, err := embedded.spawn(*accounts)
			if err != nil {
				return err
			}
			defer srv.stop()
			*addr, *pid = srv.addrs["imap"], srv.cmd.Process.Pid
			if err := fillAccounts(srv.addrs["capture"], *accounts, *prefill); err != nil {
				return err
			}
		}
		return runMix(*addr, *password, users, *clients, *prefill, msgs, *duration, *resume, *pid)
	}

	userFor := func(i int) string { return *user }
	if *addr == "" {
		srv, err := embedded.spawn(*clients)
		if err != nil {
			return err
		}
		defer srv.stop()
		*addr = srv.addrs["imap"]
		userFor = func(i int) string { return benchUser(i + 1) }
		if err := fillAccounts(srv.addrs["capture"], *clients, *prefill); err != nil {
			return err
		}
	}

	var sessions, commands, failures atomic.Int64
	var lat latencies
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each client keeps its TLS sessions and resumes them, as
			// mail clients do (crypto/tls session tickets).
			var tickets tls.ClientSessionCache
			if *resume {
				tickets = tls.NewLRUClientSessionCache(4)
			}
			for ctx.Err() == nil {
				n, err := imapSession(*addr, userFor(i), *password, tickets, &lat)
				commands.Add(int64(n))
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				sessions.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("imap: %d clients for %.1fs over TLS\n", *clients, el)
	fmt.Printf("  %.0f sessions/s (logins), %.0f commands/s, %d failed sessions\n",
		float64(sessions.Load())/el, float64(commands.Load())/el, failures.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error: %v\n", e)
	}
	lat.print()
	return nil
}

// latencies sums the time each step of a session takes.
type latencies struct {
	mu    sync.Mutex
	total map[string]time.Duration
	count map[string]int
	order []string
}

func (l *latencies) add(step string, d time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total == nil {
		l.total, l.count = map[string]time.Duration{}, map[string]int{}
	}
	if _, ok := l.count[step]; !ok {
		l.order = append(l.order, step)
	}
	l.total[step] += d
	l.count[step]++
}

func (l *latencies) print() {
	fmt.Print("  mean latency:")
	for _, s := range l.order {
		fmt.Printf(" %s %s", s, (l.total[s] / time.Duration(l.count[s])).Round(10*time.Microsecond))
	}
	fmt.Println()
}

func dialIMAP(addr string, tickets tls.ClientSessionCache) (*imapclient.Client, error) {
	// The embedded server's certificate is self-signed.
	return imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tickets}})
}

// connectIMAP dials and waits for the greeting, timed as "connect+tls".
func connectIMAP(addr string, tickets tls.ClientSessionCache, lat *latencies) (*imapclient.Client, error) {
	t := time.Now()
	c, err := dialIMAP(addr, tickets)
	if err != nil {
		return nil, err
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, err
	}
	lat.add("connect+tls", time.Since(t))
	return c, nil
}

// imapSession runs one session and returns how many commands completed.
// tickets may be nil (no TLS resumption).
func imapSession(addr, user, password string, tickets tls.ClientSessionCache, lat *latencies) (int, error) {
	c, err := connectIMAP(addr, tickets, lat)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var t time.Time
	n := 0
	names := []string{"login", "select", "fetch", "store", "append", "store-deleted", "uid-expunge", "logout"}
	step := func(err error) error {
		if err == nil {
			if n < len(names) {
				lat.add(names[n], time.Since(t))
			}
			n++
		}
		t = time.Now()
		return err
	}
	t = time.Now()
	if err := step(c.Login(user, password).Wait()); err != nil {
		return n, fmt.Errorf("login: %w", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err := step(err); err != nil {
		return n, fmt.Errorf("select: %w", err)
	}
	if sel.NumMessages > 0 {
		all := imap.SeqSet{}
		all.AddRange(1, 0)
		if _, err := c.Fetch(all, &imap.FetchOptions{Flags: true, UID: true}).Collect(); step(err) != nil {
			return n, fmt.Errorf("fetch: %w", err)
		}
		last := imap.SeqSetNum(sel.NumMessages)
		if err := step(c.Store(last, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()); err != nil {
			return n, fmt.Errorf("store: %w", err)
		}
	}
	msg := "From: bench@bench.test\r\nSubject: draft\r\n\r\nappended by the load tool\r\n"
	ap := c.Append("INBOX", int64(len(msg)), nil)
	ap.Write([]byte(msg))
	ap.Close()
	data, err := ap.Wait()
	if err := step(err); err != nil {
		return n, fmt.Errorf("append: %w", err)
	}
	uids := imap.UIDSetNum(data.UID)
	if err := step(c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()); err != nil {
		return n, fmt.Errorf("store deleted: %w", err)
	}
	if err := step(c.UIDExpunge(uids).Close()); err != nil {
		return n, fmt.Errorf("uid expunge: %w", err)
	}
	if err := step(c.Logout().Wait()); err != nil {
		return n, fmt.Errorf("logout: %w", err)
	}
	return n, nil
}

// fillAccounts captures count messages into bench1..users.
func fillAccounts(captureAddr string, users, count int) error {
	body := makeMessage(4096)
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := dialPipelined(captureAddr)
			if err != nil {
				errs <- err
				return
			}
			defer p.Close()
			for range count {
				if err := p.Send("sender@outside.test", benchUser(i+1), messageID(), body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// idleMode opens many connections that sit in IDLE and reports what they
// cost the server in memory, then how fast a new message reaches them all.
func idleMode(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	addr := fs.String("addr", "", "IMAP TLS listener; empty starts an embedded server")
	captureAddr := fs.String("capture", "", "capture listener of the same server, to time the push (optional with --addr)")
	user := fs.String("user", "bench@"+benchDomain, "user")
	password := fs.String("password", benchPassword, "password")
	pid := fs.Int("pid", 0, "server process id, to read its memory (with --addr)")
	conns := fs.Int("conns", 1000, "connections in IDLE")
	fs.Parse(args)
	if *addr == "" {
		srv, err := spawnServer("", 0, "")
		if err != nil {
			return err
		}
		defer srv.stop()
		*addr, *captureAddr, *pid = srv.addrs["imap"], srv.addrs["capture"], srv.cmd.Process.Pid
		// One session first, so that one-time allocations are not counted.
		if _, err := imapSession(*addr, *user, *password, nil, nil); err != nil {
			return err
		}
	}
	var before int64
	if *pid > 0 {
		runtime.GC()
		time.Sleep(time.Second)
		before, _ = rss(*pid)
	}
	var got atomic.Int64
	clients := make([]*imapclient.Client, 0, *conns)
	idles := make([]*imapclient.IdleCommand, 0, *conns)
	defer func() {
		for i, c := range clients {
			if i < len(idles) {
				idles[i].Close()
			}
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < *conns; i++ {
		var seen atomic.Bool
		c, err := imapclient.DialTLS(*addr, &imapclient.Options{
			TLSConfig: &tls.Config{InsecureSkipVerify: true},
			UnilateralDataHandler: &imapclient.UnilateralDataHandler{
				Mailbox: func(d *imapclient.UnilateralDataMailbox) {
					if d.NumMessages != nil && !seen.Swap(true) {
						got.Add(1)
					}
				},
			},
		})
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		clients = append(clients, c)
		if err := c.Login(*user, *password).Wait(); err != nil {
			return fmt.Errorf("login %d: %w", i, err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			return fmt.Errorf("select %d: %w", i, err)
		}
		idle, err := c.Idle()
		if err != nil {
			return fmt.Errorf("idle %d: %w", i, err)
		}
		idles = append(idles, idle)
	}
	fmt.Printf("idle: %d TLS connections logged in, selected and in IDLE after %s\n", *conns, time.Since(start).Round(time.Millisecond))
	if *pid > 0 {
		time.Sleep(2 * time.Second)
		after, err := rss(*pid)
		if err != nil {
			return err
		}
		fmt.Printf("  server RSS %.1f MiB -> %.1f MiB: +%.1f MiB for %d connections (%.1f KiB each)\n",
			mib(before), mib(after), mib(after-before), *conns, float64(after-before)/1024/float64(*conns))
	}
	if *captureAddr != "" {
		p, err := dialPipelined(*captureAddr)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := p.Send("sender@outside.test", *user, messageID(), []byte("Subject: push\r\n\r\nnew mail\r\n")); err != nil {
			return err
		}
		p.Close()
		for got.Load() < int64(*conns) && time.Since(t0) < 10*time.Second {
			time.Sleep(time.Millisecond)
		}
		fmt.Printf("  a captured message reached %d of %d idling clients in %s\n", got.Load(), *conns, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// listenIMAP opens the IMAP listener on loopback, with limits that let
// every load connection in from one IP.
func listenIMAP(cfg *config.Config) {
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.IMAP.MaxConns, cfg.IMAP.MaxConnsPerIP = 100000, 100000
}

func imapAddrField(svc *service.Service) string { return " imap=" + svc.IMAPAddr.String() }
