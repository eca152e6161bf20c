package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// submitMode measures the submission path end to end (issue 13, "Speed"):
// conns authenticated TLS connections (STARTTLS, AUTH PLAIN) each send
// messages of size bytes with one remote recipient; the server keeps the
// Sent copy and queues the message durably before its 250 (accepted/s),
// then relays it to a go-smtp sink run here, which counts what arrives
// (delivered/s). The server's CPU time is read from /proc for its whole
// process tree, so that Postfix's short-lived workers count too.
func submitMode(args []string) error {
	fs := flag.NewFlagSet("submit", flag.ExitOnError)
	addr := fs.String("addr", "", "submission listener (STARTTLS) to load; empty starts xtramail in a temporary directory relaying to the sink")
	users := fs.String("user", "bench%d@bench.test", "sign-in address per connection (%d is the connection's number, 1..conns)")
	password := fs.String("password", benchPassword, "password of every user")
	sinkAddr := fs.String("sink", "127.0.0.1:0", "where the counting sink listens (the server's relay host)")
	pid := fs.Int("pid", 0, "process whose tree's CPU time is the server's (default: the embedded xtramail)")
	label := fs.String("label", "xtramail", "name printed with the figures")
	conns := fs.Int("conns", 8, "concurrent authenticated connections")
	size := fs.Int("size", 10*1024, "message size in bytes")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	settle := fs.Duration("wait", 60*time.Second, "how long to wait for the sink to receive what was accepted")
	dkimAlg := fs.String("dkim", "", "embedded server: sign every message with a DKIM key of the sender's domain (ed25519 or rsa; empty: no signing)")
	perHour := fs.Int("per-hour", 0, "embedded server: messages each account may send per hour, counted and checked in each submission's transaction (0: no limit; set it above what the run sends)")
	toolProfile := fs.String("tool-cpuprofile", "", "write the load tool's own CPU profile (clients and sink) to this file")
	embedded := embeddedServerFlags(fs)
	fs.Parse(args)

	sk, err := startCountingSink(*sinkAddr)
	if err != nil {
		return err
	}
	defer sk.close()
	if *addr == "" {
		extra := []string{"--relay", sk.addr, "--per-hour", strconv.Itoa(*perHour)}
		if *dkimAlg != "" {
			extra = append(extra, "--dkim", *dkimAlg)
		}
		srv, err := embedded.spawn(*conns, extra...)
		if err != nil {
			return err
		}
		defer srv.stop()
		*addr = srv.addrs["submission"]
		*pid = srv.cmd.Process.Pid
	}

	msgs := make([][]byte, *conns)
	for i := range *conns {
		msgs[i] = submitMessage(fmt.Sprintf(*users, i+1), *size)
	}
	var accepted, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	ready := make(chan struct{})
	var connected sync.WaitGroup
	for i := range *conns {
		wg.Add(1)
		connected.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf(*users, i+1)
			c, err := dialSubmission(*addr, user, *password)
			connected.Done()
			if err != nil {
				firstErr.CompareAndSwap(nil, fmt.Errorf("%s: %w", user, err))
				return
			}
			defer c.Close()
			<-ready
			var mine []time.Duration
			prefix := "r" + strconv.Itoa(i+1) + "-"
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				rcpt := prefix + strconv.Itoa(n) + "@remote.test"
				// Each message has a subject of its own, as real mail
				// does: the message log indexes subjects. Its To names
				// its recipient: one the header does not name is a Bcc,
				// which the Sent copy names (a second body).
				err := c.send(user, rcpt, "Message-ID: <"+messageID()+">\r\nTo: "+rcpt+"\r\nSubject: load test "+rcpt+"\r\n", msgs[i])
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					return
				}
				accepted.Add(1)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	// Connections and sign-ins (argon2id) are not what is measured.
	connected.Wait()
	if *toolProfile != "" {
		f, err := os.Create(*toolProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	cpu0, cpuErr := treeCPU(*pid)
	self0, selfErr := selfCPU()
	load0 := loadAvg()
	start := time.Now()
	sk.reset(start)
	time.AfterFunc(*duration, cancel)
	close(ready)
	wg.Wait()
	sendTime := time.Since(start)
	n := accepted.Load()
	deadline := time.Now().Add(*settle)
	for sk.count() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	delivered, last := sk.last()
	cpu1, cpuErr1 := treeCPU(*pid)
	self1, selfErr1 := selfCPU()
	load1 := loadAvg()

	endToEnd := last.Sub(start)
	fmt.Printf("submit [%s]: %d messages of %d bytes over %d STARTTLS+AUTH connections, one remote recipient each\n", *label, n, *size, *conns)
	if *dkimAlg != "" || *perHour > 0 {
		fmt.Printf("  DKIM signing: %s; hourly limit: %d\n", orNone(*dkimAlg), *perHour)
	}
	fmt.Printf("  accepted  %7.0f msg/s (durable before 250: for xtramail the Sent copy and the queue entry), %s of sending\n", float64(n)/sendTime.Seconds(), sendTime.Round(time.Millisecond))
	fmt.Printf("  delivered %7.0f msg/s end to end (%d of %d at the sink, the last %s after the first send)\n",
		float64(delivered)/endToEnd.Seconds(), delivered, n, endToEnd.Round(time.Millisecond))
	fmt.Printf("  latency of a submission %s\n", percentiles(lat))
	cpuPer1000, toolPer1000, sumPer1000 := "?", "?", "?"
	server, tool := -1.0, -1.0
	if cpuErr == nil && cpuErr1 == nil && delivered > 0 {
		server = cpu1 - cpu0
		cpuPer1000 = fmt.Sprintf("%.2f", server*1000/float64(delivered))
		fmt.Printf("  server CPU %.2f s, %s s per 1,000 messages\n", server, cpuPer1000)
	} else if *pid != 0 {
		fmt.Printf("  server CPU: not measured (%v %v)\n", cpuErr, cpuErr1)
	}
	// The tool shares the machine with the server: its own CPU (the 8
	// clients and the sink, this process alone: the server is a child,
	// counted above) is what the server could not use.
	if selfErr == nil && selfErr1 == nil && delivered > 0 {
		tool = self1 - self0
		toolPer1000 = fmt.Sprintf("%.2f", tool*1000/float64(delivered))
		fmt.Printf("  tool CPU %.2f s (clients and sink), %s s per 1,000 messages\n", tool, toolPer1000)
	}
	if server >= 0 && tool >= 0 {
		sumPer1000 = fmt.Sprintf("%.2f", (server+tool)*1000/float64(delivered))
		fmt.Printf("  server + tool CPU %s s per 1,000 messages\n", sumPer1000)
	}
	fmt.Printf("  load average %s -> %s\n", load0, load1)
	fmt.Printf("  errors %d, sink duplicates %d, DKIM-signed at the sink %d\n", failed.Load(), sk.dups.Load(), sk.signed.Load())
	fmt.Printf("RESULT label=%s accepted_per_s=%.0f delivered_per_s=%.0f delivered=%d accepted=%d cpu_s_per_1000=%s tool_cpu_s_per_1000=%s sum_cpu_s_per_1000=%s dkim=%s per_hour=%d\n",
		*label, float64(n)/sendTime.Seconds(), float64(delivered)/endToEnd.Seconds(), delivered, n, cpuPer1000, toolPer1000, sumPer1000, orNone(*dkimAlg), *perHour)
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error: %v\n", e)
	}
	if delivered < n {
		return fmt.Errorf("the sink received %d of %d accepted messages within %s", delivered, n, *settle)
	}
	if *dkimAlg != "" && sk.signed.Load() < delivered {
		return fmt.Errorf("DKIM signing asked, but %d of %d messages at the sink carry a signature", sk.signed.Load(), delivered)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// submitMessage is a plain text message from user of about size bytes.
func submitMessage(user string, size int) []byte {
	b := makeMessage(size)
	b = bytes.Replace(b, []byte("Subject: load test message\r\n"), nil, 1) // one per message instead
	return bytes.Replace(b, []byte("From: Bench <sender@outside.test>\r\nTo: bench@bench.test\r\n"),
		[]byte("From: Bench <"+user+">\r\n"), 1)
}

// countingSink is the relay the server delivers to: it takes everything
// and counts messages by their Message-ID.
type countingSink struct {
	addr string
	srv  *smtp.Server
	dups atomic.Int64
	// signed counts arrivals with a DKIM-Signature header field.
	signed atomic.Int64

	mu    sync.Mutex
	seen  map[string]bool
	n     int64
	lastT time.Time
	start time.Time
}

func startCountingSink(addr string) (*countingSink, error) {
	s := &countingSink{seen: map[string]bool{}}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &countSession{s: s}, nil }))
	s.srv.Domain = "sink.test"
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

func (s *countingSink) close() { s.srv.Close() }

func (s *countingSink) reset(start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen, s.n, s.start, s.lastT = map[string]bool{}, 0, start, start
	s.signed.Store(0)
}

func (s *countingSink) count() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// last returns the count and when the last message arrived.
func (s *countingSink) last() (int64, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.lastT
}

type countSession struct {
	s     *countingSink
	rcpts int
	br    *bufio.Reader // reused for every message of the session
	buf   []byte
}

func (c *countSession) Reset()                               { c.rcpts = 0 }
func (c *countSession) Logout() error                        { return nil }
func (c *countSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *countSession) Rcpt(string, *smtp.RcptOptions) error { c.rcpts++; return nil }
func (c *countSession) AuthMechanisms() []string             { return nil }
func (c *countSession) Auth(string) (sasl.Server, error)     { return nil, smtp.ErrAuthUnsupported }

func (c *countSession) Data(r io.Reader) error {
	// Only the header is looked at (the Message-ID, a DKIM-Signature);
	// the rest is read into the session's one buffer and dropped, so that
	// the sink costs the machine little per message.
	if c.br == nil {
		c.br = bufio.NewReaderSize(r, 16<<10)
		c.buf = make([]byte, 16<<10)
	} else {
		c.br.Reset(r)
	}
	id, signed := "", false
	for {
		line, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A header line longer than the buffer: neither field.
			for err == bufio.ErrBufferFull {
				_, err = c.br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // the end of the header
		}
		if v, ok := bytes.CutPrefix(line, []byte("Message-ID: <")); ok && id == "" {
			if j := bytes.IndexByte(v, '>'); j >= 0 {
				id = string(v[:j])
			}
		}
		signed = signed || bytes.HasPrefix(line, []byte("DKIM-Signature:"))
	}
	for {
		_, err := c.br.Read(c.buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if id != "" && c.s.seen[id] {
		c.s.dups.Add(1)
		return nil
	}
	c.s.seen[id] = true
	if signed {
		c.s.signed.Add(1)
	}
	c.s.n++
	c.s.lastT = time.Now()
	return nil
}

// treeCPU is the CPU time (user + system, seconds) of a process and its
// descendants, living and reaped: a parent's cutime/cstime hold its
// waited-for children's, so Postfix's short-lived workers count.
func treeCPU(pid int) (float64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("no server process")
	}
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	stats := map[int][]string{}
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// Fields after the command name, which may hold spaces.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 15 {
			continue
		}
		p, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(d, "/proc/"), "/stat"))
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
		stats[p] = f
	}
	if stats[pid] == nil {
		return 0, fmt.Errorf("no process %d", pid)
	}
	var ticks float64
	var walk func(int)
	walk = func(p int) {
		f := stats[p]
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseFloat(f[i], 64)
			ticks += v
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return ticks / 100, nil // USER_HZ is 100 on Linux
}

// selfCPU is this process's own CPU time (user + system, seconds),
// without its children: getrusage(RUSAGE_SELF).
func selfCPU() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return sec(ru.Utime) + sec(ru.Stime), nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
