package queue

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestMain runs the queue worker as a child process when asked to, for
// TestKillMidQueueDeliversOnce.
func TestMain(m *testing.M) {
	if dir := os.Getenv("XTRAMAIL_QUEUE_CHILD"); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

// childLease is the child worker's lease: long enough that no attempt on
// a loaded machine is cut off by it (a cut attempt is deferred by minutes
// of backoff, past the child's own limit).
const childLease = 10 * time.Minute

// child delivers the queue in dir through the relay on
// XTRAMAIL_QUEUE_RELAY_PORT until it is empty. Its clock runs
// XTRAMAIL_QUEUE_CLOCK_AHEAD ahead of the real one: a restarted worker
// sees the killed one's leases as run out, as it would once they had,
// without the test waiting for them.
func child(dir string) int {
	port, _ := strconv.Atoi(os.Getenv("XTRAMAIL_QUEUE_RELAY_PORT"))
	ahead, _ := time.ParseDuration(os.Getenv("XTRAMAIL_QUEUE_CLOCK_AHEAD"))
	st := openStore(childTB{}, dir)
	defer st.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	w := New(Config{
		Hostname: "queue.example.org",
		Relay:    &Relay{Host: "127.0.0.1", Port: port, TLS: "none"},
		Lease:    childLease,
		Now:      func() time.Time { return time.Now().Add(ahead) },
		// One session: with several, a 250 the sink wrote just before the
		// kill may never have reached the worker (the window RFC 1047
		// describes, which no sender can close), and the sink could not
		// tell that resend from a bug.
		Concurrency: 1,
	}, st, log, nil)
	ctx := context.Background()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		if _, err := w.RunOnce(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		q, err := st.QueueEntries(ctx, store.QueueQuery{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if len(q) == 0 {
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 2
}

// childTB lets openStore run outside a test.
type childTB struct{ testing.TB }

func (childTB) Helper() {}
func (childTB) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(3)
}

var msgIDRe = regexp.MustCompile(`Message-ID: <(m\d+)@example.org>`)

// TestKillMidQueueDeliversOnce kills the worker process with SIGKILL while
// the relay holds the 12th message's DATA unanswered, restarts it, and
// checks that every message reached the relay exactly once: nothing
// acknowledged is sent again, nothing unacknowledged is lost.
func TestKillMidQueueDeliversOnce(t *testing.T) {
	const total, killAt = 30, 12
	dir := t.TempDir()
	st := openStore(t, dir)
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	acc, err := st.CreateAccount(ctx, "alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= total; i++ {
		enqueue(t, st, acc, time.Now(), fmt.Sprintf("m%d", i), "bob@remote.test")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	sk := startSink(t, nil, false)
	var mu sync.Mutex
	var current *proc
	var stderr bytes.Buffer
	start := func(ahead time.Duration) *proc {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "XTRAMAIL_QUEUE_CHILD="+dir, "XTRAMAIL_QUEUE_RELAY_PORT="+strconv.Itoa(sk.port),
			"XTRAMAIL_QUEUE_CLOCK_AHEAD="+ahead.String())
		cmd.Stderr = &lockedWriter{mu: &mu, w: &stderr}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: cmd, dead: make(chan struct{})}
		go func() { p.err = cmd.Wait(); close(p.dead) }()
		mu.Lock()
		current = p
		mu.Unlock()
		return p
	}
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}
	datas := 0
	killed := make(chan struct{})
	var killing atomic.Bool
	sk.set(func() {
		sk.dataHook = func([]byte) error {
			sk.mu.Lock()
			datas++
			n := datas
			sk.mu.Unlock()
			if n != killAt {
				return nil
			}
			mu.Lock()
			p := current
			mu.Unlock()
			killing.Store(true)
			p.cmd.Process.Kill()
			<-p.dead
			close(killed)
			return &smtp.SMTPError{Code: 421, Message: "gone"}
		}
	})

	first := start(0)
	select {
	case <-killed:
	case <-first.dead:
		if killing.Load() {
			<-killed
			break
		}
		t.Fatalf("worker exited before the kill: %v\n%s", first.err, logs())
	case <-time.After(2 * time.Minute):
		first.cmd.Process.Kill()
		t.Fatalf("the worker never reached message %d\n%s", killAt, logs())
	}
	if got := len(sk.received()); got != killAt-1 {
		t.Fatalf("%d messages acknowledged before the kill, want %d", got, killAt-1)
	}

	// The restarted worker's clock is past the first one's leases.
	second := start(childLease + time.Minute)
	select {
	case <-second.dead:
		if second.err != nil {
			t.Fatalf("restarted worker: %v\n%s", second.err, logs())
		}
	case <-time.After(3 * time.Minute):
		second.cmd.Process.Kill()
		t.Fatalf("restarted worker did not empty the queue\n%s", logs())
	}
	counts := map[string]int{}
	for _, m := range sk.received() {
		id := msgIDRe.FindSubmatch(m.data)
		if id == nil {
			t.Fatalf("message without our Message-ID:\n%s", m.data)
		}
		counts[string(id[1])]++
	}
	for i := 1; i <= total; i++ {
		if n := counts[fmt.Sprintf("m%d", i)]; n != 1 {
			t.Errorf("m%d reached the relay %d times, want once", i, n)
		}
	}
	st = openStore(t, dir)
	defer st.Close()
	if n := len(events(t, st, msglog.Delivered)); n != total {
		t.Errorf("%d delivered events, want %d", n, total)
	}
}

// proc is a child worker process; dead closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	dead chan struct{}
	err  error
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
