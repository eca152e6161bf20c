package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/service"
)

// The embedded server's accounts: bench@bench.test and bench1..N@bench.test,
// all with benchPassword.
const (
	benchDomain   = "bench.test"
	benchPassword = "bench-password"
)

func benchUser(i int) string { return fmt.Sprintf("bench%d@%s", i, benchDomain) }

// serverMode runs xtramail for the other modes, in a child process, until
// its standard input closes. It prints "READY name=addr ..." once
// listening.
func serverMode(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	data := fs.String("data", "", "data directory")
	users := fs.Int("users", 1, "bench1..N accounts to create")
	cpuProfile := fs.String("cpuprofile", "", "write the server's CPU profile here (and its allocations to this name + .allocs)")
	relay := fs.String("relay", "", "HOST:PORT: serve submission and relay the queue there (plain SMTP)")
	dkimAlg := fs.String("dkim", "", "with --relay: sign what bench.test sends with a DKIM key of this algorithm (ed25519 or rsa)")
	perHour := fs.Int("per-hour", 0, "with --relay: each account's messages-per-hour limit, checked and counted in Submit's transaction (0: none)")
	fs.Parse(args)

	cfg := config.Default()
	cfg.Data = *data
	cfg.Hostname = "localhost"
	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.0/8", "::1"} // the load comes from this machine
	cfg.Metrics.Listen = ""
	// The web layer runs as in production, on a free loopback port, so
	// that two runs (or another xtramail) on one machine do not collide.
	cfg.Web.Listen = "127.0.0.1:0"
	listenIMAP(&cfg)
	if *relay != "" {
		if err := relayTo(&cfg, *relay); err != nil {
			return err
		}
		cfg.Submission.MaxPerHour = *perHour
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// As the serve command does: the figures are production's.
	service.PaceGC(context.Background(), service.GCHeadroom)
	svc, err := service.New(cfg, log)
	if err != nil {
		return err
	}
	ctx := context.Background()
	hash, err := auth.Hash(benchPassword)
	if err != nil {
		return err
	}
	if _, err := svc.Store.CreateDomain(ctx, benchDomain, 0); err != nil {
		return err
	}
	for i := 0; i <= *users; i++ {
		addr := "bench@" + benchDomain
		if i > 0 {
			addr = benchUser(i)
		}
		if _, err := svc.Store.CreateAccount(ctx, addr, hash); err != nil {
			return err
		}
	}
	if *dkimAlg != "" {
		k, err := dkim.GenerateKey(*dkimAlg, "bench", time.Now())
		if err != nil {
			return err
		}
		if err := svc.Store.SetDKIMKey(ctx, benchDomain, k); err != nil {
			return err
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	sub := ""
	if svc.SubmissionAddr != nil {
		sub = " submission=" + svc.SubmissionAddr.String()
	}
	fmt.Printf("READY capture=%s%s%s\n", svc.CaptureAddr, imapAddrField(svc), sub)
	io.Copy(io.Discard, os.Stdin)
	if *cpuProfile != "" {
		// Beside the CPU profile, what was allocated and where: the
		// garbage collector's work follows it.
		if f, err := os.Create(*cpuProfile + ".allocs"); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	return svc.Shutdown(ctx)
}

// child is a server started by serverMode in another process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addrs map[string]string
	dir   string // removed at stop when temporary
}

// spawnServer starts the child server on dir (a temporary one if empty).
func spawnServer(dir string, users int, cpuProfile string, extra ...string) (*child, error) {
	c := &child{addrs: map[string]string{}}
	if dir == "" {
		d, err := os.MkdirTemp("", "xtramail-bench-")
		if err != nil {
			return nil, err
		}
		dir, c.dir = d, d
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"server", "--data", dir, "--users", strconv.Itoa(users)}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	args = append(args, extra...)
	c.cmd = exec.Command(self, args...)
	c.cmd.Stderr = os.Stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "READY ") {
		c.stop()
		return nil, fmt.Errorf("embedded server did not start: %q %v", line, err)
	}
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		c.addrs[k] = v
	}
	fmt.Printf("embedded xtramail (pid %d) in %s: SQLite WAL, bodies and log fsynced before each answer\n", c.cmd.Process.Pid, dir)
	return c, nil
}

func (c *child) stop() {
	c.stdin.Close()
	c.cmd.Wait()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// rss returns a process's resident memory in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// peakRSS returns the high-water mark of a process's resident memory.
func peakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM:") }

// procStatus reads one size field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// relayTo serves submission on loopback (STARTTLS with the self-signed
// certificate) and relays the queue to addr, with limits that let the load
// in from one IP and one account per connection.
func relayTo(cfg *config.Config, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("relay %q: %w", addr, err)
	}
	cfg.Submission.Listen, cfg.Submission.ListenTLS = "127.0.0.1:0", ""
	cfg.Submission.MaxPerHour = 0
	cfg.Submission.MaxConns, cfg.Submission.MaxConnsPerIP = 100000, 100000
	cfg.Queue.Mode, cfg.Queue.RelayHost, cfg.Queue.RelayTLS = "relay", host, "none"
	cfg.Queue.RelayPort, err = strconv.Atoi(port)
	return err
}
