package imapserver_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"compress/flate"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/imapserver"
)

// enableDeflate switches the raw client to deflate after COMPRESS's OK.
func enableDeflate(c *conn) {
	fw, _ := flate.NewWriter(c.c, flate.BestSpeed)
	var rest io.Reader = c.c
	if n := c.r.Buffered(); n > 0 {
		b, _ := c.r.Peek(n)
		rest = io.MultiReader(strings.NewReader(string(b)), c.c)
	}
	fc := &flateConn{Conn: c.c, r: flate.NewReader(rest), fw: fw}
	c.c, c.r = fc, bufio.NewReader(fc)
}

// lockedBuffer is a log destination that sessions write concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestObservabilityLogAndMetrics guards issue 11 part 8: connections are
// logged at info (open, sign-in, close with duration and counts),
// protocol errors at warn, the transcript at debug without the password,
// and the metrics on the registry passed in count sessions, commands by
// name and result, latency, IDLE, bytes and compression.
func TestObservabilityLogAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.stop()
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	srv := imapserver.New(imapserver.Config{TLS: e.tlsCfg, Metrics: imapserver.NewMetrics(reg)}, e.st,
		auth.NewAuthenticator(lookup(e.st), auth.Options{}), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	e.srv, e.addr = srv, ln.Addr().String()
	t.Cleanup(e.stop)
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()
	scrape := func() string {
		resp, err := http.Get(metrics.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	c := e.login()
	c.ok("SELECT INBOX")
	c.want("FETCH 99 (FLAGS", "BAD")
	c.want("SELECT Nope", "NO")
	c.send("i1 IDLE")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	m := scrape()
	for _, want := range []string{
		"xtramail_imap_sessions 1",
		"xtramail_imap_idle_sessions 1",
		`xtramail_imap_commands_total{command="LOGIN",result="ok"} 1`,
		`xtramail_imap_commands_total{command="SELECT",result="ok"} 1`,
		`xtramail_imap_commands_total{command="SELECT",result="no"} 1`,
		`xtramail_imap_commands_total{command="",result="bad"} 1`,
		`xtramail_imap_command_seconds_count{command="SELECT"} 2`,
		`xtramail_imap_bytes_total{direction="in"}`,
		`xtramail_imap_bytes_total{direction="out"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	c.send("DONE")
	c.until("i1")
	// COMPRESS: both sides of deflate are counted.
	c.ok("COMPRESS DEFLATE")
	enableDeflate(c)
	c.ok(`LIST "" "*"`)
	c.ok("LOGOUT")
	c.c.Close()
	e.stop()

	m = scrape()
	for _, want := range []string{"xtramail_imap_sessions 0", "xtramail_imap_idle_sessions 0",
		`xtramail_imap_compress_bytes_total{stage="compressed"}`, `xtramail_imap_compress_bytes_total{stage="uncompressed"}`,
		`xtramail_imap_commands_total{command="LOGOUT",result="ok"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	log := logs.String()
	for _, want := range []string{
		`level=INFO msg="IMAP connection opened"`,
		`level=INFO msg="IMAP sign-in" cid=1`,
		`account=` + testUser,
		`level=WARN msg="IMAP protocol error"`,
		`level=DEBUG msg="IMAP command"`,
		`LOGIN ` + testUser + ` <redacted>`,
		`level=INFO msg="IMAP connection closed"`,
		`commands=`,
		`duration=`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, testPassword) {
		t.Errorf("the password is in the log")
	}
}
