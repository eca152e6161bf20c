package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

func captureMode(args []string) error {
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	addr := fs.String("addr", "", "capture listener to load; empty starts one in a temporary directory")
	to := fs.String("to", "bench@bench.test", "recipient (must be protected on the server)")
	from := fs.String("from", "sender@outside.test", "envelope sender")
	conns := fs.Int("conns", 8, "concurrent SMTP connections")
	size := fs.Int("size", 10*1024, "message size in bytes")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	maxMsgs := fs.Int("count", 0, "stop after this many messages (0: no limit)")
	pipelining := fs.Bool("pipelining", true, "send MAIL, RCPT and DATA in one write (RFC 2920), as MTAs do")
	embedded := embeddedServerFlags(fs)
	fs.Parse(args)

	var srv *child
	if *addr == "" {
		var err error
		srv, err = embedded.spawn(0)
		if err != nil {
			return err
		}
		defer srv.stop()
		*addr = srv.addrs["capture"]
		*to = "bench@" + benchDomain
	}

	body := makeMessage(*size)
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			var c sender
			var err error
			if *pipelining {
				c, err = dialPipelined(*addr)
			} else {
				c, err = dialClient(*addr)
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer c.Close()
			for ctx.Err() == nil {
				if *maxMsgs > 0 && sent.Load()+failed.Load() >= int64(*maxMsgs) {
					return
				}
				t0 := time.Now()
				if err := c.Send(*from, *to, messageID(), body); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					return
				}
				sent.Add(1)
				mine = append(mine, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("capture: %d messages of %d bytes over %d connections in %s\n", sent.Load(), *size, *conns, elapsed.Round(time.Millisecond))
	fmt.Printf("  %.0f messages/s stored durably, %.1f MB/s\n", float64(sent.Load())/elapsed.Seconds(), float64(sent.Load())*float64(*size)/elapsed.Seconds()/1e6)
	fmt.Printf("  latency %s\n", percentiles(lat))
	fmt.Printf("  errors %d\n", failed.Load())
	if srv != nil {
		// The high-water mark of the server process's resident memory:
		// what bounded memory per connection is judged by (issue 12).
		if hwm, err := peakRSS(srv.cmd.Process.Pid); err == nil {
			fmt.Printf("  server peak RSS %.0f MB\n", float64(hwm)/1e6)
		}
	}
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error: %v\n", e)
	}
	return nil
}

// sender sends one message per call on an open SMTP session.
type sender interface {
	Send(from, to, msgID string, body []byte) error
	Close() error
}

func messageID() string {
	var id [8]byte
	rand.Read(id[:])
	return hex.EncodeToString(id[:]) + "@bench.local"
}

// client sends with go-smtp's client: one round trip per command.
type client struct{ c *smtp.Client }

func dialClient(addr string) (*client, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello("bench.local"); err != nil {
		c.Close()
		return nil, err
	}
	return &client{c}, nil
}

func (c *client) Send(from, to, msgID string, body []byte) error {
	return c.c.SendMail(from, []string{to}, io.MultiReader(strings.NewReader("Message-ID: <"+msgID+">\r\n"), bytes.NewReader(body)))
}

func (c *client) Close() error { c.c.Quit(); return c.c.Close() }

// pipelined speaks SMTP as Postfix does with PIPELINING: MAIL, RCPT and
// DATA in one write, then the message.
type pipelined struct {
	conn net.Conn
	tp   *textproto.Conn
}

func dialPipelined(addr string) (*pipelined, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &pipelined{conn: conn, tp: textproto.NewConn(conn)}
	if _, _, err := p.tp.ReadResponse(220); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := p.tp.Cmd("EHLO bench.local"); err != nil {
		conn.Close()
		return nil, err
	}
	if _, msg, err := p.tp.ReadResponse(250); err != nil || !strings.Contains(msg, "PIPELINING") {
		conn.Close()
		return nil, fmt.Errorf("EHLO: no PIPELINING (%v)", err)
	}
	return p, nil
}

func (p *pipelined) Send(from, to, msgID string, body []byte) error {
	if _, err := fmt.Fprintf(p.tp.W, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, to); err != nil {
		return err
	}
	if err := p.tp.W.Flush(); err != nil {
		return err
	}
	for _, code := range []int{250, 250, 354} {
		if _, _, err := p.tp.ReadResponse(code); err != nil {
			return err
		}
	}
	dw := p.tp.DotWriter()
	fmt.Fprintf(dw, "Message-ID: <%s>\r\n", msgID)
	dw.Write(body)
	if err := dw.Close(); err != nil {
		return err
	}
	_, _, err := p.tp.ReadResponse(250)
	return err
}

func (p *pipelined) Close() error {
	p.tp.Cmd("QUIT")
	return p.conn.Close()
}

// makeMessage builds a plain text message of about size bytes.
func makeMessage(size int) []byte {
	var b strings.Builder
	b.WriteString("From: Bench <sender@outside.test>\r\nTo: bench@bench.test\r\nSubject: load test message\r\n" +
		"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	words := []string{"continuity", "mailbox", "outage", "message", "retention", "capture", "office", "report"}
	for i := 0; b.Len() < size-2; i++ {
		b.WriteString(words[i%len(words)])
		if i%10 == 9 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}
