package queue

import (
	"context"
	"sync"
	"time"
)

// pool keeps SMTP sessions that finished their messages open for a short
// while, so that the next messages to the same host (the relay above all)
// go over them without a new TCP connection, TLS handshake, EHLO and AUTH
// (RFC 5321 4.5.3.2.7 lets a client hold a session idle for minutes;
// Postfix reuses them for 2 s by default). Run keeps it across passes;
// RunOnce closes what it opened.
type pool struct {
	idle time.Duration

	mu    sync.Mutex
	conns map[string][]*pooled
}

type pooled struct {
	c     *conn
	timer *time.Timer // closes the idle session
}

// A session is only ever kept under one key, its target's, in one pool:
// its pooled entry and timer are made once and reused each time it is
// put back.

func newPool(idle time.Duration) *pool {
	return &pool{idle: idle, conns: map[string][]*pooled{}}
}

// key names the sessions that can serve a target: the same host, port and
// TLS requirements (an MTA-STS policy included).
func (t target) key() string {
	if t.k != "" {
		return t.k
	}
	k := t.host + "|" + addr("", t.port) + "|" + t.tlsMode
	if t.implicit {
		k += "|implicit"
	}
	if t.sts != nil {
		k += "|sts:" + string(t.sts.Mode)
	}
	return k
}

// get returns an idle session for the key that still answers (RSET)
// and sent nothing unasked (replyConn.quiet), or nil.
func (p *pool) get(ctx context.Context, key string) *conn {
	for {
		p.mu.Lock()
		l := p.conns[key]
		if len(l) == 0 {
			p.mu.Unlock()
			return nil
		}
		pc := l[len(l)-1]
		p.conns[key] = l[:len(l)-1]
		p.mu.Unlock()
		if !pc.timer.Stop() {
			continue // the timer closed it already
		}
		if ctx.Err() != nil {
			pc.c.abort()
			continue
		}
		if pc.c.rc.quiet() != nil {
			// The server sent something while the session was idle
			// (a stray reply after its last one): out of step, it
			// would have the next message's commands take it for
			// their replies.
			pc.c.abort()
			continue
		}
		if pc.c.wire != nil {
			// Its next transaction starts with RSET, pipelined with the
			// rest: a session that died meanwhile is found then, and the
			// message tried on a new one (errStale).
			pc.c.rset = true
			return pc.c
		}
		// The server may have closed it meanwhile (its idle timeout):
		// find out before a message is tried on it.
		if pc.c.c.Reset() == nil && pc.c.rc.quiet() == nil {
			return pc.c
		}
		pc.c.abort()
	}
}

// put keeps a session for reuse; it is closed (QUIT) after the idle time.
func (p *pool) put(key string, c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := c.pooled
	if pc == nil {
		pc = &pooled{c: c}
		pc.timer = time.AfterFunc(p.idle, func() {
			p.mu.Lock()
			l := p.conns[key]
			for i, x := range l {
				if x == pc {
					p.conns[key] = append(l[:i:i], l[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
			c.close()
		})
		c.pooled = pc
	} else {
		// get stopped it before handing the session out.
		pc.timer.Reset(p.idle)
	}
	p.conns[key] = append(p.conns[key], pc)
}

// closeAll closes every idle session.
func (p *pool) closeAll() {
	p.mu.Lock()
	var all []*pooled
	for k, l := range p.conns {
		all = append(all, l...)
		delete(p.conns, k)
	}
	p.mu.Unlock()
	for _, pc := range all {
		if pc.timer.Stop() {
			pc.c.close()
		}
	}
}
